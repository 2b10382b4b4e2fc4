"""Syncs as the shell runs them: the sync itself, then its events handed to the workflows.

The sync engine never imports workflows; it records what happened (created and deactivated SaaS
users, in the change log; for a hires poll, the people it hired and those whose start date came,
in the summary's `hires`), and this is where those events reach the workflow runner. A hiring
event processed on its own (a webhook) hands its person over with `hand_person_events`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connector.jobs import run_queued, run_sync
from connector.sync import SyncSummary
from inventory.errors import InvsyncError
from inventory.settings import Settings
from inventory.statuses import SyncRunStatus
from workflows.triggers import (
    Queued,
    handle_person_events,
    handle_sync_events,
    queue_due,
    queue_person_events,
    queue_sync_events,
    run_due,
)

log = logging.getLogger("invsync.jobs")
# Hands a queued workflow run (its id, the workflow's name) to the task engine.
HandOver = Callable[[int, str], None]
# A hires poll's `hires` keys, and the person trigger each hands its people to.
HIRE_TRIGGERS = (("hired", "person_hired"), ("started", "person_started"))


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
    """Hand a sync's events to the workflows: its records' events unless the sync failed or was
    cancelled, then the people a hires poll reports (hired people are stored whatever became of
    the rest of the poll, and a later poll does not report them again)."""
    if summary.status not in (SyncRunStatus.FAILED, SyncRunStatus.CANCELLED):
        _record_events(factory, settings, summary, hand_over)
    for key, trigger in HIRE_TRIGGERS:
        hand_person_events(factory, settings, trigger, (summary.hires or {}).get(key) or [],
                           hand_over)  # fmt: skip


def _record_events(
    factory: sessionmaker[Session],
    settings: Settings,
    summary: SyncSummary,
    hand_over: HandOver | None,
) -> None:
    """Run, or queue and hand over, the record_created / record_deactivated workflows."""
    if hand_over is None:
        _hand_events(factory, settings, summary.run_id)
        return
    for queued in queue_sync_events(factory, settings, summary.run_id):
        log.info("workflow %r queued after sync run %s: run %s", queued.workflow,
                 summary.run_id, queued.run_id)  # fmt: skip
        hand_over(queued.run_id, queued.workflow)


def hand_person_events(
    factory: sessionmaker[Session],
    settings: Settings,
    trigger: str,
    person_ids: Sequence[int],
    hand_over: HandOver | None = None,
) -> None:
    """Hand people to the workflows with a person trigger (person_hired, person_started): run
    them here, or queue them and hand them over when `hand_over` is given; their trouble is
    logged, never raised to the sync or event that reported the people."""
    if not person_ids:
        return
    try:
        if hand_over is None:
            _run_person_events(factory, settings, trigger, person_ids)
        else:
            _queue_person_events(factory, settings, trigger, person_ids, hand_over)
    except InvsyncError as exc:
        log.warning("workflows on %s: %s", trigger, exc)


def _run_person_events(
    factory: sessionmaker[Session], settings: Settings, trigger: str, person_ids: Sequence[int]
) -> None:
    """Run the workflows waiting on the people here, logging each run."""
    for ran in handle_person_events(factory, settings, trigger, person_ids):
        log.info("workflow run on %s: %s", trigger, ran)


def _queue_person_events(
    factory: sessionmaker[Session],
    settings: Settings,
    trigger: str,
    person_ids: Sequence[int],
    hand_over: HandOver,
) -> None:
    """Queue the workflows waiting on the people and hand each run to the task engine."""
    for queued in queue_person_events(factory, settings, trigger, person_ids):
        log.info("workflow %r queued on %s: run %s", queued.workflow, trigger, queued.run_id)
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
