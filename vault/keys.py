"""Master keys: loaded from INVSYNC_MASTER_KEY or the instance's key file, validated up front."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from inventory.settings import Settings
from vault.errors import MasterKeyError

log = logging.getLogger(__name__)

ENV_VAR = "INVSYNC_MASTER_KEY"
_ENV_FIX = "correct the value (comma-separated Fernet keys, newest first)"
_FILE_FIX = "restore the file from a backup, or set INVSYNC_MASTER_KEY"
_ANY_FIX = "check INVSYNC_MASTER_KEY or the master.key file"


def generate_key() -> str:
    """A new random master key (a Fernet key)."""
    return Fernet.generate_key().decode("ascii")


def key_id(key: str) -> str:
    """A short public name for a key, safe to display: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


class Keyring:
    """Master keys, newest first: the first one encrypts, any of them decrypts (MultiFernet)."""

    def __init__(
        self, keys: Sequence[str], *, source: str = "the master key", fix: str = _ANY_FIX
    ) -> None:
        if not keys:
            raise MasterKeyError(f"{source} holds no key: {fix}")
        labels = [f"{source} (key {n} of {len(keys)})" for n in range(1, len(keys) + 1)]
        labels = labels if len(keys) > 1 else [source]
        self._keys = tuple(keys)
        self._fernet = MultiFernet(
            [_fernet(k, lb, fix) for k, lb in zip(keys, labels, strict=True)]
        )
        self.key_ids = tuple(key_id(k) for k in keys)

    @property
    def current_key_id(self) -> str:
        """The id of the key new ciphertext is made with."""
        return self.key_ids[0]

    def encrypt(self, data: bytes) -> str:
        """A Fernet token for `data` under the current key."""
        return self._fernet.encrypt(data).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        """The data in a token made under any key; raises cryptography's InvalidToken otherwise."""
        return self._fernet.decrypt(token.encode("ascii"))

    def with_new_key(self, key: str) -> Keyring:
        """This keyring with `key` in front, so it encrypts under `key` and still reads the rest."""
        return Keyring([key, *self._keys])

    def current(self) -> Keyring:
        """A keyring of the current key alone, the state after the old keys are retired."""
        return Keyring(self._keys[:1])

    def __repr__(self) -> str:
        return f"Keyring(key_ids={self.key_ids!r})"


def _fernet(key: str, label: str, fix: str) -> Fernet:
    """A Fernet for `key`, or a MasterKeyError that names the bad key by position only."""
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        reason = "is not a valid Fernet key (32 url-safe base64-encoded bytes)"
        raise MasterKeyError(f"{label} {reason}: {fix}") from None


def load_keyring(settings: Settings) -> Keyring:
    """The instance's keyring: from INVSYNC_MASTER_KEY, else the key file, made on first use."""
    if settings.master_key:
        keys = [k.strip() for k in settings.master_key.split(",")]
        return Keyring(keys, source=ENV_VAR, fix=_ENV_FIX)
    if os.path.lexists(settings.key_file):
        return _read_key_file(settings.key_file)
    return _create_key_file(settings.key_file)


def _read_key_file(path: Path) -> Keyring:
    """The keys in a key file, one a line, current first; refused if others may read it."""
    try:
        with path.open("rb") as f:
            mode, data = os.fstat(f.fileno()).st_mode, f.read()
    except OSError as exc:
        raise MasterKeyError(f"cannot read {path}: {exc.strerror}: {_FILE_FIX}") from None
    _check_private(path, mode)
    lines = data.decode("ascii", errors="replace").splitlines()
    keys = [line.strip() for line in lines if line.strip()]
    return Keyring(keys, source=str(path), fix=_FILE_FIX)


def _check_private(path: Path, mode: int) -> None:
    """Refuse a key file that group or other users can read or write."""
    if os.name == "posix" and mode & 0o077:
        raise MasterKeyError(
            f"{path} is open to other users (mode {mode & 0o777:04o}): run `chmod 600 {path}`"
        )


def _create_key_file(path: Path) -> Keyring:
    """A new key in a new key file; if another process made the file first, use its key."""
    keyring = Keyring([generate_key()])
    if not _publish(path, keyring, os.link):
        return _read_key_file(path)
    log.info("created master key file %s (key id %s)", path, keyring.current_key_id)
    return keyring


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Atomically replace the key file with this keyring's keys, current first, mode 0600."""
    _publish(path, keyring, os.replace)
    log.info("wrote master key file %s (key ids %s)", path, ", ".join(keyring.key_ids))


def _publish(path: Path, keyring: Keyring, move: Callable[[Path, Path], None]) -> bool:
    """Write the keys to a private temporary file, then move it into place in one step.

    Returns False when `move` (os.link) refuses because the file exists already.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = _write_private(path, "".join(k + "\n" for k in keyring._keys))
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        move(tmp, path)
        _sync_dir(path.parent)
    except FileExistsError:
        return False
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _cannot_write(path: Path, exc: OSError) -> MasterKeyError:
    """The error for a key file that cannot be written."""
    return MasterKeyError(f"cannot write {path}: {exc.strerror}: {_FILE_FIX}")


def _write_private(path: Path, text: str) -> Path:
    """A new file next to `path`, owner-only from its first instant, holding `text` on disk."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _sync_dir(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
