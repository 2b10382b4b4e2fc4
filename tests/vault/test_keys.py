"""Master keys: the env variable, the key file made privately on first use, validation up front."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from inventory.errors import ConfigError
from inventory.settings import Settings
from vault import Keyring, MasterKeyError, generate_key, key_id, load_keyring
from vault import keys as keys_module
from vault.keys import write_key_file

from .conftest import key_file_lines

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_key_file_is_made_private_on_first_use(settings: Settings) -> None:
    assert not settings.home.exists()
    keyring = load_keyring(settings)
    assert mode(settings.key_file) == 0o600
    assert [key_id(k) for k in key_file_lines(settings)] == [keyring.current_key_id]
    assert os.listdir(settings.home) == ["master.key"]


def test_key_file_is_reused(settings: Settings) -> None:
    token = load_keyring(settings).encrypt(b"data")
    assert load_keyring(settings).decrypt(token) == b"data"
    assert len(key_file_lines(settings)) == 1


def test_another_process_making_the_file_first_wins(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = generate_key()

    def racing_generate() -> str:
        write_key_file(settings.key_file, Keyring([winner]))
        return generate_key()

    monkeypatch.setattr(keys_module, "generate_key", racing_generate)
    assert load_keyring(settings).key_ids == (key_id(winner),)
    assert key_file_lines(settings) == [winner]
    assert os.listdir(settings.home) == ["master.key"]


def test_env_key_is_used_and_no_file_is_made(settings: Settings) -> None:
    key = generate_key()
    keyring = load_keyring(replace(settings, master_key=key))
    assert keyring.key_ids == (key_id(key),)
    assert not settings.key_file.exists()


def test_env_list_encrypts_with_the_first_and_decrypts_with_all(settings: Settings) -> None:
    new, old = generate_key(), generate_key()
    token = Keyring([old]).encrypt(b"old data")
    keyring = load_keyring(replace(settings, master_key=f" {new} , {old} "))
    assert keyring.decrypt(token) == b"old data"
    assert Keyring([new]).decrypt(keyring.encrypt(b"new")) == b"new"


# A valid key fixed in the source, so the parametrized test ids are the same in every process.
GOOD = base64.urlsafe_b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("not-a-key", "INVSYNC_MASTER_KEY is not a valid"),
        (GOOD[:-4], "INVSYNC_MASTER_KEY is not a valid"),
        ("x" * 44, "INVSYNC_MASTER_KEY is not a valid"),
        (f"{GOOD},nope", "INVSYNC_MASTER_KEY (key 2 of 2) is not a valid"),
        (f"nope,{GOOD}", "INVSYNC_MASTER_KEY (key 1 of 2) is not a valid"),
        (f"{GOOD},", "INVSYNC_MASTER_KEY (key 2 of 2) is not a valid"),
        ("clé-non-ascii", "INVSYNC_MASTER_KEY is not a valid"),
    ],
)
def test_malformed_env_key_is_one_line_naming_the_fix(
    settings: Settings, value: str, names: str
) -> None:
    with pytest.raises(MasterKeyError) as caught:
        load_keyring(replace(settings, master_key=value))
    message = str(caught.value)
    assert message.startswith(names)
    assert "\n" not in message
    assert "correct the value" in message
    assert all(part not in message for part in value.split(",") if part)
    assert isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "holds no key"),
        (b"\n  \n", "holds no key"),
        (b"garbage\n", "is not a valid Fernet key"),
        (f"{GOOD}\ngarbage\n".encode(), "(key 2 of 2) is not a valid Fernet key"),
        ("clé\n".encode(), "is not a valid Fernet key"),
        (b"\xff\xfe\x00\n", "is not a valid Fernet key"),
    ],
)
def test_malformed_key_file_names_the_file_and_the_fix(
    settings: Settings, content: bytes, expected: str
) -> None:
    settings.home.mkdir()
    fd = os.open(settings.key_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(MasterKeyError) as caught:
        load_keyring(settings)
    message = str(caught.value)
    assert str(settings.key_file) in message
    assert expected in message
    assert "restore the file from a backup" in message
    assert "\n" not in message
    assert GOOD not in message


@posix_only
@pytest.mark.parametrize("too_open", [0o644, 0o640, 0o604, 0o620, 0o602, 0o666])
def test_key_file_open_to_others_is_refused(settings: Settings, too_open: int) -> None:
    load_keyring(settings)
    settings.key_file.chmod(too_open)
    with pytest.raises(MasterKeyError) as caught:
        load_keyring(settings)
    assert str(caught.value) == (
        f"{settings.key_file} is open to other users (mode {too_open:04o}): "
        f"run `chmod 600 {settings.key_file}`"
    )


@posix_only
@pytest.mark.parametrize("owner_only", [0o400, 0o600, 0o700])
def test_key_file_for_its_owner_alone_is_accepted(settings: Settings, owner_only: int) -> None:
    keyring = load_keyring(settings)
    settings.key_file.chmod(owner_only)
    assert load_keyring(settings).key_ids == keyring.key_ids


def key_file_is_a_folder(home: Path) -> None:
    (home / "master.key").mkdir(parents=True)


def home_is_a_file(home: Path) -> None:
    home.write_text("not a folder")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [(key_file_is_a_folder, "cannot read"), (home_is_a_file, "cannot write")],
)
def test_unusable_key_file_is_a_master_key_error(
    settings: Settings, setup: Callable[[Path], None], expected: str
) -> None:
    setup(settings.home)
    with pytest.raises(MasterKeyError, match=expected) as caught:
        load_keyring(settings)
    assert str(settings.key_file) in str(caught.value)


@posix_only
def test_write_key_file_replaces_atomically_and_privately(settings: Settings) -> None:
    load_keyring(settings)
    keys = [generate_key(), generate_key()]
    write_key_file(settings.key_file, Keyring(keys))
    assert key_file_lines(settings) == keys
    assert mode(settings.key_file) == 0o600
    assert os.listdir(settings.home) == ["master.key"]


def test_key_id_is_8_hex_digits_and_stable() -> None:
    key = generate_key()
    assert len(key_id(key)) == 8
    assert int(key_id(key), 16) >= 0
    assert key_id(key) == key_id(key) != key_id(generate_key())


def test_keyring_shows_key_ids_never_keys() -> None:
    keys = [generate_key(), generate_key()]
    keyring = Keyring(keys)
    assert repr(keyring) == f"Keyring(key_ids={tuple(key_id(k) for k in keys)!r})"
    assert not any(k in repr(keyring) or k in str(keyring) for k in keys)


def test_keyring_current_keeps_only_the_first_key() -> None:
    keys = [generate_key(), generate_key()]
    assert Keyring(keys).current().key_ids == (key_id(keys[0]),)
    assert Keyring(keys[1:]).with_new_key(keys[0]).key_ids == Keyring(keys).key_ids
