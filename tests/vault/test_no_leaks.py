"""No username, password or master key ever reaches a log record, whatever the vault does."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from inventory.errors import InvsyncError
from inventory.settings import Settings
from vault import Keyring, Vault, generate_key, load_keyring, rotate_master_key

from .conftest import API_KEY, PASSWORD, key_file_lines


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record's message, arguments and traceback, as one text."""
    formatter = logging.Formatter()
    return "\n".join(formatter.format(record) + repr(record.args) for record in caplog.records)


def key_file_lines_after_load(settings: Settings) -> list[str]:
    """The keys of a key file made on first use."""
    load_keyring(settings)
    return key_file_lines(settings)


def all_errors(vault: Vault, session: Session) -> list[InvsyncError]:
    """The vault's errors from every kind of mistake, each carrying a secret nearby."""
    attempts = [
        lambda: vault.add("lever", API_KEY, PASSWORD),
        lambda: vault.add("bad name", API_KEY, PASSWORD),
        lambda: vault.add("lever2", "", PASSWORD),
        lambda: vault.add("lever2", API_KEY, PASSWORD, kind="nope"),
        lambda: vault.get("missing"),
        lambda: Vault(session, Keyring([generate_key()])).get("lever"),
    ]
    errors = []
    for attempt in attempts:
        with pytest.raises(InvsyncError) as caught:
            attempt()
        logging.getLogger("test").error("the vault refused", exc_info=caught.value)
        errors.append(caught.value)
    return errors


def test_nothing_secret_is_logged(
    settings: Settings,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # SQL and its parameters too
    keys = key_file_lines_after_load(settings)
    with session_factory.begin() as session:
        vault = Vault(session, load_keyring(settings))
        vault.add("lever", API_KEY, PASSWORD)
        assert vault.get("lever").password == PASSWORD
        vault.list()
    with session_factory() as session:
        errors = all_errors(Vault(session, load_keyring(settings)), session)
    rotate_master_key(settings, session_factory)
    keys += key_file_lines(settings)
    old, new = generate_key(), keys[-1]
    env = replace(settings, master_key=f"{old},{new}")
    rotate_master_key(env, session_factory)
    keys.append(old)

    text = everything_logged(caplog) + "\n".join(map(str, errors))
    assert "stored credential 'lever'" in text and "re-encrypted 1 credential(s)" in text
    assert "INSERT INTO credentials" in text and "Traceback" in text
    for secret in (API_KEY, PASSWORD, *keys):
        assert secret not in text
