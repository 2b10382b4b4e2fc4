"""Run a sync of an integration as a job: it owns its transactions, unlike the services.

1. Start: the integration must be active and its credential readable; the run is then recorded
   as `running` in its own commit. The database refuses a second `running` run of an integration
   (a partial unique index), so a start that loses the race is refused with AlreadyRunningError
   (exit code 4) and records nothing, unless the run holding the place is stale (its process is
   gone, or its heartbeat stopped): that one is closed as `failed` and the start goes on.
2. Run: a heartbeat thread keeps `heartbeat_at` fresh on its own connection; the engine commits
   what it wrote about once a second (so a failure or a kill late in a long read keeps what was
   written, and nothing is ever deleted because of a bad read); after each page it stops if a
   cancel was requested, closing the run as `cancelled`.
3. Close: the run's status and counts go in the last commit; a run that broke off unexpectedly
   is closed as `failed`, so it never stays `running`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, ledger
from connector.activity import read_login_activity
from connector.errors import AlreadyRunningError, NotQueuedError
from connector.hires.apply import HiringReader
from connector.hires.poll import poll_hires
from connector.lever.client import LeverClient
from connector.notify import NOTICE_STATUSES, notify_run
from connector.reconcile import reconcile
from connector.sync import LEVER_APP, SyncEngine, SyncSummary
from inventory.changelog import set_actor
from inventory.db import transaction
from inventory.errors import InvsyncError, failure_line
from inventory.models import Integration, SyncRun
from inventory.settings import Settings
from inventory.statuses import SyncRunStatus
from inventory.timeutil import utcnow
from inventory.upsert import ensure_app
from vault.keys import load_keyring
from vault.store import Secret, Vault

ClientFactory = Callable[[Integration, Secret], LeverClient]
HEARTBEAT_EVERY = 15.0
CLAIM_TRIES = 5
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    """One requested sync and how to run it."""

    factory: sessionmaker[Session]
    settings: Settings
    name: str
    trigger: str
    progress: Callable[[int], None] | None
    now: Callable[[], datetime]
    client_factory: ClientFactory
    stale_after: float
    queued: int | None = None


@dataclass(frozen=True)
class Queued:
    """A run waiting for a worker, and whether this request is the one that queued it."""

    run_id: int
    new: bool


@dataclass(frozen=True)
class _Started:
    """What the first transaction of a job hands to the rest."""

    run_id: int
    integration_id: int
    secret: Secret


def lever_client(integ: Integration, secret: Secret, **overrides: Any) -> LeverClient:
    """A Lever client for an integration, with the credential's key and the integration's pacing."""
    options = {"max_rps": float(integ.options.get("max_rps", 10.0)), **overrides}
    return LeverClient(integ.base_url, secret.username, secret.password, **options)


def run_sync(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    *,
    trigger: str = "manual",
    progress: Callable[[int], None] | None = None,
    now: Callable[[], datetime] = utcnow,
    client_factory: ClientFactory = lever_client,
    stale_after: float = ledger.STALE_AFTER,
    heartbeat_every: float = HEARTBEAT_EVERY,
    on_start: Callable[[int], None] | None = None,
    queued: int | None = None,
) -> SyncSummary:
    """Start, run and close one sync of the named integration; AlreadyRunningError when a live
    run of it is going. `on_start` hears the run's id as soon as the run is recorded. With
    `queued`, that waiting run (see `enqueue_sync`) is the one started, rather than a new one."""
    job = _Job(factory, settings, name, trigger, progress, now, client_factory, stale_after, queued)
    started = _start(job)
    if on_start is not None:
        on_start(started.run_id)
    try:
        with Heartbeat(factory, started.run_id, heartbeat_every, now):
            summary = _run(job, started)
    except BaseException as exc:
        _mark_failed(factory, started.run_id, exc, now)
        failed = {"run_id": started.run_id, "status": SyncRunStatus.FAILED}
        _notify(job, failed | {"message": failure_line(exc)})
        raise
    _notify(job, summary.to_dict())
    return summary


# -- start -----------------------------------------------------------------------------------


def _start(job: _Job) -> _Started:
    """Check the integration may run, open its credential and record the run as running; a
    queued run that cannot start is closed as failed with the reason, never left waiting."""
    try:
        return _check_and_claim(job)
    except (AlreadyRunningError, NotQueuedError):
        raise
    except InvsyncError as exc:
        if job.queued is not None:
            with transaction(job.factory) as session:
                ledger.close_queued(
                    session, job.queued, SyncRunStatus.FAILED, failure_line(exc), job.now()
                )
        raise


def _check_and_claim(job: _Job) -> _Started:
    """The checks of a start, then the claim of the run."""
    integration_id, saas_users, secret = _may_start(job.factory, job.settings, job.name)
    return _Started(_claim(job, integration_id, saas_users), integration_id, secret)


def _may_start(
    factory: sessionmaker[Session], settings: Settings, name: str
) -> tuple[int, bool, Secret]:
    """What every start checks first: the integration is active and its credential readable;
    its id, whether it keeps SaaS users, and the credential."""
    with transaction(factory) as session:
        integ = integrations.get(session, name)
        integrations.require_active(integ)
        secret = Vault(session, load_keyring(settings)).get(integ.credential_name)
        return integ.id, integ.saas_users, secret


def _claim(job: _Job, integration_id: int, saas_users: bool) -> int:
    """The id of a new `running` run, once no live run of the integration holds the place."""
    for _ in range(CLAIM_TRIES):
        _clear_stale(job, integration_id)
        try:
            with transaction(job.factory) as session:
                run_id = _open_or_claim(session, job, integration_id)
                if saas_users:
                    # Created here, the app is no write of the engine's first transaction: on
                    # SQLite that transaction would otherwise hold the write lock while Lever's
                    # first page is awaited, locking out heartbeats, cancels and other starts.
                    ensure_app(session, LEVER_APP, "Lever")
                return run_id
        except IntegrityError:
            continue  # another start won the race: the next look names its run
    raise AlreadyRunningError(
        f"integration {job.name!r} is being started by other processes: try again in a moment"
    )


def _open_or_claim(session: Session, job: _Job, integration_id: int) -> int:
    """A new running run, or the job's queued run turned running (NotQueuedError if it was
    cancelled meanwhile); the flush raises IntegrityError while another run is running."""
    owner = ledger.owner_id()
    if job.queued is None:
        return ledger.open_run(session, integration_id, job.trigger, owner, job.now()).id
    if not ledger.claim_queued(session, job.queued, owner, job.now()):
        raise NotQueuedError(f"run {job.queued} is no longer queued: nothing to start")
    return job.queued


# -- queue ------------------------------------------------------------------------------------


def enqueue_sync(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    *,
    trigger: str = "web",
    now: Callable[[], datetime] = utcnow,
    stale_after: float = ledger.STALE_AFTER,
) -> Queued:
    """Record a sync as waiting for a worker, after the checks a start makes (integration
    active, credential readable, no live run going: AlreadyRunningError). A run already waiting
    is the answer to a second request, so at most one waits per integration."""
    job = _Job(factory, settings, name, trigger, None, now, lever_client, stale_after)
    integration_id, _, _ = _may_start(factory, settings, name)
    for _ in range(CLAIM_TRIES):
        _clear_stale(job, integration_id)
        try:
            with transaction(factory) as session:
                return Queued(ledger.queue_run(session, integration_id, trigger, now()).id, True)
        except IntegrityError:
            with transaction(factory) as session:
                waiting = ledger.queued_run(session, integration_id)
                if waiting is not None:
                    return Queued(waiting.id, False)
    raise AlreadyRunningError(
        f"integration {name!r} is being started by other processes: try again in a moment"
    )


def run_queued(
    factory: sessionmaker[Session], settings: Settings, name: str, **options: Any
) -> SyncSummary | None:
    """Start the integration's waiting run, if one waits (None when none does: it was
    cancelled, or another worker took it)."""
    with transaction(factory) as session:
        integ = integrations.get(session, name)
        waiting = ledger.queued_run(session, integ.id)
        if waiting is None:
            return None
        run_id, trigger = waiting.id, waiting.trigger
    try:
        return run_sync(factory, settings, name, trigger=trigger, queued=run_id, **options)
    except NotQueuedError:
        return None


def close_stale_runs(
    factory: sessionmaker[Session],
    *,
    now: Callable[[], datetime] = utcnow,
    stale_after: float = ledger.STALE_AFTER,
) -> list[str]:
    """Close every `running` run whose process is gone or silent as failed (a worker killed
    mid-run); the names of the integrations whose run was closed."""
    with transaction(factory) as session:
        runs = ledger.running_runs(session)
        return [
            run.integration.name
            for run in runs
            if _close_if_stale(session, run, now(), stale_after)
        ]


def waiting_integrations(factory: sessionmaker[Session]) -> list[str]:
    """The integrations that have a run waiting for a worker."""
    with transaction(factory) as session:
        return [run.integration.name for run in ledger.queued_runs(session)]


def _clear_stale(job: _Job, integration_id: int) -> None:
    """Refuse the start while a live run holds the place; close the holder if it is stale.

    Reading first keeps a refusal free of writes, so it is answered at once even while the
    running sync holds SQLite's write lock; the insert that follows is what settles races.
    """
    with transaction(job.factory) as session:
        holder = ledger.running_run(session, integration_id)
        if holder is None:
            return
        if not _close_if_stale(session, holder, job.now(), job.stale_after):
            raise ledger.already_running(holder)


def _close_if_stale(session: Session, run: SyncRun, now: datetime, stale_after: float) -> bool:
    """Close a `running` run as failed if its process is gone or silent; whether it was."""
    reason = ledger.stale_reason(run, now, stale_after)
    if reason is None:
        return False
    log.warning("run %s of %r was left running: %s; marked failed",
                run.id, run.integration.name, reason)  # fmt: skip
    ledger.close_stale(session, run, reason, now)
    return True


# -- run -------------------------------------------------------------------------------------


def _run(job: _Job, started: _Started) -> SyncSummary:
    """Read Lever into the inventory, committing page by page, and close the run."""
    with job.factory() as session:
        integ = session.get_one(Integration, started.integration_id)
        run = session.get_one(SyncRun, started.run_id)
        set_actor(session, "integration", integ.name, run.id)
        with job.client_factory(integ, started.secret) as client:
            if integ.connector == integrations.HIRES:
                summary = poll_hires(
                    session, integ, run, HiringReader(client), job.now, session.commit
                )
            else:
                summary = _read(job, session, integ, run, client)
            if summary.complete_read and integ.connector != integrations.HIRES:
                _after_read(job, session, integ, run, client, summary)
            run.counts = {**run.counts, "lever": client.stats}
        session.commit()
    return summary


def _read(
    job: _Job, session: Session, integ: Integration, run: SyncRun, client: LeverClient
) -> SyncSummary:
    """Stream Lever's pages through the engine, which stops after a page once a cancel is asked."""
    engine = SyncEngine(
        session, integ, client.iter_user_pages(),
        now=job.now, checkpoint=session.commit, progress=job.progress,
        cancelled=lambda: ledger.cancel_requested(session, run.id),
    )  # fmt: skip
    return engine.run(run)


def _after_read(
    job: _Job,
    session: Session,
    integ: Integration,
    run: SyncRun,
    client: LeverClient,
    summary: SyncSummary,
) -> None:
    """After a complete read only: re-check what Lever stopped listing, then read last logins."""
    if integ.saas_users and integ.deactivate_missing and summary.fetched > 0:
        outcome = reconcile(session, integ, run, client, now=job.now())
        summary.reconcile = outcome.to_dict()
        summary.status = run.status
        if outcome.status == "held":
            summary.message = run.message or outcome.message
    if integ.saas_users and integ.login_activity == "audit-events":
        activity = read_login_activity(session, integ, client, now=job.now())
        summary.login_activity = activity.to_dict()
        run.counts = {**run.counts, "login_activity": summary.login_activity}


def _notify(job: _Job, run: dict[str, Any]) -> None:
    """Email the integration's contacts when a run failed or is held; never raises."""
    if run.get("status") not in NOTICE_STATUSES:
        return
    with job.factory() as session:
        integ = session.scalar(select(Integration).where(Integration.name == job.name))
        contacts = list(integ.contacts or ()) if integ is not None else []
    notify_run(job.settings, job.name, contacts, run)


def _mark_failed(
    factory: sessionmaker[Session], run_id: int, exc: BaseException, now: Callable[[], datetime]
) -> None:
    """Close a run that broke off unexpectedly, so it never stays `running`."""
    message = failure_line(exc)
    with transaction(factory) as session:
        run = session.get_one(SyncRun, run_id)
        run.status, run.finished_at, run.message = SyncRunStatus.FAILED, now(), message


# -- heartbeat -------------------------------------------------------------------------------


class Heartbeat:
    """Keeps a running run's `heartbeat_at` fresh from a thread with its own connection, so other
    processes can tell a long run from one whose process died."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        run_id: int,
        every: float = HEARTBEAT_EVERY,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory, self.run_id, self.every, self.now = factory, run_id, every, now
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._beat_until_stopped, name=f"run-{run_id}-heartbeat", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join()

    def _beat_until_stopped(self) -> None:
        """Beat every `every` seconds until stopped."""
        while not self._stopping.wait(self.every):
            self.beat()

    def beat(self) -> None:
        """Write one heartbeat; a failed write is logged and the next beat tries again."""
        try:
            with transaction(self.factory) as session:
                ledger.touch(session, self.run_id, self.now())
        except SQLAlchemyError as exc:
            log.warning("heartbeat of run %s not written: %s", self.run_id, type(exc).__name__)
