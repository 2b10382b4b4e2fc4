"""`invsync runs` and one run per integration as real processes meet them: the ledger's JSON,
cancelling from another process, five simultaneous starts, and a sync killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector import ledger
from connector.jobs import run_sync
from inventory.settings import Settings
from tests.conftest import Gate, Sim, people_count, wait_until
from tests.connector.test_ledger import LIST_KEYS, add_running_run, runs_of
from tests.web.conftest import Proc, Run
from tests.web.test_cli import assert_one_line_error


def running_line(run_id: int, owner: str) -> str:
    """The tail of the one-line refusal of a second start."""
    return f"Z by {owner}): wait for it or `invsync runs cancel {run_id}`"


def test_runs_list_and_show_print_the_ledger(
    launched: Sim,
    invsync: Run,
    lever_sim: Sim,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    run_sync(session_factory, settings, "lever")
    for i in range(3):
        lever_sim[0].set_raw_user({"id": f"bad-{i}", "name": "No Email"})
    run_sync(session_factory, settings, "lever", trigger="scheduled")

    listed = json.loads(invsync("runs", "list", "--format", "json").stdout)
    assert [r["run_id"] for r in listed] == [2, 1] and all(set(r) == LIST_KEYS for r in listed)
    assert (listed[0]["trigger"], listed[0]["status"], listed[0]["errors"]) == (
        "scheduled", "completed_with_errors", 3,
    )  # fmt: skip
    assert listed[1]["people"] == {"created": 250, "updated": 0, "unchanged": 0, "skipped": 0}
    assert listed[1]["started_at"].endswith("Z") and listed[1]["finished_at"].endswith("Z")

    shown = json.loads(invsync("runs", "show", "2", "--format", "json").stdout)
    assert shown == {**listed[0], "error_count": 3, "errors": shown["errors"]}
    assert [e["record"] for e in shown["errors"]] == ["bad-0", "bad-1", "bad-2"]
    assert all(set(e) == {"record", "message"} for e in shown["errors"])

    table = invsync("runs", "list", "lever").stdout.splitlines()
    assert table[0].split()[:4] == ["run_id", "integration", "trigger", "status"]
    assert [row.split()[:4] for row in table[1:]] == [
        ["2", "lever", "scheduled", "completed_with_errors"], ["1", "lever", "manual", "succeeded"],
    ]  # fmt: skip
    text = invsync("runs", "show", "2").stdout
    assert "run 2 of 'lever' (scheduled): completed_with_errors" in text
    assert text.count("  error: bad-") == 3


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("runs", "show", "99"), "no run with id 99: see `invsync runs list`"),
        (("runs", "cancel", "99"), "no run with id 99"),
        (("runs", "cancel", "1"), "run 1 is not running (status: succeeded)"),
        (("runs", "list", "nope"), "no integration named 'nope'"),
        (("runs", "show", "first"), "'first' is not a valid integer"),
    ],
)
def test_mistakes_about_runs_are_one_line_exit_2(
    launched: Sim,
    invsync: Run,
    session_factory: sessionmaker[Session],
    settings: Settings,
    args: tuple[str, ...],
    text: str,
) -> None:
    run_sync(session_factory, settings, "lever")
    assert_one_line_error(invsync(*args), 2, text)


def test_a_live_run_elsewhere_is_respected(
    launched: Sim, invsync: Run, session_factory: sessionmaker[Session]
) -> None:
    add_running_run(session_factory, "build-7.example:4242", beat_age=5)
    refused = invsync("sync", "lever")
    assert_one_line_error(refused, 4, "integration 'lever' is already running as run 1 (started ")
    assert refused.stderr.strip().endswith(running_line(1, "build-7.example:4242"))
    assert runs_of(session_factory) == [("running", None)]


def test_cancel_from_another_process_stops_the_sync_after_its_page(
    launched: Sim,
    invsync: Run,
    spawn: Callable[..., Proc],
    gate: Callable[[int], Gate],
    lever_sim: Sim,
    session_factory: sessionmaker[Session],
) -> None:
    held = gate(1)
    lever_sim[0].inject("slow", delay=1.2)  # the engine commits after a page once 1 s has passed
    syncing = spawn("sync", "lever")
    wait_until(lambda: people_count(session_factory) == 100)
    cancelled = invsync("runs", "cancel", "1")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancel requested: run 1 stops after the page it is reading" in cancelled.stdout
    held.open()
    out, err = syncing.communicate(timeout=60)
    assert syncing.returncode == 1 and err.splitlines() == ["invsync: error: run 1 was cancelled"]
    assert "run 1 of 'lever': cancelled; fetched 200" in out
    with session_factory() as session:
        shown = ledger.run_dict(ledger.get_run(session, 1))
    assert (shown["status"], shown["fetched"]) == ("cancelled", 200)
    assert shown["people"]["created"] == 200
    assert people_count(session_factory) == 200, "the pages read are kept"


def test_five_simultaneous_starts_make_one_run(
    launched: Sim,
    invsync: Run,
    spawn: Callable[..., Proc],
    gate: Callable[[int], Gate],
    session_factory: sessionmaker[Session],
) -> None:
    held = gate(0)
    procs = [spawn("sync", "lever", "--format", "json") for _ in range(5)]
    wait_until(lambda: sum(p.poll() is not None for p in procs) == 4, timeout=90)
    (winner,) = [p for p in procs if p.poll() is None]
    owner = f"{socket.gethostname()}:{winner.pid}"
    for loser in (p for p in procs if p is not winner):
        out, err = loser.communicate(timeout=10)
        refusal = subprocess.CompletedProcess(loser.args, loser.returncode, out, err)
        assert_one_line_error(refusal, 4, "integration 'lever' is already running as run 1 ")
        assert err.strip().endswith(running_line(1, owner)) and not out
    held.open()
    out, err = winner.communicate(timeout=60)
    assert winner.returncode == 0, err
    assert json.loads(out)["run_id"] == 1
    assert runs_of(session_factory) == [("succeeded", None)], "exactly one run recorded"


def test_a_sync_killed_mid_run_is_failed_by_the_next_which_finishes_the_job(
    launched: Sim,
    invsync: Run,
    spawn: Callable[..., Proc],
    gate: Callable[[int], Gate],
    lever_sim: Sim,
    session_factory: sessionmaker[Session],
) -> None:
    held = gate(1)
    lever_sim[0].inject("slow", delay=1.2)  # the engine commits after a page once 1 s has passed
    doomed = spawn("sync", "lever")
    wait_until(lambda: people_count(session_factory) == 100)
    assert runs_of(session_factory) == [("running", None)]
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    held.open()

    rerun = invsync("sync", "lever", "--format", "json")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["status"] == "succeeded" and summary["fetched"] == 250
    assert summary["people"] == {"created": 150, "updated": 0, "unchanged": 100, "skipped": 0}
    gone = f"the process running it ({socket.gethostname()}:{doomed.pid}) is gone"
    assert gone in rerun.stderr
    assert runs_of(session_factory) == [("failed", gone), ("succeeded", None)]

    third = json.loads(invsync("sync", "lever", "--format", "json").stdout)
    assert third["people"]["created"] == third["people"]["updated"] == 0
    assert third["saas_users"]["created"] == third["saas_users"]["updated"] == 0
    assert third["people"]["unchanged"] == 250
