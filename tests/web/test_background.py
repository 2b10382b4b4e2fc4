"""Syncs started from the web: `start_sync` answers with the run id once the run is recorded,
refuses at once what cannot start, and never starts a second run of a running integration."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, ledger
from connector.errors import AlreadyRunningError, NotLaunchedError
from inventory.errors import NotFoundError
from inventory.settings import Settings
from tests.conftest import Gate, Sim, create_lever, run_finished
from tests.connector.test_ledger import runs_of
from web.background import start_sync


def test_start_returns_the_id_of_the_recorded_run(
    session_factory: sessionmaker[Session], settings: Settings, lever_sim: Sim
) -> None:
    create_lever(session_factory, settings, lever_sim[1].url)
    run_id = start_sync(session_factory, settings, "lever")
    with session_factory() as session:
        run = ledger.get_run(session, run_id)
        assert (run.integration.name, run.trigger) == ("lever", "web")
    assert run_finished(session_factory, run_id) == "succeeded"
    with session_factory() as session:
        assert ledger.run_dict(ledger.get_run(session, run_id))["people"]["created"] == 250


def test_what_cannot_start_is_refused_at_once_and_records_nothing(
    session_factory: sessionmaker[Session], settings: Settings, lever_sim: Sim
) -> None:
    with pytest.raises(NotFoundError, match="no integration named 'nope'"):
        start_sync(session_factory, settings, "nope", wait=5)
    create_lever(session_factory, settings, lever_sim[1].url)
    with session_factory.begin() as session:
        spec = integrations.NewIntegration(
            name="draft", credential="lever-key", base_url=lever_sim[1].url
        )
        integrations.create(session, spec)
    with pytest.raises(NotLaunchedError, match="integration 'draft' is a draft"):
        start_sync(session_factory, settings, "draft", wait=5)
    assert runs_of(session_factory) == []


def test_a_second_start_while_one_runs_is_refused(
    session_factory: sessionmaker[Session],
    settings: Settings,
    lever_sim: Sim,
    gate: Callable[[int], Gate],
) -> None:
    create_lever(session_factory, settings, lever_sim[1].url)
    held = gate(0)
    run_id = start_sync(session_factory, settings, "lever")
    with pytest.raises(AlreadyRunningError, match=f"is already running as run {run_id} "):
        start_sync(session_factory, settings, "lever", trigger="api", wait=5)
    assert runs_of(session_factory) == [("running", None)]
    held.open()
    assert run_finished(session_factory, run_id) == "succeeded"
    assert [status for status, _ in runs_of(session_factory)] == ["succeeded"]
