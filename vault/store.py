"""The vault service: credentials encrypted at rest; plaintext leaves only as a Secret in memory."""

from __future__ import annotations

import builtins
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory.errors import ConfigError
from inventory.models import Credential
from inventory.timeutil import iso, utcnow
from vault.errors import CredentialExistsError, CredentialNotFoundError, DecryptError
from vault.keys import Keyring
from vault.masking import mask

log = logging.getLogger(__name__)

KINDS = ("basic", "bearer")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


@dataclass(frozen=True)
class Secret:
    """A decrypted credential, for the code that sends it; its repr shows only a masked username."""

    username: str = field(repr=False)
    password: str = field(repr=False)
    kind: str = "basic"

    def __repr__(self) -> str:
        return f"Secret(kind={self.kind!r}, username={mask(self.username)!r})"


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: never its secret, only a masked username."""

    name: str
    kind: str
    hint: str
    key_id: str | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of `invsync vault list --format json`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "username_hint": self.hint,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class Vault:
    """Credentials in the caller's session; it flushes but never commits."""

    def __init__(
        self, session: Session, keyring: Keyring, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._session = session
        self._keyring = keyring
        self._clock = clock

    def add(
        self,
        name: str,
        username: str,
        password: str = "",
        kind: str = "basic",
        replace: bool = False,
    ) -> CredentialInfo:
        """Store a credential; an existing name is an error unless `replace` is true."""
        _check(name, username, kind)
        row = self._find(name)
        if row is not None and not replace:
            raise CredentialExistsError(name)
        now = self._clock()
        if row is None:
            row = Credential(name=name, created_at=now)
            self._session.add(row)
        row.kind, row.hint, row.updated_at = kind, mask(username), now
        row.secret = _seal(self._keyring, {"username": username, "password": password})
        self._flush(name)
        log.info("stored credential %r (key id %s)", name, self._keyring.current_key_id)
        return _info(row)

    def get(self, name: str) -> Secret:
        """The decrypted credential; DecryptError if the master key does not match."""
        row = self._row(name)
        data = _open(self._keyring, row)
        return Secret(username=data["username"], password=data["password"], kind=row.kind)

    def info(self, name: str) -> CredentialInfo:
        """What may be shown about one credential."""
        return _info(self._row(name))

    def list(self) -> builtins.list[CredentialInfo]:
        """What may be shown about every credential, by name."""
        rows = self._session.scalars(select(Credential).order_by(Credential.name))
        return [_info(row) for row in rows]

    def delete(self, name: str) -> None:
        """Remove a credential."""
        self._session.delete(self._row(name))
        self._session.flush()
        log.info("deleted credential %r", name)

    def rotate(self, new_keyring: Keyring) -> int:
        """Re-encrypt every credential under `new_keyring`'s current key; returns how many."""
        rows = self._session.scalars(select(Credential)).all()
        for row in rows:
            row.secret = _seal(new_keyring, _open(self._keyring, row))
        self._session.flush()
        log.info(
            "re-encrypted %d credential(s) under key id %s", len(rows), new_keyring.current_key_id
        )
        return len(rows)

    def unreadable(self) -> builtins.list[str]:
        """Names of the credentials this vault's keys cannot decrypt."""
        rows = self._session.scalars(select(Credential).order_by(Credential.name))
        return [row.name for row in rows if not _readable(self._keyring, row)]

    def _find(self, name: str) -> Credential | None:
        """The row for `name`, if any."""
        return self._session.scalars(select(Credential).filter_by(name=name)).one_or_none()

    def _row(self, name: str) -> Credential:
        """The row for `name`, or CredentialNotFoundError."""
        row = self._find(name)
        if row is None:
            raise CredentialNotFoundError(name)
        return row

    def _flush(self, name: str) -> None:
        """Write pending changes, so a name taken concurrently fails here, as a clear error."""
        try:
            self._session.flush()
        except IntegrityError:
            raise CredentialExistsError(name) from None


def _check(name: str, username: str, kind: str) -> None:
    """Refuse a malformed name, an unknown kind or an empty username, without echoing secrets."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid credential name {name!r}: use 1-100 letters, digits, '-', '_' or '.'"
        )
    if kind not in KINDS:
        raise ConfigError(f"unknown credential kind {kind!r}: use one of {', '.join(KINDS)}")
    if not username.strip():
        raise ConfigError(f"credential {name!r} needs a username (for Lever, the API key)")


def _seal(keyring: Keyring, data: dict[str, str]) -> str:
    """Stored form: the key id in clear (to show and audit), a colon, then the Fernet token."""
    return f"{keyring.current_key_id}:{keyring.encrypt(json.dumps(data).encode('utf-8'))}"


def _open(keyring: Keyring, row: Credential) -> dict[str, str]:
    """The plaintext of a row; any failure is the same DecryptError, with nothing of the data."""
    try:
        data = json.loads(keyring.decrypt(row.secret.rpartition(":")[2]))
        return {"username": data["username"], "password": data["password"]}
    except (InvalidToken, ValueError, KeyError, TypeError):
        pass  # raised below, outside this block, so the error keeps no trace of the data
    raise DecryptError(row.name)


def _readable(keyring: Keyring, row: Credential) -> bool:
    """Whether `keyring` decrypts the row."""
    try:
        _open(keyring, row)
    except DecryptError:
        return False
    return True


def _info(row: Credential) -> CredentialInfo:
    """The displayable facts of a row."""
    key = row.secret.rpartition(":")[0]
    return CredentialInfo(row.name, row.kind, row.hint, key or None, row.created_at, row.updated_at)
