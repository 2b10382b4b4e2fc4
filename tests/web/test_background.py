"""Syncs started from the web: the request queues the run and answers with its id at once,
refuses at once what cannot start, answers a second request with the run that waits, and never
starts a second run of a running integration. The in-process engine runs them here; the
Procrastinate workers are tested in tests/web/test_workers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, ledger
from connector.errors import AlreadyRunningError, NotLaunchedError
from inventory.errors import NotFoundError
from inventory.settings import Settings
from inventory.timeutil import utcnow
from tests.conftest import Gate, Sim, create_lever, run_finished, run_reached
from tests.connector.test_ledger import runs_of
from web.tasks import LocalEngine, Runtime, queue_sync


class Held:
    """An engine that keeps what it is handed until told to run it (a busy worker pool)."""

    name = "held"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime, self.handed = runtime, []  # type: tuple[Runtime, list[str]]

    def defer_sync(self, integration: str) -> None:
        """Keep the hand-over."""
        self.handed.append(integration)

    def depth(self) -> dict[str, int]:
        """What was handed over."""
        return {"syncs": len(self.handed)}

    def check(self) -> None:
        """Always reachable."""

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def runtime(session_factory: sessionmaker[Session], settings: Settings) -> Runtime:
    return Runtime(session_factory, settings)


@pytest.fixture
def local(runtime: Runtime) -> Iterator[LocalEngine]:
    engine = LocalEngine(runtime)
    yield engine
    engine.close()


def test_start_returns_the_id_of_the_queued_run_and_the_engine_runs_it(
    runtime: Runtime, local: LocalEngine, lever_sim: Sim
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    run_id = queue_sync(runtime, local, "lever", "web")
    with runtime.sessions() as session:
        run = ledger.get_run(session, run_id)
        assert (run.integration.name, run.trigger) == ("lever", "web")
    assert run_finished(runtime.sessions, run_id) == "succeeded"
    with runtime.sessions() as session:
        assert ledger.run_dict(ledger.get_run(session, run_id))["people"]["created"] == 250


def test_what_cannot_start_is_refused_at_once_and_records_nothing(
    runtime: Runtime, lever_sim: Sim
) -> None:
    held = Held(runtime)
    with pytest.raises(NotFoundError, match="no integration named 'nope'"):
        queue_sync(runtime, held, "nope", "web")
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    with runtime.sessions.begin() as session:
        spec = integrations.NewIntegration(
            name="draft", credential="lever-key", base_url=lever_sim[1].url
        )
        integrations.create(session, spec)
    with pytest.raises(NotLaunchedError, match="integration 'draft' is a draft"):
        queue_sync(runtime, held, "draft", "web")
    assert runs_of(runtime.sessions) == []
    assert held.handed == []


def test_a_second_start_while_one_waits_is_answered_with_the_waiting_run(
    runtime: Runtime, lever_sim: Sim
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    held = Held(runtime)
    first = queue_sync(runtime, held, "lever", "web")
    assert queue_sync(runtime, held, "lever", "api") == first
    assert runs_of(runtime.sessions) == [("queued", None)]
    local = LocalEngine(runtime)  # a worker comes up: it picks up the waiting run
    try:
        assert run_finished(runtime.sessions, first) == "succeeded"
    finally:
        local.close()
    assert [status for status, _ in runs_of(runtime.sessions)] == ["succeeded"]


def test_a_second_start_while_one_runs_is_refused(
    runtime: Runtime, local: LocalEngine, lever_sim: Sim, gate: Callable[[int], Gate]
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    held = gate(0)
    run_id = queue_sync(runtime, local, "lever", "web")
    run_reached(runtime.sessions, run_id, "running")
    with pytest.raises(AlreadyRunningError, match=f"is already running as run {run_id} "):
        queue_sync(runtime, local, "lever", "api")
    assert runs_of(runtime.sessions) == [("running", None)]
    held.open()
    assert run_finished(runtime.sessions, run_id) == "succeeded"
    assert [status for status, _ in runs_of(runtime.sessions)] == ["succeeded"]


def test_a_waiting_run_cancelled_before_it_starts_never_runs(
    runtime: Runtime, lever_sim: Sim
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    run_id = queue_sync(runtime, Held(runtime), "lever", "web")
    with runtime.sessions.begin() as session:
        closed = ledger.request_cancel(session, ledger.get_run(session, run_id), utcnow())
    assert closed
    reads = lever_sim[0].calls("GET", "/v1/users")
    local = LocalEngine(runtime)
    local.defer_sync("lever")
    local.close()
    with runtime.sessions() as session:
        run = ledger.get_run(session, run_id)
        assert (run.status, run.message, run.fetched) == (
            "cancelled", "cancelled before it started", 0,
        )  # fmt: skip
    assert lever_sim[0].calls("GET", "/v1/users") == reads, "a cancelled run read Lever"
