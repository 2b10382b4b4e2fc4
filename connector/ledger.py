"""The run ledger: every run of an integration, its trigger, status, counts and per-record errors,
and the rule that an integration has at most one `running` run.

The rule itself is the database's: a partial unique index refuses a second `running` row, so it
holds across processes on SQLite and PostgreSQL alike. What this module adds is deciding whether
the run holding the place is still going: a run whose process is gone (same host, pid not alive)
or whose heartbeat stopped long ago is stale, and may be closed as `failed` so the next run starts.
Services take a Session and never commit; `connector.jobs` owns the transactions.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, joinedload

from connector import integrations
from connector.errors import AlreadyRunningError
from inventory.db import update_if
from inventory.errors import ConfigError, NotFoundError
from inventory.models import SyncRun, SyncRunError
from inventory.statuses import SyncRunStatus, values
from inventory.timeutil import iso

__all__ = [
    "STALE_AFTER",
    "STATUSES",
    "already_running",
    "cancel_requested",
    "claim_queued",
    "close_queued",
    "close_stale",
    "get_run",
    "iter_errors",
    "iter_runs",
    "open_run",
    "owner_gone",
    "owner_id",
    "pid_alive",
    "queue_run",
    "queued_run",
    "queued_runs",
    "request_cancel",
    "require_held",
    "run_detail",
    "run_dict",
    "running_run",
    "running_runs",
    "stale_reason",
    "touch",
]

STATUSES = values(SyncRunStatus)
STALE_AFTER = 120.0
_NO_COUNTS = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}


# -- who runs a run --------------------------------------------------------------------------


def owner_id() -> str:
    """This process as a run's owner: `hostname:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether a process of that id exists on this host (one owned by another user counts)."""
    if os.name != "posix":
        return True  # no cheap probe: the heartbeat alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_gone(owner: str | None, host: str | None = None) -> bool:
    """Whether the owner (`hostname:pid`) ran on this host and its process no longer exists."""
    owner_host, _, pid = (owner or "").rpartition(":")
    return (
        owner_host == (host or socket.gethostname()) and pid.isdigit() and not pid_alive(int(pid))
    )


def stale_reason(
    run: SyncRun, now: datetime, stale_after: float = STALE_AFTER, host: str | None = None
) -> str | None:
    """Why a `running` run is no longer going, or None while it may still be."""
    if owner_gone(run.owner, host):
        return f"the process running it ({run.owner}) is gone"
    beat = run.heartbeat_at or run.started_at
    if now - beat > timedelta(seconds=stale_after):
        return f"the process running it ({_who(run)}) has not reported since {iso(beat)}"
    return None


def _who(run: SyncRun) -> str:
    """A run's owner for messages."""
    return run.owner or "an unknown process"


# -- starting, beating, closing ----------------------------------------------------------------


def open_run(
    session: Session, integration_id: int, trigger: str, owner: str, now: datetime
) -> SyncRun:
    """Record a run as `running`; the flush raises IntegrityError if one is going already."""
    run = SyncRun(
        integration_id=integration_id, trigger=trigger, status=SyncRunStatus.RUNNING,
        started_at=now, heartbeat_at=now, owner=owner,
    )  # fmt: skip
    session.add(run)
    session.flush()
    return run


def queue_run(session: Session, integration_id: int, trigger: str, now: datetime) -> SyncRun:
    """Record a run as `queued` (waiting for a worker); the flush raises IntegrityError if one
    waits already."""
    run = SyncRun(
        integration_id=integration_id, trigger=trigger, status=SyncRunStatus.QUEUED,
        started_at=now,
    )  # fmt: skip
    session.add(run)
    session.flush()
    return run


def _in_status(status: str) -> Select[SyncRun]:
    """Runs in a status, with their integration, oldest first."""
    query = select(SyncRun).where(SyncRun.status == status)
    return query.options(joinedload(SyncRun.integration)).order_by(SyncRun.id)


def queued_run(session: Session, integration_id: int) -> SyncRun | None:
    """The integration's `queued` run, if any."""
    query = _in_status(SyncRunStatus.QUEUED)
    return session.scalar(query.where(SyncRun.integration_id == integration_id))


def queued_runs(session: Session) -> list[SyncRun]:
    """Every run waiting for a worker, oldest first."""
    return list(session.scalars(_in_status(SyncRunStatus.QUEUED)))


def running_runs(session: Session) -> list[SyncRun]:
    """Every run marked `running`, live or not."""
    return list(session.scalars(_in_status(SyncRunStatus.RUNNING)))


def claim_queued(session: Session, run_id: int, owner: str, now: datetime) -> bool:
    """Turn a queued run into the running one; False when it is no longer queued (cancelled).
    The flush raises IntegrityError while another run of the integration is running."""
    claimed = session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id, SyncRun.status == SyncRunStatus.QUEUED)
        .values(status=SyncRunStatus.RUNNING, started_at=now, heartbeat_at=now, owner=owner)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def close_queued(session: Session, run_id: int, status: str, message: str, now: datetime) -> None:
    """Close a run that never started, only while it is still `queued`."""
    _close_if(session, run_id, SyncRunStatus.QUEUED, status, message, now)


def running_run(session: Session, integration_id: int) -> SyncRun | None:
    """The integration's `running` run, if any."""
    query = _in_status(SyncRunStatus.RUNNING)
    return session.scalar(query.where(SyncRun.integration_id == integration_id))


def already_running(run: SyncRun) -> AlreadyRunningError:
    """The one-line refusal of a second start, naming the run that holds the place."""
    return AlreadyRunningError(
        f"integration {run.integration.name!r} is already running as run {run.id} (started "
        f"{iso(run.started_at)} by {_who(run)}): wait for it or `invsync runs cancel {run.id}`"
    )


def close_stale(session: Session, run: SyncRun, reason: str, now: datetime) -> None:
    """Close a stale run as `failed`, unless something else closed it first."""
    _close_if_running(session, run.id, SyncRunStatus.FAILED, reason, now)


def _close_if_running(
    session: Session, run_id: int, status: str, message: str, now: datetime
) -> None:
    """Set a run's final status, only while it is still `running` (racing closers are fine)."""
    _close_if(session, run_id, SyncRunStatus.RUNNING, status, message, now)


def _close_if(
    session: Session, run_id: int, current: str, status: str, message: str, now: datetime
) -> None:
    """Set a run's final status, only while it is still in `current` (racing closers are fine)."""
    update_if(session, SyncRun, run_id, (current,), status=status, finished_at=now, message=message)


def touch(session: Session, run_id: int, now: datetime) -> None:
    """Refresh a running run's heartbeat."""
    session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id, SyncRun.status == SyncRunStatus.RUNNING)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )


def cancel_requested(session: Session, run_id: int) -> bool:
    """Whether someone asked the run to stop (read from the database, not the session's copy)."""
    query = select(SyncRun.cancel_requested).where(SyncRun.id == run_id)
    return bool(session.scalar(query))


# -- what users do to runs -----------------------------------------------------------------------


def get_run(session: Session, run_id: int) -> SyncRun:
    """The run of that id, or a NotFoundError naming the fix."""
    run = session.get(SyncRun, run_id, options=[joinedload(SyncRun.integration)])
    if run is None:
        raise NotFoundError(f"no run with id {run_id}: see `invsync runs list`")
    return run


def iter_runs(session: Session, name: str | None = None) -> Iterator[SyncRun]:
    """Runs, newest first, of one integration or of all."""
    query = select(SyncRun).options(joinedload(SyncRun.integration))
    if name is not None:
        query = query.where(SyncRun.integration_id == integrations.get(session, name).id)
    return iter(session.scalars(query.order_by(SyncRun.id.desc())))


def request_cancel(
    session: Session, run: SyncRun, now: datetime, stale_after: float = STALE_AFTER
) -> bool:
    """Ask a running run to stop at its next page; True when the run was closed as `cancelled`
    at once: it was still queued, or its process was gone."""
    if run.status == SyncRunStatus.QUEUED:
        close_queued(session, run.id, SyncRunStatus.CANCELLED, "cancelled before it started", now)
        session.refresh(run)
        return True
    _require_status(run, SyncRunStatus.RUNNING, "cancelled")
    run.cancel_requested = True
    session.flush()
    reason = stale_reason(run, now, stale_after)
    if reason is not None:
        message = f"cancelled at the user's request; {reason}"
        _close_if_running(session, run.id, SyncRunStatus.CANCELLED, message, now)
    return reason is not None


def require_held(run: SyncRun) -> None:
    """Refuse to approve a run that is not waiting for approval."""
    _require_status(run, SyncRunStatus.HELD, "approved")


def _require_status(run: SyncRun, status: str, verb: str) -> None:
    """A one-line refusal when a run is not in the status an action needs."""
    if run.status != status:
        raise ConfigError(
            f"run {run.id} is not {status} (status: {run.status}): "
            f"only a {status} run can be {verb}"
        )


# -- the JSON shape ----------------------------------------------------------------------------


def run_dict(run: SyncRun) -> dict[str, Any]:
    """A run as `invsync runs list --format json` prints it: snake_case keys, ISO-8601 UTC."""
    counts = run.counts or {}
    return {
        "run_id": run.id,
        "integration": run.integration.name,
        "trigger": run.trigger,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "fetched": run.fetched,
        "errors": run.error_count,
        "skipped": run.skipped,
        "people": {**_NO_COUNTS, **counts.get("people", {})},
        "saas_users": {**_NO_COUNTS, **counts.get("saas_users", {})},
        "message": run.message,
    }


def iter_errors(session: Session, run_id: int) -> Iterator[dict[str, str]]:
    """Every per-record error of a run, in the order they were met."""
    query = select(SyncRunError.record_key, SyncRunError.message).where(
        SyncRunError.run_id == run_id
    )
    for key, message in session.execute(query.order_by(SyncRunError.id)):
        yield {"record": key, "message": message}


def run_detail(session: Session, run: SyncRun) -> dict[str, Any]:
    """A run as `invsync runs show` prints it: the list shape with every per-record error under
    `errors` (their number stays under `error_count`)."""
    return {
        **run_dict(run),
        "error_count": run.error_count,
        "errors": list(iter_errors(session, run.id)),
    }
