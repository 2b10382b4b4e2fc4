"""The scheduler: while it holds the database's scheduler lease, one APScheduler job per active,
unpaused integration starts its sync on schedule; otherwise it stands by.

- **One scheduler acts per database.** Each one tries every `renew_every` seconds to hold the
  lease in `scheduler_lease`: it renews a lease it holds and takes one that is absent or expired.
  A lease lapses after three periods without renewal, so a standby takes over within about that
  long after the active scheduler dies; one that is stopped hands over at once. Hosts running
  schedulers must agree on the time to within a period.
- **Jobs live in the database** (APScheduler's SQLAlchemyJobStore, on an engine of its own that
  it disposes when it stops) and are reconciled from the integrations table when a scheduler
  takes over and every `sync_every` seconds after, so schedule edits made from the command line
  are picked up.
- **Missed runs** are coalesced into one within an hour's grace; **one run per integration**
  goes at a time: `max_instances=1` here, and the run lock of `run_sync` across processes.
- Every run logs its start and its end, with status and counts, at INFO; never a secret.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from connector import schedules
from connector.errors import AlreadyRunningError
from connector.jobs import run_sync
from connector.schedules import ScheduleError, ScheduleSpec
from connector.sync import SyncSummary
from inventory.db import make_engine, transaction
from inventory.errors import InvsyncError
from inventory.models import Integration, SchedulerLease
from inventory.settings import Settings
from inventory.timeutil import utcnow

__all__ = [
    "JOB_DEFAULTS",
    "LEASE_NAME",
    "RENEW_EVERY",
    "SYNC_EVERY",
    "Lease",
    "RunSync",
    "SchedulerService",
    "default_owner",
    "run_scheduled",
    "summary_line",
]

LEASE_NAME = "scheduler"
RENEW_EVERY = 5.0
SYNC_EVERY = 30.0
LEASE_PERIODS = 3
JOB_PREFIX = "sync:"
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1}
WORKERS = 4
Clock = Callable[[], datetime]
log = logging.getLogger(__name__)

# Jobs stored in the database name their runner by a token; each acting service registers its
# own, so a job loaded by whichever process holds the lease reaches that process's service.
_RUNNERS: dict[str, Callable[[str], None]] = {}


class RunSync(Protocol):
    """What runs one sync: `connector.jobs.run_sync`, or a stand-in in tests; or what queues it
    for a worker, answering with the waiting run's id."""

    def __call__(
        self, factory: sessionmaker[Session], settings: Settings, name: str, *, trigger: str
    ) -> SyncSummary | int: ...


def default_owner() -> str:
    """This scheduler as a lease owner: `hostname:pid:random`, unique even within a process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# -- the lease ---------------------------------------------------------------------------------


class Lease:
    """A named lease in the database: one owner at a time, lapsing unless renewed in time."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        owner: str,
        *,
        ttl: timedelta,
        name: str = LEASE_NAME,
        clock: Clock = utcnow,
    ) -> None:
        self.factory, self.owner, self.ttl, self.name, self.clock = factory, owner, ttl, name, clock
        self.held_until: datetime | None = None

    def hold(self) -> bool:
        """Renew the lease if ours, else take it if absent or expired; True while ours."""
        now = self.clock()
        with transaction(self.factory) as session:
            held = self._renew(session, now) or self._take(session, now)
            absent = not held and session.get(SchedulerLease, self.name) is None
        held = held or (absent and self._create(now))
        self.held_until = now + self.ttl if held else None
        return held

    def _renew(self, session: Session, now: datetime) -> bool:
        """Push our lease's expiry on; False when the lease is not ours."""
        mine = SchedulerLease.owner == self.owner
        return self._update(session, mine, expires_at=now + self.ttl)

    def _take(self, session: Session, now: datetime) -> bool:
        """Take the lease over from an owner that let it expire."""
        expired = SchedulerLease.expires_at <= now
        return self._update(
            session, expired, owner=self.owner, acquired_at=now, expires_at=now + self.ttl
        )

    def _update(self, session: Session, condition: Any, **values: Any) -> bool:
        """Change the lease row where the condition holds; True when a row changed."""
        stmt = (
            update(SchedulerLease)
            .where(SchedulerLease.name == self.name, condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], session.execute(stmt)).rowcount == 1

    def _create(self, now: datetime) -> bool:
        """Create the lease row as ours; False when another scheduler created it first."""
        row = SchedulerLease(
            name=self.name, owner=self.owner, acquired_at=now, expires_at=now + self.ttl
        )
        try:
            with transaction(self.factory) as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def release(self) -> None:
        """Let the lease go at once, so a standby takes over at its next try."""
        with transaction(self.factory) as session:
            mine = SchedulerLease.owner == self.owner
            self._update(session, mine, expires_at=self.clock())
        self.held_until = None

    def holder(self) -> str | None:
        """The owner of the unexpired lease, if anyone holds it."""
        with transaction(self.factory) as session:
            row = session.get(SchedulerLease, self.name)
            return row.owner if row and row.expires_at > self.clock() else None

    def is_held(self) -> bool:
        """Whether our last hold is still good by our clock (no database round trip)."""
        return self.held_until is not None and self.clock() < self.held_until


# -- the job function --------------------------------------------------------------------------


def run_scheduled(runner: str, integration: str) -> None:
    """The function every stored job calls: hand the run to the service that registered it."""
    run = _RUNNERS.get(runner)
    if run is None:
        log.warning("run of %r not started: its scheduler is no longer acting here", integration)
        return
    run(integration)


def summary_line(summary: SyncSummary) -> str:
    """A run's end as one log line: status and counts."""
    p, u = summary.people, summary.saas_users
    return (
        f"run {summary.run_id} of {summary.integration!r} {summary.status}: "
        f"fetched {summary.fetched}, errors {summary.errors}, skipped {summary.skipped}; "
        f"people {p.created} created, {p.updated} updated, {p.unchanged} unchanged; "
        f"saas users {u.created} created, {u.updated} updated, {u.unchanged} unchanged"
    )


# -- the service -------------------------------------------------------------------------------


class SchedulerService:
    """Acts as the database's scheduler while it holds the lease; stands by otherwise."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        owner: str | None = None,
        renew_every: float = RENEW_EVERY,
        sync_every: float = SYNC_EVERY,
        clock: Clock = utcnow,
        run: RunSync = run_sync,
        on_beat: Callable[[datetime, datetime], object] | None = None,
    ) -> None:
        self.factory, self.settings = factory, settings
        self._on_beat = on_beat
        self._beat_since: datetime | None = None
        self._beat_thread: threading.Thread | None = None
        self.owner = owner or default_owner()
        ttl = timedelta(seconds=renew_every * LEASE_PERIODS)
        self.lease = Lease(factory, self.owner, ttl=ttl, clock=clock)
        self.renew_every, self.sync_every, self.clock = renew_every, sync_every, clock
        self._run = run
        self._token = uuid.uuid4().hex
        self._scheduler: BackgroundScheduler | None = None
        self._store: Engine | None = None
        self._next_sync: datetime | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._standby_noted = False

    @property
    def active(self) -> bool:
        """Whether this service is the one acting on the database."""
        return self._scheduler is not None

    # -- running ----------------------------------------------------------------------------

    def run(self) -> None:
        """Beat every `renew_every` seconds until `stop()`, then stand down and let go."""
        log.info("scheduler %s started", self.owner)
        try:
            while True:
                self.tick()
                if self._stopping.wait(self.renew_every):
                    break
        finally:
            self.close()

    def start(self) -> None:
        """Run in a background thread (as `invsync serve` does)."""
        self._thread = threading.Thread(target=self.run, name="invsync-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end; wait for the background thread, if there is one."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        """Stand down, waiting for runs in progress, and hand the lease over."""
        was_active = self.active
        self._stand_down(wait=True)
        if was_active:
            self._release()
        log.info("scheduler %s stopped", self.owner)

    def _release(self) -> None:
        """Let the lease go; a database that cannot be reached lets it lapse instead."""
        try:
            self.lease.release()
        except (SQLAlchemyError, InvsyncError) as exc:
            log.warning("scheduler lease not released (%s); it lapses", type(exc).__name__)

    # -- one beat ---------------------------------------------------------------------------

    def tick(self) -> None:
        """One beat: hold or take the lease, then act (start, reconcile when due) or stand by."""
        if self._hold():
            self._act()
        elif self.active:
            log.warning("scheduler %s lost the lease; standing by", self.owner)
            self._stand_down(wait=False)
        else:
            self._note_standby()

    def _hold(self) -> bool:
        """Whether this service holds the lease now; a database error counts as no."""
        try:
            return self.lease.hold()
        except (SQLAlchemyError, InvsyncError) as exc:
            log.warning("scheduler lease not renewed: database error %s", type(exc).__name__)
            return False

    def _act(self) -> None:
        """Take over if not acting yet; reconcile the jobs when it is time."""
        if not self.active:
            self._take_over()
        elif self._next_sync is None or self.clock() >= self._next_sync:
            self._reconcile_logged()
        self._beat()

    def _beat(self) -> None:
        """Hand the time since the last beat to `on_beat` (scheduled workflows) on its own
        thread, one beat at a time, so lease renewal never waits on it; no interval is lost."""
        if self._on_beat is None:
            return
        now = self.clock()
        if self._beat_since is None:
            self._beat_since = now
            return
        if self._beat_thread is not None and self._beat_thread.is_alive():
            return
        since, self._beat_since = self._beat_since, now
        self._beat_thread = threading.Thread(target=self._run_beat, args=(since, now), daemon=True)
        self._beat_thread.start()

    def _run_beat(self, since: datetime, now: datetime) -> None:
        """Run one beat's work; its errors are logged, never raised into the scheduler."""
        try:
            self._on_beat(since, now)  # type: ignore[misc]
        except Exception as exc:
            log.error("scheduled work between %s and %s failed: %s", since, now, type(exc).__name__)

    def join_beat(self, timeout: float | None = None) -> None:
        """Wait for the beat in progress, if any (closing waits for it; so can a caller)."""
        if self._beat_thread is not None:
            self._beat_thread.join(timeout)

    def _note_standby(self) -> None:
        """Say once that this scheduler is standing by, and for whom."""
        if self._standby_noted:
            return
        self._standby_noted = True
        try:
            holder = self.lease.holder()
        except (SQLAlchemyError, InvsyncError):
            holder = None
        log.info("scheduler %s standing by (active: %s)", self.owner, holder or "none")

    def _take_over(self) -> None:
        """Start APScheduler paused, put its stored jobs in step, then let them run."""
        store = make_engine(self.settings)
        scheduler = _new_scheduler(store)
        try:
            scheduler.start(paused=True)
        except SQLAlchemyError as exc:
            log.warning("scheduler not started: database error %s", type(exc).__name__)
            store.dispose()
            return
        _RUNNERS[self._token] = self.run_job
        self._scheduler, self._store, self._standby_noted = scheduler, store, False
        log.info("scheduler %s is active", self.owner)
        self._reconcile_logged()
        scheduler.resume()

    def _stand_down(self, *, wait: bool) -> None:
        """Stop acting: shut APScheduler down; with `wait`, let runs and the beat in hand end."""
        self._beat_since = None
        scheduler, self._scheduler = self._scheduler, None
        _RUNNERS.pop(self._token, None)
        if scheduler is not None:
            scheduler.shutdown(wait=wait)
        if wait:
            self.join_beat()
        if self._store is not None:
            # APScheduler's loop reads the store once more after closing it: close that too.
            self._store.dispose()
            self._store = None

    # -- jobs -------------------------------------------------------------------------------

    def _reconcile_logged(self) -> None:
        """Reconcile, logging a database error rather than stopping the scheduler."""
        try:
            self.reconcile()
        except (SQLAlchemyError, InvsyncError) as exc:
            log.warning("jobs not reconciled: database error %s", type(exc).__name__)

    def reconcile(self) -> None:
        """Make the stored jobs match the active, unpaused integrations and their schedules."""
        scheduler = self._require_scheduler()
        wanted = self._wanted()
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                log.info("unscheduled %r", job.kwargs.get("integration", job.id))
                job.remove()
        for job_id, (name, spec) in wanted.items():
            self._ensure_job(scheduler, job_id, name, spec)
        self._next_sync = self.clock() + timedelta(seconds=self.sync_every)

    def _require_scheduler(self) -> BackgroundScheduler:
        """The running APScheduler; reconciling needs this service to be acting."""
        if self._scheduler is None:
            raise RuntimeError("the scheduler is standing by: it has no jobs to reconcile")
        return self._scheduler

    def _wanted(self) -> dict[str, tuple[str, ScheduleSpec]]:
        """Job id → (integration, checked schedule) of every integration that runs on schedule."""
        with transaction(self.factory) as session:
            rows = session.scalars(select(Integration).where(Integration.state == "active"))
            due = [(i.name, schedules.of(i)) for i in rows if schedules.runs_on_schedule(i)]
        return {JOB_PREFIX + name: (name, spec) for name, spec in due if _usable(name, spec)}

    def _ensure_job(
        self, scheduler: BackgroundScheduler, job_id: str, name: str, spec: ScheduleSpec
    ) -> None:
        """Add or reschedule a job whose schedule changed; adopt an unchanged one as is."""
        job = scheduler.get_job(job_id)
        label = f"{name}: {spec.kind} {spec.expression} ({spec.tz})"
        kwargs = {"runner": self._token, "integration": name}
        if job is not None and job.name == label:
            if job.kwargs != kwargs:
                job.modify(kwargs=kwargs)  # keeps its next run, so a missed run still happens
            return
        job = scheduler.add_job(
            run_scheduled, schedules.trigger(spec), id=job_id, name=label, kwargs=kwargs,
            replace_existing=True, **JOB_DEFAULTS,
        )  # fmt: skip
        log.info("scheduled %r %s; next run %s", name, schedules.describe(spec), _next(job, spec))

    def jobs(self) -> dict[str, datetime | None]:
        """Integration → next run time of every stored job (empty while standing by)."""
        if self._scheduler is None:
            return {}
        return {j.kwargs["integration"]: j.next_run_time for j in self._scheduler.get_jobs()}

    # -- one run ----------------------------------------------------------------------------

    def run_job(self, name: str) -> None:
        """Run one scheduled sync, logging its start and end; no error stops the scheduler."""
        if not self.lease.is_held():
            log.warning("run of %r not started: this scheduler's lease lapsed", name)
            return
        log.info("run of %r started (schedule)", name)
        try:
            summary = self._run(self.factory, self.settings, name, trigger="schedule")
        except AlreadyRunningError:
            log.info("run of %r skipped: already running", name)
        except InvsyncError as exc:
            log.warning("run of %r failed: %s", name, exc)
        except Exception as exc:
            log.error("run of %r failed: internal error %s", name, type(exc).__name__)
        else:
            if isinstance(summary, SyncSummary):
                log.info("%s", summary_line(summary))
            else:
                log.info("run %s of %r queued for a worker", summary, name)


def _new_scheduler(store: Engine) -> BackgroundScheduler:
    """An APScheduler keeping its jobs in the database, with this project's job defaults."""
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=store)},
        executors={"default": ThreadPoolExecutor(WORKERS)},
        job_defaults=JOB_DEFAULTS,
        timezone=UTC,
    )


def _usable(name: str, spec: ScheduleSpec) -> bool:
    """Whether a stored schedule can be scheduled; a broken one is logged and left out."""
    try:
        schedules.trigger(spec)
    except ScheduleError as exc:
        log.warning("integration %r not scheduled: %s", name, exc)
        return False
    return True


def _next(job: Job, spec: ScheduleSpec) -> str:
    """A job's next run for a log line, in the schedule's time zone."""
    when = job.next_run_time
    if when is None:
        return "none"
    return when.astimezone(schedules.zone(spec.tz)).isoformat(timespec="seconds")
