"""Errors of the vault; no message ever holds a key, a password or a username.

InvsyncError
 ├── VaultError                      root of the vault's errors
 │    ├── DecryptError               wrong master key or tampered ciphertext: one opaque message
 │    ├── MasterKeyError             also a ConfigError: a master key is malformed, missing,
 │    │                              unreadable, or its key file is open to other users
 │    ├── CredentialNotFoundError    also a NotFoundError
 │    └── CredentialExistsError      also an AlreadyExistsError
 └── ConfigError                     (inventory) raised for a bad credential name, kind or username

A key file that group or other users may read or write is refused, as ssh refuses such a private
key: whoever reads master.key reads every credential.
"""

from __future__ import annotations

from inventory.errors import AlreadyExistsError, ConfigError, InvsyncError, NotFoundError


class VaultError(InvsyncError):
    """Root of every error the vault raises."""


class MasterKeyError(VaultError, ConfigError):
    """The master key cannot be used; the message names the fix, never the key."""


class DecryptError(VaultError):
    """A credential cannot be decrypted: the same message for a wrong key and tampered data."""

    exit_code = 2

    def __init__(self, name: str) -> None:
        super().__init__(
            f"cannot decrypt credential {name!r}: the master key does not match "
            "(was INVSYNC_MASTER_KEY or master.key changed?)"
        )


class CredentialNotFoundError(VaultError, NotFoundError):
    """No credential has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no credential named {name!r}: add it with `invsync vault add {name} --username KEY`"
        )


class CredentialExistsError(VaultError, AlreadyExistsError):
    """A credential with this name is already stored."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a credential named {name!r} already exists: add it with --replace to overwrite it"
        )
