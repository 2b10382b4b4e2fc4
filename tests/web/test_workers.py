"""Syncs as Procrastinate jobs on real PostgreSQL, run by real `invsync worker` processes: one run
per integration however many workers and requests, a worker killed mid-run leaves a failed run
and a later run completes, SIGTERM lets the current run finish, and SQLite needs no worker."""

from __future__ import annotations

import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, ledger
from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.models import SaasUser, SyncRun, WorkflowRun
from inventory.settings import Settings
from tests.conftest import (
    API_KEY,
    Gate,
    Sim,
    add_integration,
    create_lever,
    people_count,
    run_finished,
    run_reached,
    sync_lever,
    wait_for,
    wait_until,
    workflow_run_finished,
)
from tests.web.conftest import Proc, Run, invsync_env
from tests.web.test_cli import assert_one_line_error
from tests.web.test_workflows_web import approval_sent, stored
from tests.workflows.conftest import DELETE, ROLE, chain
from web.accounts import add_account, create_token
from web.app import create_app
from web.appstate import app_state
from web.tasks import ProcrastinateEngine, Runtime, queue_sync, queue_workflow_run

ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
READY_WAIT = 60.0


@pytest.fixture
def queue_env(settings: Settings) -> dict[str, str]:
    """The instance's environment with the Procrastinate engine chosen."""
    return {
        **invsync_env(settings.home, settings.database_url),
        "INVSYNC_TASK_ENGINE": "procrastinate",
    }


@pytest.fixture
def queued(settings: Settings) -> Iterator[Settings]:
    """The instance's settings with the Procrastinate engine chosen."""
    yield Settings.load(env={}, home=settings.home, database_url=settings.database_url,
                        task_engine="procrastinate")  # fmt: skip


@pytest.fixture
def engine_of(queued: Settings) -> Iterator[ProcrastinateEngine]:
    """A Procrastinate engine on the instance, as the web app holds it."""
    engine = ProcrastinateEngine(queued)
    yield engine
    engine.close()


def _lines(proc: Proc) -> queue.Queue[str]:
    """The process's stdout lines as they come, read on a thread."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def start_worker(spawn: Callable[..., Proc], env: dict[str, str], *args: str) -> Proc:
    """Start `invsync worker` and wait for its ready line."""
    proc = spawn("worker", *args, env=env)
    lines = _lines(proc)
    try:
        line = lines.get(timeout=READY_WAIT)
    except queue.Empty:
        proc.kill()
        said = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"no ready line from the worker: {said}") from None
    assert " ready: queues " in line, line
    return proc


def _runs(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """Every run's id and status, oldest first."""
    with factory() as session:
        return [(r.id, r.status) for r in session.scalars(select(SyncRun).order_by(SyncRun.id))]


@ON_POSTGRES
def test_two_workers_and_five_simultaneous_run_nows_make_one_run(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    with session_factory.begin() as session:
        add_account(session, "ops", "a long enough password", "admin")
        _, token = create_token(session, "ops", "test")
    workers = [start_worker(spawn, queue_env), start_worker(spawn, queue_env, "--concurrency", "2")]
    app = create_app(queued)
    try:
        answers = _press_run_now(app, token, times=5)
    finally:
        app_state(app).tasks.close()  # type: ignore[union-attr]
        app_state(app).engine.dispose()
    ids = {body["run_id"] for status, body in answers if status == 202}
    assert len(ids) == 1, answers
    (run_id,) = ids
    for status, body in answers:
        assert status == 202 or (status == 409 and f"as run {run_id} " in body["error"]["message"])
    assert run_finished(session_factory, run_id) == "succeeded"
    assert _runs(session_factory) == [(run_id, "succeeded")]
    assert people_count(session_factory) == 250
    assert all(w.poll() is None for w in workers), "the workers keep going"


def _press_run_now(app: Flask, token: str, times: int) -> list[tuple[int, Any]]:
    """POST the API's run start from several threads at once; each (status, body)."""
    barrier = threading.Barrier(times)

    def press(_: int) -> tuple[int, Any]:
        client = app.test_client()
        barrier.wait()
        answer = client.post("/api/v1/integrations/lever/runs",
                             headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        return answer.status_code, answer.get_json()

    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(press, range(times)))


@ON_POSTGRES
def test_a_worker_killed_mid_run_leaves_a_failed_run_and_a_later_run_completes(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    gate: Callable[[int], Gate],
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
    engine_of: ProcrastinateEngine,
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    held = gate(1)  # the first page passes, the second waits: the run is mid-read
    doomed = start_worker(spawn, queue_env)
    runtime = Runtime(session_factory, queued)
    first = queue_sync(runtime, engine_of, "lever", "web")
    run_reached(session_factory, first, "running")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    held.open()

    start_worker(spawn, queue_env)  # its recovery closes the dead worker's run at once
    assert run_finished(session_factory, first) == "failed"
    with session_factory() as session:
        message = ledger.get_run(session, first).message or ""
    assert "the process running it" in message and "is gone" in message

    second = queue_sync(runtime, engine_of, "lever", "web")
    assert run_finished(session_factory, second) == "succeeded"
    assert people_count(session_factory) == 250, "the later run completes the data"
    assert _runs(session_factory) == [(first, "failed"), (second, "succeeded")]


@ON_POSTGRES
def test_sigterm_lets_the_current_run_finish_then_the_worker_stops(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    gate: Callable[[int], Gate],
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
    engine_of: ProcrastinateEngine,
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    held = gate(1)
    worker = start_worker(spawn, queue_env)
    run_id = queue_sync(Runtime(session_factory, queued), engine_of, "lever", "web")
    run_reached(session_factory, run_id, "running")
    worker.send_signal(signal.SIGTERM)
    held.open()
    assert worker.wait(60) == 0, worker.stderr and worker.stderr.read()
    assert run_finished(session_factory, run_id) == "succeeded"
    assert people_count(session_factory) == 250


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_on_sqlite_is_refused_in_one_line(invsync: Run) -> None:
    done = invsync("worker")
    assert_one_line_error(done, 2, "workers take jobs from the PostgreSQL task queue")


@ON_POSTGRES
def test_the_scheduler_queues_due_runs_and_a_worker_runs_them(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
    invsync: Run,
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    assert invsync("integration", "schedule", "lever", "--every", "1s").returncode == 0
    worker = start_worker(spawn, queue_env)
    scheduler = spawn("scheduler", "--renew-every", "1", env=queue_env)
    first = _first_id(session_factory, SyncRun)
    assert run_finished(session_factory, first) == "succeeded"
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(30) == 0
    with session_factory() as session:
        run = ledger.get_run(session, first)
        assert run.trigger == "schedule"
        assert run.owner is not None and run.owner.endswith(f":{worker.pid}"), "a worker ran it"
    assert "queued for a worker" in (scheduler.stderr.read() if scheduler.stderr else "")


def _first_id(factory: sessionmaker[Session], model: type[Any]) -> int:
    """The id of the first row of a kind of run recorded, once there is one."""

    def first() -> int | None:
        with factory() as session:
            return session.scalar(select(model.id).order_by(model.id))

    found = wait_for(first, lambda i: i is not None, f"a first {model.__tablename__} row")
    assert found is not None
    return found


# -- workflow runs as tasks ------------------------------------------------------------------

THOUSAND = 1000


@ON_POSTGRES
def test_a_paced_workflow_over_a_thousand_saas_users_is_queued_by_the_web_and_walked_by_a_worker(
    queued: Settings,
    session_factory: sessionmaker[Session],
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
) -> None:
    sim = LeverSimulator(users=THOUSAND, seed=11, api_key=API_KEY, rate_limit=False)
    with SimulatorServer(sim) as server:
        create_lever(session_factory, queued, server.url)
        assert sync_lever(session_factory, queued).status == "succeeded"
        with session_factory.begin() as session:
            integrations.update(session, integrations.get(session, "lever"), {"max_rps": 10})
            add_account(session, "ada", "a long enough password", "author")
            _, token = create_token(session, "ada", "test")
        every_lever_account = {"all": [{"field": "app", "op": "eq", "value": "Lever"}]}
        stored(session_factory, chain(ROLE, criteria=every_lever_account), activate=True)
        app = create_app(queued)
        try:
            answer = app.test_client().post(
                "/api/v1/workflows/wf/runs", headers={"Authorization": f"Bearer {token}"}
            )
        finally:
            app_state(app).tasks.close()  # type: ignore[union-attr]
            app_state(app).engine.dispose()
        assert answer.status_code == 202, answer.get_json()
        run_id = answer.get_json()["run_id"]
        assert answer.get_json()["status"] == "queued", "the request only queued the run"
        reads_before = sim.calls("GET", "/v1/users")
        start_worker(spawn, queue_env, "--queues", "workflows")
        assert workflow_run_finished(session_factory, run_id, timeout=180) == "succeeded"
    with session_factory() as session:
        run = session.get_one(WorkflowRun, run_id)
        assert run.matched == THOUSAND and run.outcomes["role"] == {
            "success": THOUSAND,
            "failure": 0,
        }
        assert run.finished_at is not None and run.finished_at >= run.started_at
    reads = sim.calls("GET", "/v1/users") - reads_before
    pages = THOUSAND // 100
    assert pages <= reads <= pages + 1, "the preset reads Lever's list once, 100 users a page"


@ON_POSTGRES
def test_a_sync_in_a_worker_hands_its_new_accounts_to_a_record_created_workflow_task(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
    engine_of: ProcrastinateEngine,
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    stored(session_factory, chain(name="welcome", trigger={"type": "record_created"}), True)
    start_worker(spawn, queue_env)
    sync = queue_sync(Runtime(session_factory, queued), engine_of, "lever", "web")
    assert run_finished(session_factory, sync) == "succeeded"
    flow = _first_id(session_factory, WorkflowRun)
    assert workflow_run_finished(session_factory, flow) == "succeeded"
    with session_factory() as session:
        run = session.get_one(WorkflowRun, flow)
        active = session.scalar(
            select(func.count()).select_from(SaasUser).where(SaasUser.status == "active")
        )
        assert (run.trigger, run.matched) == ("record_created", active)
        assert run.record_ids is not None and len(run.record_ids) == 250, "every new account"


@ON_POSTGRES
def test_an_approval_through_the_api_is_sent_to_lever_by_a_worker(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    assert sync_lever(session_factory, queued).status == "succeeded"
    first = next(u["id"] for u in lever_sim[0].users if not u["deactivatedAt"])
    only_first = {"all": [{"field": "external_id", "op": "eq", "value": first}]}
    stored(session_factory, chain(DELETE, criteria=only_first, run_mode="supervised"), True)
    with session_factory.begin() as session:
        add_account(session, "ada", "a long enough password", "author")
        _, token = create_token(session, "ada", "test")
    auth = {"Authorization": f"Bearer {token}"}
    start_worker(spawn, queue_env)
    app = create_app(queued)
    try:
        client = app.test_client()
        started = client.post("/api/v1/workflows/wf/runs", headers=auth).get_json()
        assert workflow_run_finished(session_factory, started["run_id"]) == "waiting_approval"
        (held,) = client.get("/api/v1/approvals", headers=auth).get_json()["items"]
        posts = lever_sim[0].calls("POST")
        answer = client.post(f"/api/v1/approvals/{held['id']}/approve", headers=auth)
        assert answer.status_code == 202, answer.get_json()
        assert answer.get_json()["status"] == "approving"
        assert answer.headers["Location"] == f"/api/v1/workflow-runs/{started['run_id']}"
        assert approval_sent(session_factory, held["id"]).startswith("success")
        assert lever_sim[0].calls("POST") == posts + 1, "sent once, by the worker"
        run = client.get(answer.headers["Location"], headers=auth).get_json()
        assert (run["status"], run["pending_approvals"]) == ("succeeded", 0)
    finally:
        app_state(app).tasks.close()  # type: ignore[union-attr]
        app_state(app).engine.dispose()


@ON_POSTGRES
def test_a_worker_killed_mid_workflow_run_leaves_a_failed_run_and_a_later_run_completes(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    gate: Callable[[int], Gate],
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
    engine_of: ProcrastinateEngine,
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    assert sync_lever(session_factory, queued).status == "succeeded"
    stored(session_factory, chain(ROLE), activate=True)
    held = gate(1)  # the role preset's read of Lever's user list waits on its second page
    doomed = start_worker(spawn, queue_env, "--queues", "workflows")
    runtime = Runtime(session_factory, queued)
    first = queue_workflow_run(runtime, engine_of, "wf", dry_run=False, trigger="manual")
    run_reached(session_factory, first, "running", model=WorkflowRun)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    held.open()

    start_worker(spawn, queue_env, "--queues", "workflows")  # its recovery closes the dead run
    assert workflow_run_finished(session_factory, first) == "failed"
    second = queue_workflow_run(runtime, engine_of, "wf", dry_run=False, trigger="manual")
    assert workflow_run_finished(session_factory, second) == "succeeded", "the lock was freed"
    with session_factory() as session:
        dead, later = session.get_one(WorkflowRun, first), session.get_one(WorkflowRun, second)
        assert f"({dead.owner}) is gone" in (dead.message or "")
        assert later.matched > 0 and later.outcomes["role"]["success"] == later.matched
        assert later.owner is not None and later.owner != dead.owner


@ON_POSTGRES
def test_two_integrations_syncing_the_same_people_on_two_workers_both_succeed(
    queued: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    gate: Callable[[int], Gate],
    spawn: Callable[..., Proc],
    queue_env: dict[str, str],
    engine_of: ProcrastinateEngine,
) -> None:
    create_lever(session_factory, queued, lever_sim[1].url)
    add_integration(session_factory, "sandbox", lever_sim[1].url)  # the same Lever again
    held = gate(2)  # each run's first page passes; their second pages wait
    workers = [start_worker(spawn, queue_env), start_worker(spawn, queue_env)]
    runtime = Runtime(session_factory, queued)
    runs = [queue_sync(runtime, engine_of, name, "web") for name in ("lever", "sandbox")]
    wait_until(lambda: held.seen >= 4, what="both runs hold a first page, wait for a second")
    wait_until(lambda: people_count(session_factory) >= 100, what="a first page committed")
    held.open()
    assert [run_finished(session_factory, run_id) for run_id in runs] == ["succeeded"] * 2
    assert people_count(session_factory) == 250, "each person once, whoever wrote first"
    with session_factory() as session:
        owners = {ledger.get_run(session, run_id).owner for run_id in runs}
    assert owners == {f"{os.uname().nodename}:{w.pid}" for w in workers}, "one run per worker"
