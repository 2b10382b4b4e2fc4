"""The vault: credentials encrypted at rest under a master key, key loading, rotation, masking."""

from vault.errors import (
    CredentialExistsError,
    CredentialNotFoundError,
    DecryptError,
    MasterKeyError,
    VaultError,
)
from vault.keys import Keyring, generate_key, key_id, load_keyring
from vault.masking import mask
from vault.rotation import RotationResult, rotate_master_key
from vault.store import CredentialInfo, Secret, Vault

__all__ = [
    "CredentialExistsError",
    "CredentialInfo",
    "CredentialNotFoundError",
    "DecryptError",
    "Keyring",
    "MasterKeyError",
    "RotationResult",
    "Secret",
    "Vault",
    "VaultError",
    "generate_key",
    "key_id",
    "load_keyring",
    "mask",
    "rotate_master_key",
]
