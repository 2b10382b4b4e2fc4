"""The run ledger: runs listed and shown, one running run per integration, stale runs cleared,
cancelling between pages, and the heartbeat, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, ledger
from connector.errors import AlreadyRunningError
from connector.jobs import run_sync
from connector.sync import SyncSummary
from inventory.errors import ConfigError, NotFoundError
from inventory.models import SyncRun
from inventory.settings import Settings
from inventory.timeutil import utcnow
from tests.conftest import API_KEY, Gate, Sim, people_count, wait_until

LIST_KEYS = {
    "run_id", "integration", "trigger", "status", "started_at", "finished_at", "fetched",
    "errors", "skipped", "people", "saas_users", "message",
}  # fmt: skip
COUNT_KEYS = {"created", "updated", "unchanged", "skipped"}


def add_running_run(factory: sessionmaker[Session], owner: str, beat_age: float = 0.0) -> int:
    """Record a `running` run of 'lever' by another owner whose last heartbeat is that old."""
    beat = utcnow() - timedelta(seconds=beat_age)
    with factory.begin() as session:
        integ = integrations.get(session, "lever")
        run = ledger.open_run(session, integ.id, "scheduled", owner, beat)
        return run.id


def dead_pid() -> int:
    """The id of a process of this host that has exited."""
    with subprocess.Popen(["true"]) as proc:
        proc.wait()
    return proc.pid


def runs_of(factory: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    """Every run's status and message, oldest first."""
    with factory() as session:
        rows = session.execute(select(SyncRun.status, SyncRun.message).order_by(SyncRun.id))
        return [(status, message) for status, message in rows]


@pytest.fixture
def sync(
    launched: Sim, session_factory: sessionmaker[Session], settings: Settings
) -> Callable[..., SyncSummary]:
    """Run a sync of 'lever'."""
    return lambda **kw: run_sync(session_factory, settings, "lever", **kw)


def test_runs_are_listed_newest_first_and_shown_with_every_error(
    sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    first = sync()
    for i in range(25):
        lever_sim[0].set_raw_user({"id": f"bad-{i:02}", "name": "No Email"})
    second = sync(trigger="scheduled")
    listed = [ledger.run_dict(run) for run in ledger.iter_runs(session, "lever")]
    assert [r["run_id"] for r in listed] == [second.run_id, first.run_id]
    assert all(set(r) == LIST_KEYS for r in listed)
    newest = listed[0]
    assert (newest["trigger"], newest["status"], newest["errors"]) == (
        "scheduled", "completed_with_errors", 25,
    )  # fmt: skip
    assert newest["fetched"] == 275 and newest["integration"] == "lever"
    assert set(newest["people"]) == set(newest["saas_users"]) == COUNT_KEYS
    assert newest["people"]["unchanged"] == 250
    assert newest["started_at"].endswith("Z") and newest["finished_at"].endswith("Z")
    detail = ledger.run_detail(session, ledger.get_run(session, second.run_id))
    assert set(detail) == LIST_KEYS | {"error_count"} and detail["error_count"] == 25
    assert [e["record"] for e in detail["errors"]] == [f"bad-{i:02}" for i in range(25)]
    assert all(set(e) == {"record", "message"} and e["message"] for e in detail["errors"])
    assert API_KEY not in str(listed) + str(detail)


def test_a_run_with_no_counts_yet_shows_zeros(
    launched: Sim, session_factory: sessionmaker[Session], session: Session
) -> None:
    run_id = add_running_run(session_factory, "elsewhere.example:1")
    shown = ledger.run_dict(ledger.get_run(session, run_id))
    assert shown["status"] == "running" and shown["finished_at"] is None
    assert shown["people"] == shown["saas_users"] == dict.fromkeys(COUNT_KEYS, 0)


@pytest.mark.parametrize(
    ("owner", "beat_age", "outcome"),
    [
        ("elsewhere.example:4242", 5, "refused"),
        ("elsewhere.example:4242", 600, "has not reported since"),
        (None, 600, "has not reported since"),
        ("here", 0, "is gone"),
    ],
    ids=["live-elsewhere", "silent-elsewhere", "no-owner", "dead-pid-here"],
)
def test_a_live_run_is_respected_and_a_stale_one_is_failed(
    sync: Callable[..., SyncSummary],
    session_factory: sessionmaker[Session],
    owner: str | None,
    beat_age: float,
    outcome: str,
) -> None:
    owner = f"{socket.gethostname()}:{dead_pid()}" if owner == "here" else owner
    held = add_running_run(session_factory, owner or "", beat_age)
    if outcome == "refused":
        with pytest.raises(AlreadyRunningError) as refused:
            sync()
        message = str(refused.value)
        assert refused.value.exit_code == 4
        assert message.startswith(f"integration 'lever' is already running as run {held} (started ")
        assert message.endswith(f"Z by {owner}): wait for it or `invsync runs cancel {held}`")
        assert runs_of(session_factory) == [("running", None)], "no second run recorded"
        return
    assert sync().status == "succeeded"
    (old_status, old_message), (new_status, _) = runs_of(session_factory)
    assert (old_status, new_status) == ("failed", "succeeded")
    assert old_message is not None and outcome in old_message


def test_stale_threshold_is_a_parameter(
    sync: Callable[..., SyncSummary], session_factory: sessionmaker[Session]
) -> None:
    add_running_run(session_factory, "elsewhere.example:7", beat_age=30)
    with pytest.raises(AlreadyRunningError):
        sync()
    assert sync(stale_after=10).status == "succeeded"


def test_simultaneous_starts_in_one_process_give_one_run(
    sync: Callable[..., SyncSummary], gate: Callable[[int], Gate], session: Session
) -> None:
    held = gate(0)
    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(sync) for _ in range(5)]
        wait_until(lambda: sum(f.done() for f in futures) == 4)
        held.open()
        outcomes = [f.exception() or f.result() for f in futures]
    refused = [o for o in outcomes if isinstance(o, AlreadyRunningError)]
    done = [o for o in outcomes if isinstance(o, SyncSummary)]
    assert len(refused) == 4 and len(done) == 1 and done[0].status == "succeeded"
    assert all(f"already running as run {done[0].run_id} " in str(e) for e in refused)
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 1


def test_cancel_stops_the_run_after_the_page_it_is_reading(
    sync: Callable[..., SyncSummary],
    gate: Callable[[int], Gate],
    lever_sim: Sim,
    session_factory: sessionmaker[Session],
) -> None:
    held = gate(1)
    lever_sim[0].inject("slow", delay=1.2)  # the engine commits after a page once 1 s has passed
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(sync)
        wait_until(lambda: people_count(session_factory) == 100)
        with session_factory.begin() as session:
            run = ledger.get_run(session, 1)
            assert ledger.request_cancel(session, run, utcnow()) is False
        held.open()
        summary = future.result(timeout=60)
    assert summary.status == "cancelled" and not summary.complete_read
    assert summary.fetched == 200, "stopped after the page it was reading"
    assert people_count(session_factory) == summary.fetched, "pages read are kept"
    with session_factory() as session:
        shown = ledger.run_dict(ledger.get_run(session, summary.run_id))
    assert (shown["status"], shown["fetched"]) == ("cancelled", summary.fetched)
    assert shown["people"]["created"] == summary.fetched
    assert "no reconciliation" in (shown["message"] or "")


def test_cancelling_a_run_whose_process_is_gone_closes_it_at_once(
    launched: Sim, session_factory: sessionmaker[Session]
) -> None:
    run_id = add_running_run(session_factory, f"{socket.gethostname()}:{dead_pid()}")
    with session_factory.begin() as session:
        closed = ledger.request_cancel(session, ledger.get_run(session, run_id), utcnow())
    assert closed is True
    ((status, message),) = runs_of(session_factory)
    assert status == "cancelled" and message is not None and "is gone" in message


REFUSALS: dict[str, Callable[[Session], Any]] = {
    "cancel": lambda s: ledger.request_cancel(s, ledger.get_run(s, 1), utcnow()),
    "approve": lambda s: ledger.require_held(ledger.get_run(s, 1)),
    "unknown": lambda s: ledger.get_run(s, 99),
}


@pytest.mark.parametrize(
    ("action", "error", "text"),
    [
        ("cancel", ConfigError, "run 1 is not running (status: succeeded)"),
        ("approve", ConfigError, "run 1 is not held (status: succeeded)"),
        ("unknown", NotFoundError, "no run with id 99: see `invsync runs list`"),
    ],
)
def test_actions_on_runs_that_do_not_allow_them_are_refused(
    sync: Callable[..., SyncSummary],
    session: Session,
    action: str,
    error: type[ConfigError],
    text: str,
) -> None:
    sync()
    with pytest.raises(error) as refused:
        REFUSALS[action](session)
    assert str(refused.value).startswith(text) and refused.value.exit_code == 2


def test_unknown_integration_is_refused_when_listing(session: Session) -> None:
    with pytest.raises(NotFoundError, match="no integration named 'nope'"):
        list(ledger.iter_runs(session, "nope"))


def test_the_heartbeat_stays_fresh_while_a_run_goes_and_stops_with_it(
    sync: Callable[..., SyncSummary],
    gate: Callable[[int], Gate],
    session_factory: sessionmaker[Session],
) -> None:
    held = gate(0)

    def beats() -> bool:
        with session_factory() as session:
            run = session.get(SyncRun, 1)
            return (
                run is not None
                and run.heartbeat_at is not None
                and (run.heartbeat_at - run.started_at > timedelta(seconds=0.1))
            )

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(sync, heartbeat_every=0.02)
        wait_until(beats)
        held.open()
        assert future.result(timeout=60).status == "succeeded"
    assert not [t for t in threading.enumerate() if t.name.endswith("-heartbeat")]


def test_the_owner_is_this_host_and_process(
    sync: Callable[..., SyncSummary], session_factory: sessionmaker[Session]
) -> None:
    sync()
    with session_factory() as session:
        run = session.get_one(SyncRun, 1)
    assert run.owner == f"{socket.gethostname()}:{os.getpid()}" == ledger.owner_id()
    assert ledger.pid_alive(os.getpid()) and not ledger.pid_alive(dead_pid())
