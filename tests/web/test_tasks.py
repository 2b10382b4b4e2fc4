"""invsync's tasks on Procrastinate's in-memory connector: which jobs a hand-over leaves, under
which locks and queues, what recovery hands over again, and a worker running them to the end.
The same jobs on real PostgreSQL with real worker processes are in tests/web/test_workers.py."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from procrastinate import App
from procrastinate.testing import InMemoryConnector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector.dryrun_queue import dry_run_dict, get_dry_run, queue_dry_run
from inventory.db import transaction
from inventory.models import Person
from inventory.settings import Settings
from tests.conftest import Sim, create_lever, workflow_run_finished
from tests.web.test_background import Held
from tests.web.test_workflows_web import simple, stored
from web.tasks import ProcrastinateEngine, Runtime, queue_sync, queue_workflow_run, recover, tasks
from workflows.runner import queue_workflow


def off_the_loop(test: Callable[..., None]) -> Callable[..., None]:
    """Run the test on a thread of its own: Procrastinate's sync calls need a thread with no
    running event loop, and a browser test earlier in the same process leaves one running."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(test, *args, **kwargs).result()

    return run


@pytest.fixture
def memory() -> Iterator[App]:
    """A Procrastinate app with invsync's tasks on the in-memory connector."""
    app = App(connector=InMemoryConnector())
    app.add_tasks_from(tasks(), namespace="invsync")
    with app.open():
        yield app


@pytest.fixture
def deferring(settings: Settings, memory: App) -> ProcrastinateEngine:
    """The engine the web app holds, deferring to the in-memory app."""
    return ProcrastinateEngine(settings, app=memory)


@pytest.fixture
def runtime(session_factory: sessionmaker[Session], settings: Settings) -> Runtime:
    """What the tasks need: the instance's sessions and settings."""
    return Runtime(session_factory, settings)


def jobs(app: App) -> list[dict[str, Any]]:
    """Every job the app holds, in the order deferred."""
    connector = app.connector
    assert isinstance(connector, InMemoryConnector)
    return sorted(connector.jobs.values(), key=lambda job: job["id"])


@off_the_loop
def test_a_sync_waits_as_one_job_under_its_integrations_lock(
    runtime: Runtime, deferring: ProcrastinateEngine, memory: App, lever_sim: Sim
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    first = queue_sync(runtime, deferring, "lever", "web")
    again = queue_sync(runtime, deferring, "lever", "api")
    assert again == first, "a second start is answered with the waiting run"
    (job,) = jobs(memory)
    assert (job["task_name"], job["queue_name"], job["status"]) == ("invsync:sync", "syncs", "todo")
    assert (job["lock"], job["queueing_lock"]) == ("sync:lever", "sync:lever")
    assert job["args"] == {"integration": "lever"}


@off_the_loop
def test_workflow_runs_wait_one_job_each_under_the_workflows_lock(
    runtime: Runtime, deferring: ProcrastinateEngine, memory: App
) -> None:
    stored(runtime.sessions, simple("wf"), activate=True)
    first = queue_workflow_run(runtime, deferring, "wf", dry_run=False, trigger="manual")
    second = queue_workflow_run(runtime, deferring, "wf", dry_run=True, trigger="manual")
    deferring.defer_workflow(first, "wf")  # handed over again: its job waits already
    found = jobs(memory)
    assert [job["args"]["run_id"] for job in found] == [first, second]
    assert {(j["task_name"], j["queue_name"], j["lock"]) for j in found} == {
        ("invsync:workflow", "workflows", "workflow:wf")
    }
    assert [job["queueing_lock"] for job in found] == [f"workflow-run:{first}",
                                                       f"workflow-run:{second}"]  # fmt: skip


@off_the_loop
def test_recovery_hands_over_every_run_that_waits_without_a_job(
    runtime: Runtime, memory: App, lever_sim: Sim
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    stored(runtime.sessions, simple("wf"), activate=True)
    held = Held(runtime)  # keeps the hand-overs: to the task queue, they are lost
    queue_sync(runtime, held, "lever", "web")  # recorded as waiting, the hand-over lost
    run_id = queue_workflow(runtime.sessions, runtime.settings, "wf")
    asyncio.run(recover(memory, runtime))  # one pass, as a worker runs it
    assert {(j["task_name"], str(sorted(j["args"].items()))) for j in jobs(memory)} == {
        ("invsync:sync", str([("integration", "lever")])),
        ("invsync:workflow", str([("run_id", run_id), ("workflow", "wf")])),
    }
    asyncio.run(recover(memory, runtime))  # one pass, as a worker runs it
    assert len(jobs(memory)) == 2, "what waits is handed over once"


@off_the_loop
def test_a_worker_runs_a_queued_workflow_run_to_its_end(
    runtime: Runtime, deferring: ProcrastinateEngine, memory: App
) -> None:
    stored(runtime.sessions, simple("wf"), activate=True)
    run_id = queue_workflow_run(runtime, deferring, "wf", dry_run=False, trigger="manual")
    memory.run_worker(queues=["workflows"], wait=False, additional_context={"runtime": runtime})
    assert workflow_run_finished(runtime.sessions, run_id, timeout=5) == "succeeded"
    (job,) = [j for j in jobs(memory) if j["task_name"] == "invsync:workflow"]
    assert job["status"] == "succeeded"


@off_the_loop
def test_a_dry_run_is_one_job_that_a_worker_turns_into_a_report(
    runtime: Runtime, deferring: ProcrastinateEngine, memory: App, lever_sim: Sim
) -> None:
    create_lever(runtime.sessions, runtime.settings, lever_sim[1].url)
    with transaction(runtime.sessions) as session:
        dry_run_id = queue_dry_run(session, "lever")
    deferring.defer_dry_run(dry_run_id)
    deferring.defer_dry_run(dry_run_id)  # handed over twice: one job waits
    (job,) = jobs(memory)
    assert (job["task_name"], job["queue_name"], job["lock"]) == ("invsync:dry_run", "syncs", None)
    memory.run_worker(queues=["syncs"], wait=False, additional_context={"runtime": runtime})
    with runtime.sessions() as session:
        asked = dry_run_dict(session, get_dry_run(session, dry_run_id))
        people = session.scalar(select(func.count()).select_from(Person))
    assert asked["status"] == "succeeded" and asked["report"]["fetched"] == 250
    assert people == 0, "a dry run writes nothing but its report"
