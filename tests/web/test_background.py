"""Syncs started from the web: the request queues the run and answers with its id at once,
refuses at once what cannot start, answers a second request with the run that waits, and never
starts a second run of a running integration. The in-process engine runs them here; the
Procrastinate workers are tested in tests/web/test_workers.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, ledger
from connector.errors import AlreadyRunningError, NotLaunchedError
from inventory.errors import NotFoundError
from inventory.models import WorkflowRun
from inventory.settings import Settings
from inventory.timeutil import utcnow
from tests.conftest import (
    Gate,
    Sim,
    add_integration,
    create_lever,
    people_count,
    run_finished,
    run_reached,
    wait_for,
    wait_until,
    workflow_run_finished,
)
from tests.connector.test_ledger import runs_of
from tests.web.test_workflows_web import stored
from tests.workflows.conftest import ROLE, accounts, chain
from web.jobs import scheduled_workflows
from web.tasks import LocalEngine, Runtime, queue_sync, queue_workflow_run
from workflows.errors import WorkflowStateError


class Held:
    """An engine that keeps what it is handed until told to run it (a busy worker pool)."""

    name = "held"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime, self.handed = runtime, []  # type: tuple[Runtime, list[str]]
        self.workflows: list[tuple[int, str]] = []
        self.approvals: list[tuple[int, str]] = []
        self.dry_runs: list[int] = []

    def defer_sync(self, integration: str) -> None:
        """Keep the hand-over."""
        self.handed.append(integration)

    def defer_workflow(self, run_id: int, workflow: str) -> None:
        """Keep the hand-over of a workflow run."""
        self.workflows.append((run_id, workflow))

    def defer_approval(self, approval_id: int, workflow: str) -> None:
        """Keep the hand-over of an approval."""
        self.approvals.append((approval_id, workflow))

    def defer_dry_run(self, dry_run_id: int) -> None:
        """Keep the hand-over of a dry run."""
        self.dry_runs.append(dry_run_id)

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


# -- workflow runs -----------------------------------------------------------------------------


def _flow_status(factory: sessionmaker[Session], run_id: int) -> str:
    """A workflow run's status now."""
    with factory() as session:
        return session.get_one(WorkflowRun, run_id).status


def test_a_workflow_run_waits_until_the_engine_walks_it(runtime: Runtime, synced: Sim) -> None:
    stored(runtime.sessions, chain(ROLE), activate=True)
    held = Held(runtime)
    run_id = queue_workflow_run(runtime, held, "wf", dry_run=False, trigger="manual")
    assert held.workflows == [(run_id, "wf")]
    assert _flow_status(runtime.sessions, run_id) == "queued", "nothing walks it yet"
    engine = LocalEngine(runtime)  # a process starting later picks up what waits
    try:
        assert workflow_run_finished(runtime.sessions, run_id) == "succeeded"
    finally:
        engine.close()
    with runtime.sessions() as session:
        run = session.get_one(WorkflowRun, run_id)
        assert 0 < run.matched <= len(accounts(session))
        assert run.outcomes["role"] == {"success": run.matched, "failure": 0}


def test_a_workflow_that_cannot_run_is_refused_at_once_and_nothing_waits(
    runtime: Runtime, synced: Sim
) -> None:
    stored(runtime.sessions, chain(ROLE), activate=False)
    held = Held(runtime)
    with pytest.raises(WorkflowStateError, match="is a draft"):
        queue_workflow_run(runtime, held, "wf", dry_run=False, trigger="manual")
    with pytest.raises(NotFoundError, match="ghost"):
        queue_workflow_run(runtime, held, "ghost", dry_run=True, trigger="manual")
    assert held.workflows == []
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkflowRun)) == 0


def test_runs_of_one_workflow_go_one_after_another_on_the_local_engine(
    runtime: Runtime, local: LocalEngine, synced: Sim
) -> None:
    stored(runtime.sessions, chain(ROLE), activate=True)
    ids = [queue_workflow_run(runtime, local, "wf", dry_run=True, trigger="manual")
           for _ in range(3)]  # fmt: skip
    assert [workflow_run_finished(runtime.sessions, i) for i in ids] == ["succeeded"] * 3
    with runtime.sessions() as session:
        spans = [(r.started_at, r.finished_at) for r in
                 session.scalars(select(WorkflowRun).order_by(WorkflowRun.started_at))]  # fmt: skip
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert ended is not None and ended <= started, "no two runs of a workflow overlap"


def test_a_sync_on_the_local_engine_queues_its_event_workflows(
    runtime: Runtime, local: LocalEngine, lever_sim: Sim
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    stored(runtime.sessions, chain(name="welcome", trigger={"type": "record_created"}), True)
    sync = queue_sync(runtime, local, "lever", "web")
    assert run_finished(runtime.sessions, sync) == "succeeded"
    found = wait_for(partial(_workflow_runs, runtime.sessions), bool, "the event's workflow run")
    (run_id, trigger), *_ = found
    assert trigger == "record_created"
    assert workflow_run_finished(runtime.sessions, run_id) == "succeeded"


def _workflow_runs(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """Every workflow run's id and trigger."""
    with factory() as session:
        return [(r.id, r.trigger) for r in session.scalars(select(WorkflowRun))]


def test_the_scheduler_beat_queues_due_workflows_for_the_engine(
    runtime: Runtime, synced: Sim
) -> None:
    doc = chain(ROLE, trigger={"type": "schedule", "every": "1h"})
    stored(runtime.sessions, doc, activate=True)
    held = Held(runtime)
    beat = scheduled_workflows(runtime.sessions, runtime.settings, held.defer_workflow)
    now = utcnow()
    beat(now - timedelta(hours=2), now)
    ((run_id, name),) = held.workflows
    assert name == "wf" and _flow_status(runtime.sessions, run_id) == "queued"


def test_two_integrations_syncing_the_same_people_side_by_side_both_succeed(
    runtime: Runtime, local: LocalEngine, lever_sim: Sim, gate: Callable[[int], Gate]
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    add_integration(runtime.sessions, "sandbox", lever_sim[1].url)  # the same Lever again
    held = gate(2)  # each run's first page passes; their second pages wait
    runs = [queue_sync(runtime, local, name, "web") for name in ("lever", "sandbox")]
    wait_until(lambda: held.seen >= 4, what="both runs hold a first page, wait for a second")
    wait_until(lambda: people_count(runtime.sessions) >= 100, what="a first page committed")
    held.open()
    assert [run_finished(runtime.sessions, run_id) for run_id in runs] == ["succeeded"] * 2
    assert people_count(runtime.sessions) == 250, "each person once, whoever wrote first"
