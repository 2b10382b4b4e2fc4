"""The plain web page: People and Lever users after a sync, names escaped, keyset paging."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.jobs import lever_client, run_sync
from connector.lever.simulator import LeverSimulator, SimulatorServer
from inventory.settings import Settings
from tests.conftest import API_KEY
from vault.keys import load_keyring
from vault.store import Vault
from web.app import create_app

EVIL = "<script>alert(1)</script>"


@pytest.fixture
def client(
    settings: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: tuple[LeverSimulator, SimulatorServer],
) -> Iterator[FlaskClient]:
    """A web client on an instance synced from the simulator, with a hostile name in Lever."""
    sim, server = lever_sim
    sim.add_user(name=f"Mallory {EVIL}", email="mallory@example.com", jobTitle=EVIL)
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).add("k", API_KEY, " ")
        spec = integrations.NewIntegration(
            name="lever", credential="k", base_url=server.url, max_rps=0
        )
        integ = integrations.create(session, spec)
        integrations.apply_smart_mapping(session, integ, None)
        integrations.launch(integ)
    run_sync(session_factory, settings, "lever", client_factory=partial(lever_client))
    app = create_app(settings)
    yield app.test_client()
    app.extensions["invsync.engine"].dispose()


def test_page_lists_people_and_lever_users_with_roles(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "251 people" in html and "251 Lever users" in html
    assert "Software › SaaS › Lever › Users" in html
    assert "interviewer" in html


def test_lever_names_are_data_not_markup(client: FlaskClient) -> None:
    html = client.get("/?q=mallory").get_data(as_text=True)
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_search_and_next_page_links(client: FlaskClient) -> None:
    first = client.get("/").get_data(as_text=True)
    assert "people_after=" in first
    found = client.get("/?q=mallory@example.com").get_data(as_text=True)
    assert "mallory@example.com" in found and "people_after=" not in found


def test_a_bad_cursor_is_a_400_with_the_fix(client: FlaskClient) -> None:
    page = client.get("/?people_after=garbage")
    assert page.status_code == 400
    assert "start again without" in page.get_data(as_text=True)


def test_the_key_is_on_no_page(client: FlaskClient) -> None:
    assert API_KEY not in client.get("/").get_data(as_text=True)
