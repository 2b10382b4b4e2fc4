"""Schedules from the command line, and `invsync scheduler` processes: real processes, a real
database, the simulator over loopback."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, schedules
from connector.scheduler import Lease
from inventory.models import SyncRun
from inventory.settings import Settings
from tests.conftest import API_KEY, Sim, create_lever
from tests.web.conftest import Run, invsync_command
from tests.web.test_cli import assert_one_line_error

Factory = sessionmaker[Session]
RUN_END = re.compile(r"run (\d+) of 'lever' (\w+):")


@pytest.fixture
def draft(invsync: Run, settings: Settings, session_factory: Factory, lever_sim: Sim) -> Run:
    """An instance with the simulator's key stored and a draft integration 'lever'."""
    create_lever(session_factory, settings, lever_sim[1].url, smart=False, launch=False)
    return invsync


@pytest.fixture
def launched(launched: Sim, invsync: Run) -> Run:
    """The command runner on an instance whose integration 'lever' is smart-mapped and
    launched."""
    return invsync


def _stored(factory: Factory) -> schedules.ScheduleSpec:
    """The schedule stored on the integration 'lever'."""
    with factory() as session:
        return schedules.of(integrations.get(session, "lever"))


def _schedule(invsync: Run) -> dict[str, object]:
    """The `schedule` object of `integration show lever --format json`."""
    shown = invsync("integration", "show", "lever", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    schedule: dict[str, object] = json.loads(shown.stdout)["schedule"]
    return schedule


def _expected_next(spec: schedules.ScheduleSpec, before: datetime) -> set[str]:
    """The next run a command started at `before` may print (the clock moves on while it runs)."""
    times = (schedules.next_run(spec, t) for t in (before, datetime.now(UTC)))
    return {t.isoformat(timespec="seconds") for t in times if t is not None}


# -- integration schedule and show -----------------------------------------------------------


def test_a_launched_integration_runs_daily_at_two_utc_by_default(launched: Run) -> None:
    before = datetime.now(UTC)
    schedule = _schedule(launched)
    assert set(schedule) == {"kind", "expression", "tz", "paused", "next_run_at"}
    assert schedule | {"next_run_at": None} == {
        "kind": "daily", "expression": "02:00", "tz": "UTC", "paused": False, "next_run_at": None,
    }  # fmt: skip
    assert schedule["next_run_at"] in _expected_next(schedules.DEFAULT, before)
    assert str(schedule["next_run_at"]).endswith("T02:00:00+00:00")


def test_schedule_then_show_json_with_the_zones_offset(launched: Run) -> None:
    before = datetime.now(UTC)
    p = launched("integration", "schedule", "lever", "--daily", "2:00", "--tz", "Europe/Berlin")
    assert p.returncode == 0, p.stderr
    assert "syncs daily at 02:00 (Europe/Berlin); next run 20" in p.stdout
    schedule = _schedule(launched)
    spec = schedules.ScheduleSpec("daily", "02:00", "Europe/Berlin")
    assert schedule["next_run_at"] in _expected_next(spec, before)
    when = datetime.fromisoformat(str(schedule["next_run_at"]))
    assert when.utcoffset() == when.astimezone(ZoneInfo("Europe/Berlin")).utcoffset()
    assert schedule["kind"] == "daily" and schedule["tz"] == "Europe/Berlin"


def test_every_and_cron_schedules(launched: Run, session_factory: Factory) -> None:
    p = launched("integration", "schedule", "lever", "--every", "15m")
    assert p.returncode == 0, p.stderr
    assert _stored(session_factory) == schedules.ScheduleSpec("every", "15m", "UTC")
    when = datetime.fromisoformat(p.stdout.strip().rpartition(" ")[2])
    assert when.minute % 15 == 0 and when.second == 0

    p = launched("integration", "schedule", "lever", "--cron", "0 6 * * 1-5",
                 "--tz", "America/New_York")  # fmt: skip
    assert p.returncode == 0, p.stderr
    spec = schedules.ScheduleSpec("cron", "0 6 * * 1-5", "America/New_York")
    assert _stored(session_factory) == spec
    when = datetime.fromisoformat(p.stdout.strip().rpartition(" ")[2])
    assert (when.hour, when.minute) == (6, 0) and when.weekday() < 5
    assert when.utcoffset() == when.astimezone(ZoneInfo("America/New_York")).utcoffset()


def test_pause_and_resume(launched: Run, session_factory: Factory) -> None:
    paused = launched("integration", "schedule", "lever", "--pause")
    assert paused.returncode == 0 and "daily at 02:00 (UTC), paused" in paused.stdout
    assert _schedule(launched) == {
        "kind": "daily", "expression": "02:00", "tz": "UTC", "paused": True, "next_run_at": None,
    }  # fmt: skip
    table = launched("integration", "show", "lever").stdout
    assert re.search(r"^schedule\s+daily at 02:00 \(UTC\), paused$", table, re.MULTILINE), table
    resumed = launched("integration", "schedule", "lever", "--resume")
    assert resumed.returncode == 0 and "daily at 02:00 (UTC); next run 20" in resumed.stdout
    assert _stored(session_factory) == schedules.DEFAULT


def test_a_draft_shows_its_schedule_but_may_not_be_scheduled(
    draft: Run, session_factory: Factory
) -> None:
    assert _schedule(draft)["next_run_at"] is None
    p = draft("integration", "schedule", "lever", "--every", "1h")
    assert_one_line_error(p, 2, "integration 'lever' is a draft: launch it first")
    assert _stored(session_factory) == schedules.DEFAULT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--daily", "02:00", "--tz", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (("--cron", "0 6 * *"), "--cron '0 6 * *' needs 5 fields"),
        (("--every", "0s"), "--every '0s': the interval must be from 1s to 366d"),
        (("--daily", "02:00", "--every", "1h"), "give one of --daily, --every or --cron"),
        (("--pause", "--resume"), "give --pause or --resume, not both"),
    ],
)
def test_bad_schedules_exit_2_with_one_line(
    launched: Run, session_factory: Factory, args: tuple[str, ...], message: str
) -> None:
    assert_one_line_error(launched("integration", "schedule", "lever", *args), 2, message)
    assert _stored(session_factory) == schedules.DEFAULT, "nothing changed"


def test_scheduling_an_unknown_integration(launched: Run) -> None:
    p = launched("integration", "schedule", "nope", "--every", "1h")
    assert_one_line_error(p, 2, "no integration named 'nope'")


# -- two scheduler processes on one database -------------------------------------------------


class SchedulerProcess:
    """An `invsync scheduler` process whose stderr goes to a file the test reads."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                invsync_command("scheduler", "--renew-every", "1"),
                stdout=subprocess.DEVNULL, stderr=err, env=env,
            )  # fmt: skip
        self.owner = f"{socket.gethostname()}:{self.proc.pid}"

    def text(self) -> str:
        """What it logged so far."""
        return self.log.read_text()

    def ended_runs(self) -> list[tuple[int, str]]:
        """(run id, status) of every run it logged the end of."""
        return [(int(m[1]), m[2]) for m in RUN_END.finditer(self.text())]

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll until the condition holds; fail naming what did not happen, with the log."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"{what} did not happen; log:\n{self.text()}")
            time.sleep(0.02)

    def end(self) -> None:
        """Make sure the process is gone."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@contextmanager
def scheduler_process(env: dict[str, str], log: Path) -> Iterator[SchedulerProcess]:
    """A scheduler process, always ended when the block is left."""
    process = SchedulerProcess(env, log)
    try:
        yield process
    finally:
        process.end()


def _scheduled_runs(factory: Factory) -> dict[int, tuple[str | None, str]]:
    """Run id → (owner, status) of every scheduled run in the database."""
    with factory() as session:
        rows = session.execute(select(SyncRun.id, SyncRun.owner, SyncRun.status)
                               .where(SyncRun.trigger == "schedule"))  # fmt: skip
        return {run_id: (owner, status) for run_id, owner, status in rows}


def test_two_schedulers_one_acts_and_the_standby_takes_over(
    launched: Run, cli_env: dict[str, str], session_factory: Factory, tmp_path: Path
) -> None:
    assert launched("integration", "schedule", "lever", "--every", "2s").returncode == 0
    with scheduler_process(cli_env, tmp_path / "first.log") as first:
        first.wait_for(lambda: "is active" in first.text(), 30, "the first scheduler acting")
        with scheduler_process(cli_env, tmp_path / "second.log") as second:
            second.wait_for(lambda: "standing by" in second.text(), 30, "the second standing by")
            first.wait_for(lambda: len(first.ended_runs()) >= 2, 20, "two runs by the first")
            done = len(first.ended_runs())
            first.wait_for(lambda: len(first.ended_runs()) > done, 10, "one more run")
            first.proc.send_signal(signal.SIGKILL)  # between runs: none is left half done
            first.end()
            by_first = first.ended_runs()
            assert "run of" not in second.text(), "the standby ran nothing"

            second.wait_for(lambda: "is active" in second.text(), 15, "the standby taking over")
            second.wait_for(lambda: len(second.ended_runs()) >= 2, 20, "two runs by the second")
            second.proc.send_signal(signal.SIGTERM)
            assert second.proc.wait(timeout=30) == 0, second.text()
            by_second = second.ended_runs()

    assert {status for _, status in by_first + by_second} == {"succeeded"}
    runs = _scheduled_runs(session_factory)
    assert sorted(runs) == sorted(i for i, _ in by_first + by_second), "every run logged once"
    assert {runs[i][0] for i, _ in by_first} == {first.owner}
    assert {runs[i][0] for i, _ in by_second} == {second.owner}
    assert max(i for i, _ in by_first) < min(i for i, _ in by_second)
    assert "stopped" in second.text() and "already running" not in first.text() + second.text()
    assert API_KEY not in first.text() + second.text()
    assert Lease(session_factory, "test", ttl=timedelta(seconds=3)).holder() is None
