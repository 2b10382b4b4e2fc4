"""Errors of the vault; no message ever holds a key, a password or a username.

InvsyncError
 ├── VaultError                      root of the vault's errors (exit 1, HTTP 500)
 │    ├── DecryptError               wrong master key or tampered ciphertext: one opaque message
 │    │                              (exit 2, 400)
 │    ├── MasterKeyError             also a ConfigError: a master key is malformed, missing,
 │    │                              unreadable, or its key file is open to other users
 │    │                              (exit 2, 400)
 │    ├── CredentialNotFoundError    also a NotFoundError (exit 2, 404)
 │    └── CredentialExistsError      also an AlreadyExistsError (exit 2, 409)
 └── ConfigError                     (inventory) raised for a bad credential name, kind or username

A key file that group or other users may read or write is refused, as ssh refuses such a private
key: whoever reads master.key reads every credential.
"""

from __future__ import annotations

from inventory.errors import (
    AlreadyExistsError,
    ConfigError,
    ExitCode,
    InvsyncError,
    NotFoundError,
)


class VaultError(InvsyncError):
    """Root of every error the vault raises."""

    exit_code = ExitCode.FAILED
    http_status = 500


class MasterKeyError(VaultError, ConfigError):
    """The master key cannot be used; the message names the fix, never the key."""

    exit_code = ExitCode.USAGE
    http_status = 400


class DecryptError(VaultError):
    """A credential cannot be decrypted: the same message for a wrong key and tampered data."""

    exit_code = ExitCode.USAGE
    http_status = 400

    def __init__(self, name: str) -> None:
        super().__init__(
            f"cannot decrypt credential {name!r}: the master key does not match "
            "(was INVSYNC_MASTER_KEY or master.key changed?)"
        )


class CredentialNotFoundError(VaultError, NotFoundError):
    """No credential has this name."""

    exit_code = ExitCode.USAGE
    http_status = 404

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no credential named {name!r}: add it with `invsync vault add {name} --username KEY`"
        )


class CredentialExistsError(VaultError, AlreadyExistsError):
    """A credential with this name is already stored."""

    exit_code = ExitCode.USAGE
    http_status = 409

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a credential named {name!r} already exists: add it with --replace to overwrite it"
        )
