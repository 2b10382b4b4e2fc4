"""`invsync vault rotate-key`: every credential re-encrypted under a new key, crash-safely."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from inventory.db import transaction
from inventory.settings import Settings
from vault.errors import MasterKeyError, VaultError
from vault.keys import Keyring, generate_key, load_keyring, write_key_file
from vault.store import Vault

log = logging.getLogger(__name__)

ENV_HOLDS_ONE_KEY = (
    'INVSYNC_MASTER_KEY holds one key: set it to "NEW,OLD" (a new key from '
    "`invsync vault generate-key`, then the current one) and run `invsync vault rotate-key`"
)


@dataclass(frozen=True)
class RotationResult:
    """What a rotation did, safe to print: a count and key ids, never a key."""

    count: int
    key_id: str
    retired_key_ids: tuple[str, ...]
    source: Literal["env", "file"]

    @property
    def message(self) -> str:
        """One line for the operator: what happened and what, if anything, is left to do."""
        done = f"re-encrypted {self.count} credential(s) under key id {self.key_id}"
        if self.source == "file":
            return f"{done}; the key file now holds that key only"
        retired = ", ".join(self.retired_key_ids)
        return (
            f"{done}; set INVSYNC_MASTER_KEY to its first key alone (key id(s) {retired} retired)"
        )

    def __str__(self) -> str:
        return self.message


def rotate_master_key(
    settings: Settings, session_factory: sessionmaker[Session], *, new_key: str | None = None
) -> RotationResult:
    """Re-encrypt every credential under a new master key, and retire the old key(s).

    With a key file, `new_key` (random by default) becomes the key; with INVSYNC_MASTER_KEY,
    the variable's first key does, and `new_key` is not used.
    """
    keyring = load_keyring(settings)
    if settings.master_key:
        result = _rotate_env(keyring, session_factory)
    else:
        result = _rotate_file(
            settings.key_file, keyring, session_factory, new_key or generate_key()
        )
    log.info("%s", result.message)
    return result


def _rotate_env(keyring: Keyring, session_factory: sessionmaker[Session]) -> RotationResult:
    """With INVSYNC_MASTER_KEY="NEW,OLD": re-encrypt under NEW; the operator then drops OLD."""
    if len(keyring.key_ids) < 2:
        raise MasterKeyError(ENV_HOLDS_ONE_KEY)
    count = _reencrypt(keyring, session_factory)
    retired = tuple(k for k in keyring.key_ids[1:] if k != keyring.current_key_id)
    return RotationResult(count, keyring.current_key_id, retired, "env")


def _rotate_file(
    path: Path, old: Keyring, session_factory: sessionmaker[Session], new_key: str
) -> RotationResult:
    """Three steps, each safe to crash after: NEW+OLD on disk, data under NEW, NEW alone on disk."""
    staged = old.with_new_key(new_key)
    write_key_file(path, staged)
    count = _reencrypt(staged, session_factory)
    write_key_file(path, staged.current())
    return RotationResult(count, staged.current_key_id, old.key_ids, "file")


def _reencrypt(keyring: Keyring, session_factory: sessionmaker[Session]) -> int:
    """Re-encrypt all under the current key in one transaction, then prove the old keys unneeded."""
    with transaction(session_factory) as session:
        count = Vault(session, keyring).rotate(keyring.current())
    with session_factory() as session:
        missed = Vault(session, keyring.current()).unreadable()
    if missed:
        raise VaultError(
            f"credential(s) {', '.join(missed)} were saved under an old key during the rotation, "
            "so the old key is kept: run `invsync vault rotate-key` again"
        )
    return count
