"""Dry runs as tasks: asked for from the web app or the API, computed by a worker, kept with
their report so the page and the API can show them.

A dry run reads all of Lever, which takes as long as a sync's read; so, like a sync, the
request only records it (`queue_dry_run`, refused at once when the integration cannot be
dry-run) and a worker computes it (`run_queued_dry_run`), writing nothing but the report. A
shell's `invsync sync NAME --dry-run` still computes it at once (`connector.dryrun.dry_run`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.dryrun import dry_run, require_mapping
from connector.jobs import ClientFactory, lever_client
from connector.ledger import owner_gone, owner_id
from inventory.db import read_only, transaction, update_if
from inventory.errors import InvsyncError, NotFoundError, failure_line
from inventory.models import DryRun, Integration
from inventory.settings import Settings
from inventory.statuses import DryRunStatus
from inventory.timeutil import iso, utcnow

__all__ = [
    "UNFINISHED",
    "close_dead_dry_runs",
    "dry_run_dict",
    "get_dry_run",
    "queue_dry_run",
    "queued_dry_runs",
    "run_queued_dry_run",
]

UNFINISHED = (DryRunStatus.QUEUED, DryRunStatus.RUNNING)


def queue_dry_run(session: Session, name: str, now: datetime | None = None) -> int:
    """Record a dry run of the integration, waiting for a worker; its id. Refused at once when
    the integration has no mapping a real run could use. In the caller's transaction."""
    integ = integrations.get(session, name)
    require_mapping(integ)
    asked = DryRun(integration_id=integ.id, status=DryRunStatus.QUEUED, started_at=now or utcnow())
    session.add(asked)
    session.flush()
    return asked.id


def run_queued_dry_run(
    factory: sessionmaker[Session],
    settings: Settings,
    dry_run_id: int,
    *,
    client_factory: ClientFactory = lever_client,
    now: Callable[[], datetime] = utcnow,
) -> str | None:
    """Compute a queued dry run and keep its report (or the one line that stopped it); its final
    status, or None when it no longer waits (another worker took it)."""
    if not _claim(factory, dry_run_id, now()):
        return None
    try:
        with read_only(factory) as session:  # a dry run stages rows to compare, and keeps none
            name = _integration_name(session, dry_run_id)
            report = dry_run(session, settings, name, client_factory=client_factory, now=now)
    except InvsyncError as exc:
        _finish(factory, dry_run_id, DryRunStatus.FAILED, now(), message=" ".join(str(exc).split()))
        return DryRunStatus.FAILED
    except BaseException as exc:
        _finish(factory, dry_run_id, DryRunStatus.FAILED, now(), message=failure_line(exc))
        raise
    _finish(factory, dry_run_id, DryRunStatus.SUCCEEDED, now(), report=report)
    return DryRunStatus.SUCCEEDED


def get_dry_run(session: Session, dry_run_id: int) -> DryRun:
    """A dry run by id, or a clear error."""
    found = session.get(DryRun, dry_run_id)
    if found is None:
        raise NotFoundError(f"no dry run {dry_run_id}: start one with Dry run on the integration")
    return found


def dry_run_dict(session: Session, asked: DryRun) -> dict[str, Any]:
    """A dry run as the API shows it: its status and, once computed, its report."""
    return {
        "dry_run_id": asked.id,
        "integration": _integration_name(session, asked.id),
        "status": asked.status,
        "message": asked.message,
        "started_at": iso(asked.started_at),
        "finished_at": iso(asked.finished_at),
        "report": asked.report,
    }


def queued_dry_runs(session: Session) -> list[int]:
    """The dry runs waiting for a worker, oldest first."""
    stmt = select(DryRun.id).where(DryRun.status == DryRunStatus.QUEUED).order_by(DryRun.id)
    return list(session.scalars(stmt))


def close_dead_dry_runs(factory: sessionmaker[Session]) -> list[int]:
    """Close as failed the dry runs whose process, on this host, is gone; their ids."""
    with factory() as session:
        going = session.execute(
            select(DryRun.id, DryRun.owner).where(DryRun.status == DryRunStatus.RUNNING)
        ).all()
    dead = [found for found, owner in going if owner_gone(owner)]
    for found in dead:
        why = "failed: the process computing it is gone; start another"
        _finish(factory, found, DryRunStatus.FAILED, utcnow(), message=why)
    return dead


def _claim(factory: sessionmaker[Session], dry_run_id: int, now: datetime) -> bool:
    """Take a queued dry run for this process; False when it no longer waits."""
    with transaction(factory) as session:
        return update_if(session, DryRun, dry_run_id, (DryRunStatus.QUEUED,),
                         status=DryRunStatus.RUNNING, started_at=now, owner=owner_id())  # fmt: skip


def _finish(
    factory: sessionmaker[Session],
    dry_run_id: int,
    status: str,
    now: datetime,
    *,
    report: dict[str, Any] | None = None,
    message: str | None = None,
) -> None:
    """Close a dry run that is going with its report or its one-line failure."""
    with transaction(factory) as session:
        update_if(session, DryRun, dry_run_id, UNFINISHED,
                  status=status, finished_at=now, report=report, message=message)  # fmt: skip


def _integration_name(session: Session, dry_run_id: int) -> str:
    """The name of the integration a dry run is of."""
    stmt = (
        select(Integration.name)
        .join(DryRun, DryRun.integration_id == Integration.id)
        .where(DryRun.id == dry_run_id)
    )
    return str(session.scalar(stmt))
