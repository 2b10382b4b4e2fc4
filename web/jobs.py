"""Syncs as the shell runs them: the sync itself, then its events handed to the workflows.

The sync engine never imports workflows; it records what happened (created and deactivated SaaS
users, in the change log), and this is where those events reach the workflow runner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connector.jobs import run_queued, run_sync
from connector.sync import SyncSummary
from inventory.errors import InvsyncError
from inventory.settings import Settings
from inventory.statuses import SyncRunStatus
from workflows.triggers import Queued, handle_sync_events, queue_due, queue_sync_events, run_due

log = logging.getLogger("invsync.jobs")
# Hands a queued workflow run (its id, the workflow's name) to the task engine.
HandOver = Callable[[int, str], None]


def sync_with_events(
    factory: sessionmaker[Session], settings: Settings, name: str, **options: Any
) -> SyncSummary:
    """Run one sync, then the record_created / record_deactivated workflows on what it changed."""
    summary = run_sync(factory, settings, name, **options)
    _after(factory, settings, summary)
    return summary


def waiting_sync_with_events(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    *,
    hand_over: HandOver | None = None,
    **options: Any,
) -> SyncSummary | None:
    """Start the integration's queued run as a task does, then its workflows (queued and handed
    over, when `hand_over` is given); None when no run waits (it was cancelled, or another
    worker took it)."""
    summary = run_queued(factory, settings, name, **options)
    if summary is not None:
        _after(factory, settings, summary, hand_over)
    return summary


def _after(
    factory: sessionmaker[Session],
    settings: Settings,
    summary: SyncSummary,
    hand_over: HandOver | None = None,
) -> None:
    """Hand a sync's events to the workflows, unless the sync failed or was cancelled."""
    if summary.status in (SyncRunStatus.FAILED, SyncRunStatus.CANCELLED):
        return
    if hand_over is None:
        _hand_events(factory, settings, summary.run_id)
        return
    for queued in queue_sync_events(factory, settings, summary.run_id):
        log.info("workflow %r queued after sync run %s: run %s", queued.workflow,
                 summary.run_id, queued.run_id)  # fmt: skip
        hand_over(queued.run_id, queued.workflow)


def scheduled_workflows(
    factory: sessionmaker[Session], settings: Settings, hand_over: HandOver | None = None
) -> Callable[[datetime, datetime], object]:
    """The scheduler's beat: run every workflow whose schedule fired in (since, now], or, with
    `hand_over`, queue those runs and hand them to the task engine."""
    if hand_over is None:
        return lambda since, now: run_due(factory, settings, since=since, now=now)

    def queue(since: datetime, now: datetime) -> list[Queued]:
        """Queue the due runs for the workers."""
        queued = queue_due(factory, settings, since=since, now=now)
        for each in queued:
            hand_over(each.run_id, each.workflow)
        return queued

    return queue


def _hand_events(factory: sessionmaker[Session], settings: Settings, run_id: int) -> None:
    """Run the workflows waiting on this sync's events; their trouble never fails the sync."""
    try:
        for ran in handle_sync_events(factory, settings, run_id):
            log.info("workflow run after sync run %s: %s", run_id, ran)
    except InvsyncError as exc:
        log.warning("workflows after sync run %s: %s", run_id, exc)
