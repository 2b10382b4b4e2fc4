"""The scheduler: the lease that lets one scheduler act per database, jobs kept in step with the
integrations table, and scheduled runs that never stop the scheduler when they fail."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector import schedules
from connector.errors import AlreadyRunningError, LeverAuthError
from connector.scheduler import Lease, SchedulerService, run_scheduled, summary_line
from connector.sync import SyncSummary
from inventory.db import transaction
from inventory.models import Integration, SchedulerLease
from inventory.settings import Settings
from tests.connector.conftest import FakeClock

Factory = sessionmaker[Session]
TTL = timedelta(seconds=3)


class Recorder:
    """Stands in for run_sync: records each run it is asked for and reports success."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_with = fail_with
        self._lock = threading.Lock()

    def __call__(
        self, factory: Factory, settings: Settings, name: str, *, trigger: str
    ) -> SyncSummary:
        with self._lock:
            self.calls.append((name, trigger))
            run_id = len(self.calls)
        if self.fail_with is not None:
            raise self.fail_with
        return SyncSummary(run_id=run_id, integration=name, status="succeeded", fetched=3)

    def count(self, name: str) -> int:
        with self._lock:
            return sum(1 for n, _ in self.calls if n == name)


@pytest.fixture
def make_service(
    session_factory: Factory, settings: Settings, clock: FakeClock
) -> Iterator[Callable[..., SchedulerService]]:
    """Build scheduler services on the test database; every one is closed at the end."""
    made: list[SchedulerService] = []

    def make(owner: str, run: Recorder | None = None, **options: float) -> SchedulerService:
        service = SchedulerService(
            session_factory, settings, owner=owner, clock=clock.wall,
            run=run or Recorder(), **{"renew_every": 1.0, "sync_every": 30.0, **options},
        )  # fmt: skip
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


def _add(factory: Factory, name: str, state: str = "active", **schedule: object) -> None:
    """An integration row with the given state and schedule columns."""
    with transaction(factory) as session:
        session.add(Integration(name=name, credential_name="k", base_url="http://x", state=state,
                                **schedule))  # fmt: skip


def _change(factory: Factory, name: str, **change: object) -> None:
    """Edit a schedule the way `invsync integration schedule` does: on the row, committed."""
    with transaction(factory) as session:
        integ = session.query(Integration).filter_by(name=name).one()
        schedules.change(integ, **change)  # type: ignore[arg-type]


def _wait_for(condition: Callable[[], bool], timeout: float = 8.0) -> bool:
    """Poll until the condition holds or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- the lease ---------------------------------------------------------------------------------


def test_one_holder_at_a_time_until_the_lease_lapses(
    session_factory: Factory, clock: FakeClock
) -> None:
    a = Lease(session_factory, "a", ttl=TTL, clock=clock.wall)
    b = Lease(session_factory, "b", ttl=TTL, clock=clock.wall)
    assert a.hold() and not b.hold()
    assert a.holder() == b.holder() == "a"
    clock.advance(2)
    assert a.hold(), "renewed: now good until +5s"
    clock.advance(2.9)
    assert not b.hold(), "still a's lease at +4.9s"
    clock.advance(0.2)
    assert b.hold(), "a let it lapse: b takes over"
    assert not a.hold() and not a.is_held()
    assert a.holder() == "b"


def test_renewing_keeps_acquired_at_and_moves_expires_at(
    session_factory: Factory, clock: FakeClock
) -> None:
    lease = Lease(session_factory, "a", ttl=TTL, clock=clock.wall)
    start = clock.wall()
    assert lease.hold()
    clock.advance(1)
    assert lease.hold()
    with session_factory() as session:
        row = session.get_one(SchedulerLease, "scheduler")
        expires = start + timedelta(seconds=4)
        assert (row.owner, row.acquired_at, row.expires_at) == ("a", start, expires)
    assert lease.held_until == expires


def test_a_released_lease_is_taken_at_once(session_factory: Factory, clock: FakeClock) -> None:
    a = Lease(session_factory, "a", ttl=TTL, clock=clock.wall)
    b = Lease(session_factory, "b", ttl=TTL, clock=clock.wall)
    assert a.hold()
    a.release()
    assert a.holder() is None and not a.is_held()
    clock.advance(0.001)
    assert b.hold() and b.holder() == "b"


def test_a_lapsed_lease_goes_to_one_contender(session_factory: Factory, clock: FakeClock) -> None:
    leases = [Lease(session_factory, f"s{i}", ttl=TTL, clock=clock.wall) for i in range(3)]
    assert leases[0].hold()
    clock.advance(10)
    assert [lease.hold() for lease in leases[1:]] == [True, False]


def test_is_held_follows_the_clock_without_the_database(
    session_factory: Factory, clock: FakeClock
) -> None:
    lease = Lease(session_factory, "a", ttl=TTL, clock=clock.wall)
    assert not lease.is_held()
    lease.hold()
    clock.advance(2.9)
    assert lease.is_held()
    clock.advance(0.2)
    assert not lease.is_held()


# -- acting and standing by --------------------------------------------------------------------


def test_a_second_scheduler_stands_by_and_takes_over_when_the_first_stops(
    make_service: Callable[..., SchedulerService], clock: FakeClock
) -> None:
    first, second = make_service("first"), make_service("second")
    first.tick()
    second.tick()
    assert first.active and not second.active
    first.close()
    clock.advance(0.001)
    second.tick()
    assert second.active and second.lease.holder() == "second"


def test_a_scheduler_that_lost_its_lease_stands_down(
    make_service: Callable[..., SchedulerService], clock: FakeClock
) -> None:
    first, second = make_service("first"), make_service("second")
    first.tick()
    clock.advance(3.5)  # first missed its renewals (paused, partitioned…): its lease lapsed
    second.tick()
    first.tick()
    assert second.active and not first.active
    assert first.jobs() == {}


# -- jobs in step with the integrations table --------------------------------------------------


def test_jobs_follow_integrations_and_pick_up_a_schedule_change(
    make_service: Callable[..., SchedulerService], session_factory: Factory, clock: FakeClock
) -> None:
    _add(session_factory, "alpha")
    _add(session_factory, "draft-one", state="draft")
    _add(session_factory, "paused-one", schedule_paused=True)
    _add(session_factory, "stopped-one", state="paused")
    runs = Recorder()
    service = make_service("only", runs)
    service.tick()
    assert list(service.jobs()) == ["alpha"]
    default_next = schedules.next_run(schedules.DEFAULT, datetime.now(UTC))
    assert service.jobs()["alpha"] == default_next, "the default: daily at 02:00 UTC"

    _change(session_factory, "alpha", kind="every", expression="1s")
    service.tick()
    assert runs.count("alpha") == 0, "not reconciled before sync_every has passed"
    clock.advance(30)
    service.tick()
    assert _wait_for(lambda: runs.count("alpha") >= 2), runs.calls
    assert set(runs.calls) == {("alpha", "schedule")}

    _change(session_factory, "alpha", paused=True)
    _change(session_factory, "paused-one", paused=False, kind="daily", expression="03:00")
    clock.advance(30)
    service.tick()
    assert list(service.jobs()) == ["paused-one"]
    settled = runs.count("alpha")
    time.sleep(1.5)
    assert runs.count("alpha") <= settled + 1, "at most a run already under way"


def test_a_scheduler_taking_over_adopts_the_stored_jobs(
    make_service: Callable[..., SchedulerService], session_factory: Factory, clock: FakeClock
) -> None:
    _add(session_factory, "alpha", schedule_kind="every", schedule_expr="1s", schedule_tz="UTC")
    first_runs, second_runs = Recorder(), Recorder()
    first, second = make_service("first", first_runs), make_service("second", second_runs)
    first.tick()
    second.tick()
    assert _wait_for(lambda: first_runs.count("alpha") >= 1)
    first.close()
    done_by_first = first_runs.count("alpha")
    clock.advance(0.001)
    second.tick()
    assert _wait_for(lambda: second_runs.count("alpha") >= 2), second_runs.calls
    assert first_runs.count("alpha") == done_by_first


def test_a_stored_schedule_that_no_longer_parses_is_left_out(
    make_service: Callable[..., SchedulerService],
    session_factory: Factory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _add(session_factory, "alpha", schedule_tz="Bad/Zone")
    _add(session_factory, "beta")
    caplog.set_level(logging.INFO, logger="connector.scheduler")
    service = make_service("only")
    service.tick()
    assert list(service.jobs()) == ["beta"]
    assert "integration 'alpha' not scheduled: unknown time zone 'Bad/Zone'" in caplog.text


# -- one scheduled run -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "level", "line"),
    [
        (None, logging.INFO, "run 1 of 'alpha' succeeded: fetched 3, errors 0, skipped 0; "
                             "people 0 created, 0 updated, 0 unchanged; "
                             "saas users 0 created, 0 updated, 0 unchanged"),
        (AlreadyRunningError("integration 'alpha' is already running as run 7"), logging.INFO,
         "run of 'alpha' skipped: already running"),
        (LeverAuthError(), logging.WARNING, "run of 'alpha' failed: Lever API key refused"),
        (RuntimeError("boom with details"), logging.ERROR,
         "run of 'alpha' failed: internal error RuntimeError"),
    ],
)  # fmt: skip
def test_a_run_logs_its_start_and_end_and_never_raises(
    make_service: Callable[..., SchedulerService],
    caplog: pytest.LogCaptureFixture,
    error: Exception | None,
    level: int,
    line: str,
) -> None:
    service = make_service("only", Recorder(fail_with=error))
    assert service.lease.hold()
    caplog.set_level(logging.INFO, logger="connector.scheduler")
    service.run_job("alpha")
    started, ended = caplog.records[-2:]
    assert started.getMessage() == "run of 'alpha' started (schedule)"
    assert (ended.levelno, ended.getMessage().startswith(line)) == (level, True), ended.getMessage()
    assert "boom with details" not in caplog.text


def test_a_run_is_not_started_once_the_lease_lapsed(
    make_service: Callable[..., SchedulerService],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = Recorder()
    service = make_service("only", runs)
    service.lease.hold()
    clock.advance(3.5)
    service.run_job("alpha")
    assert runs.calls == []
    assert "run of 'alpha' not started: this scheduler's lease lapsed" in caplog.text


def test_a_job_of_a_scheduler_that_stopped_acting_does_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_scheduled("no-such-runner", "alpha")
    assert "run of 'alpha' not started: its scheduler is no longer acting here" in caplog.text


def test_summary_line_counts() -> None:
    summary = SyncSummary(run_id=4, integration="lever", status="completed_with_errors",
                          fetched=10, errors=2, skipped=1)  # fmt: skip
    summary.people.created, summary.saas_users.updated = 7, 3
    assert summary_line(summary) == (
        "run 4 of 'lever' completed_with_errors: fetched 10, errors 2, skipped 1; "
        "people 7 created, 0 updated, 0 unchanged; saas users 0 created, 3 updated, 0 unchanged"
    )


def test_closing_waits_for_the_beat_in_progress(
    session_factory: Factory, settings: Settings, clock: FakeClock
) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow_beat(_since: object, _now: object) -> None:
        started.set()
        time.sleep(0.3)  # a scheduled workflow run still going when the service is closed
        finished.set()

    service = SchedulerService(
        session_factory, settings, owner="closing", clock=clock.wall, run=Recorder(),
        renew_every=1.0, on_beat=slow_beat,
    )  # fmt: skip
    service.tick()
    clock.advance(1.0)
    service.tick()
    assert started.wait(5)
    service.close()
    assert finished.is_set(), "close returned while the beat's work was still running"


def test_the_beat_hands_over_every_interval_once_while_acting(
    session_factory: Factory, settings: Settings, clock: FakeClock
) -> None:
    beats: list[tuple[object, object]] = []
    service = SchedulerService(
        session_factory, settings, owner="beating", clock=clock.wall, run=Recorder(),
        renew_every=1.0, on_beat=lambda since, now: beats.append((since, now)),
    )  # fmt: skip
    try:
        for _ in range(4):
            service.tick()
            service.join_beat(5)
            clock.advance(1.0)
    finally:
        service.close()
    assert len(beats) >= 2
    assert all(a[1] == b[0] for a, b in itertools.pairwise(beats)), "no gap, no overlap"
    assert all(since < now for since, now in beats)
