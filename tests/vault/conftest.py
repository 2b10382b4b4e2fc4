"""Vault fixtures: the instance keyring (key file made on first use) and a vault on a session."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.models import Credential
from inventory.settings import Settings
from vault import Keyring, Vault, load_keyring

# Distinctive values, so a test can search any output for them.
API_KEY = "lvr-Qm9KbGV2ZXJBcGlLZXk-7f3a"
PASSWORD = "pw-Zm9vYmFyYmF6cXV4"


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    """The instance's keyring, read from (or first written to) its key file."""
    return load_keyring(settings)


@pytest.fixture
def vault(session: Session, keyring: Keyring) -> Vault:
    """A vault on the test's session."""
    return Vault(session, keyring)


def stored(session: Session, name: str) -> Credential:
    """The credential row as the database holds it."""
    return session.scalars(select(Credential).filter_by(name=name)).one()


def key_file_lines(settings: Settings) -> list[str]:
    """The keys in the instance's key file, current first."""
    return settings.key_file.read_text().splitlines()
