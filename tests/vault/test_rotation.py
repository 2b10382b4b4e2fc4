"""`invsync vault rotate-key`: key file and env variable cases, and crashes at every step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from inventory.settings import Settings
from vault import (
    DecryptError,
    Keyring,
    MasterKeyError,
    Secret,
    Vault,
    VaultError,
    generate_key,
    key_id,
    load_keyring,
    rotate_master_key,
)
from vault import rotation as rotation_module

from .conftest import API_KEY, PASSWORD, key_file_lines

NAMES = ("lever", "lever-sandbox", "other")


class Crash(Exception):
    """Stands in for the process dying at a given step."""


def fill(session_factory: sessionmaker[Session], keyring: Keyring) -> None:
    """Commit one credential per name under `keyring`."""
    with session_factory.begin() as session:
        for name in NAMES:
            Vault(session, keyring).add(name, f"{API_KEY}-{name}", PASSWORD)


def readable_by(session_factory: sessionmaker[Session], keyring: Keyring) -> bool:
    """Whether `keyring` decrypts the filled credentials, with the values they were stored with."""
    with session_factory() as session:
        vault = Vault(session, keyring)
        try:
            return all(vault.get(n) == Secret(f"{API_KEY}-{n}", PASSWORD) for n in NAMES)
        except DecryptError:
            return False


def test_key_file_rotation_retires_the_old_key(
    settings: Settings, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    fill(session_factory, keyring)
    new_key = generate_key()
    result = rotate_master_key(settings, session_factory, new_key=new_key)
    assert (result.count, result.key_id, result.source) == (3, key_id(new_key), "file")
    assert result.retired_key_ids == (keyring.current_key_id,)
    assert key_file_lines(settings) == [new_key]
    assert readable_by(session_factory, Keyring([new_key]))
    assert readable_by(session_factory, load_keyring(settings))
    assert not readable_by(session_factory, keyring)
    with session_factory() as session, pytest.raises(DecryptError):
        Vault(session, keyring).get("lever")


def test_key_file_rotation_makes_a_fresh_key_by_default(
    settings: Settings, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    fill(session_factory, keyring)
    result = rotate_master_key(settings, session_factory)
    assert result.key_id not in keyring.key_ids
    assert load_keyring(settings).key_ids == (result.key_id,)
    assert (
        str(result)
        == result.message
        == (
            f"re-encrypted 3 credential(s) under key id {result.key_id}; "
            "the key file now holds that key only"
        )
    )


def test_rotation_of_an_empty_vault(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    assert rotate_master_key(settings, session_factory).count == 0
    assert len(key_file_lines(settings)) == 1


def test_env_with_one_key_is_refused(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    key = generate_key()
    fill(session_factory, Keyring([key]))
    with pytest.raises(MasterKeyError) as caught:
        rotate_master_key(replace(settings, master_key=key), session_factory)
    message = str(caught.value)
    assert message.startswith('INVSYNC_MASTER_KEY holds one key: set it to "NEW,OLD"')
    assert "\n" not in message and key not in message
    assert caught.value.exit_code == 2
    assert readable_by(session_factory, Keyring([key]))
    assert not settings.key_file.exists()


def test_env_with_new_and_old_re_encrypts_under_new(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    old, new = generate_key(), generate_key()
    fill(session_factory, Keyring([old]))
    result = rotate_master_key(replace(settings, master_key=f"{new},{old}"), session_factory)
    assert (result.count, result.key_id, result.source) == (3, key_id(new), "env")
    assert result.retired_key_ids == (key_id(old),)
    assert result.message == (
        f"re-encrypted 3 credential(s) under key id {key_id(new)}; "
        f"set INVSYNC_MASTER_KEY to its first key alone (key id(s) {key_id(old)} retired)"
    )
    assert readable_by(session_factory, load_keyring(replace(settings, master_key=new)))
    assert not readable_by(session_factory, Keyring([old]))
    assert not settings.key_file.exists()


def crash_before_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Die after the key file holds NEW and OLD, before the re-encryption commits."""

    def rotate(self: Vault, new_keyring: Keyring) -> int:
        raise Crash

    monkeypatch.setattr(Vault, "rotate", rotate)


def crash_before_final_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Die after the re-encryption commits, before the key file is cut down to NEW."""
    writes: list[object] = []
    write = rotation_module.write_key_file

    def write_once(*args: object) -> None:
        if writes:
            raise Crash
        writes.append(args)
        write(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rotation_module, "write_key_file", write_once)


@pytest.mark.parametrize("crash", [crash_before_commit, crash_before_final_write])
def test_a_crash_mid_rotation_loses_nothing(
    settings: Settings,
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    monkeypatch: pytest.MonkeyPatch,
    crash: Callable[[pytest.MonkeyPatch], None],
) -> None:
    fill(session_factory, keyring)
    new_key = generate_key()
    with monkeypatch.context() as patch:
        crash(patch)
        with pytest.raises(Crash):
            rotate_master_key(settings, session_factory, new_key=new_key)
    assert key_file_lines(settings)[0] == new_key
    assert load_keyring(settings).key_ids == (key_id(new_key), keyring.current_key_id)
    assert readable_by(session_factory, load_keyring(settings))
    result = rotate_master_key(settings, session_factory)
    assert load_keyring(settings).key_ids == (result.key_id,)
    assert readable_by(session_factory, load_keyring(settings))


def test_an_undecryptable_credential_stops_the_rotation(
    settings: Settings, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    fill(session_factory, keyring)
    with session_factory.begin() as session:
        Vault(session, Keyring([generate_key()])).add("foreign", API_KEY)
    with pytest.raises(DecryptError, match="'foreign'"):
        rotate_master_key(settings, session_factory)
    assert keyring.current_key_id in load_keyring(settings).key_ids
    assert readable_by(session_factory, keyring)
    assert readable_by(session_factory, load_keyring(settings))


def test_a_credential_saved_under_the_old_key_meanwhile_keeps_the_old_key(
    settings: Settings,
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(session_factory, keyring)
    rotate = Vault.rotate

    def rotate_while_another_process_adds(self: Vault, new_keyring: Keyring) -> int:
        count = rotate(self, new_keyring)
        Vault(self._session, keyring).add("late", API_KEY, PASSWORD)
        return count

    monkeypatch.setattr(Vault, "rotate", rotate_while_another_process_adds)
    with pytest.raises(VaultError, match=r"credential\(s\) late were saved under an old key"):
        rotate_master_key(settings, session_factory)
    with session_factory() as session:
        assert Vault(session, load_keyring(settings)).get("late").password == PASSWORD


def test_an_invalid_new_key_is_refused_before_anything_changes(
    settings: Settings, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    fill(session_factory, keyring)
    with pytest.raises(MasterKeyError, match="is not a valid Fernet key"):
        rotate_master_key(settings, session_factory, new_key="bad")
    assert load_keyring(settings).key_ids == keyring.key_ids
