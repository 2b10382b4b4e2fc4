"""Triggers: what starts active workflows besides a person (`manual`).

* **schedule** — `scheduled_workflows(session)` lists the active scheduled workflows with their
  checked schedules (the same `daily` / `every` / `cron` + time zone as integrations, so
  `connector.schedules.trigger(spec)` builds the APScheduler trigger), and `run_scheduled` is
  what a scheduler job calls; `run_due(factory, settings, since=…, now=…)` runs every scheduled
  workflow with a fire time in (since, now], for a scheduler that polls instead; `queue_due`
  queues those runs for workers instead of running them.
* **record_created / record_deactivated** — `handle_sync_events(factory, settings, run_id)`
  runs, after a sync run, the active workflows with those triggers on exactly the SaaS users the
  run created or deactivated, their criteria evaluated in Python on each; `queue_sync_events`
  queues the same runs (with their records) for workers.
* **person_hired / person_started** — `handle_person_events(factory, settings, trigger, ids)`
  runs the active people workflows with that trigger on exactly the people named (a hire's
  person once it is created as ``pre_start``; a person whose start date came, now ``active``),
  their criteria evaluated in Python on each; `queue_person_events` queues the same runs for
  workers. The shell calls them with what a hires poll or a hiring event reports.

Which SaaS users a sync run created or deactivated comes from the change log when the run's
session named itself as actor (`set_actor(session, "integration", NAME, run_id)`): its
``create`` and ``deactivate`` rows for SaaS users with that run id. Without such rows it comes
from the SaaS users themselves: created = first stored by that run (`last_run_id` is the run and
`record_created_at` falls within it); deactivated = now deactivated, of the run's integration,
changed while it ran and not created by it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, sessionmaker

from connector.schedules import ScheduleSpec, trigger
from inventory.errors import InvsyncError
from inventory.models import Change, SaasUser, SyncRun, Workflow
from inventory.settings import Settings
from inventory.statuses import SaasUserStatus
from inventory.timeutil import utcnow
from workflows.definition import PERSON_TRIGGERS, parse_trigger
from workflows.objects import PEOPLE
from workflows.runner import RunOptions, RunSummary, queue_workflow, run_workflow

__all__ = [
    "EVENT_TRIGGERS",
    "PERSON_TRIGGERS",
    "Queued",
    "ScheduledWorkflow",
    "SyncEvents",
    "due",
    "event_work",
    "handle_person_events",
    "handle_sync_events",
    "person_workflows",
    "queue_due",
    "queue_person_events",
    "queue_sync_events",
    "run_due",
    "run_scheduled",
    "scheduled_workflows",
    "sync_events",
]

EVENT_TRIGGERS = ("record_created", "record_deactivated")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledWorkflow:
    """An active workflow that runs on a schedule."""

    name: str
    schedule: ScheduleSpec


@dataclass(frozen=True)
class Queued:
    """A workflow run recorded as waiting for a worker."""

    run_id: int
    workflow: str


@dataclass(frozen=True)
class SyncEvents:
    """The SaaS users a sync run created and deactivated, and where that was read from."""

    created: list[int] = field(default_factory=list)
    deactivated: list[int] = field(default_factory=list)
    source: str = "changes"


# -- schedules -------------------------------------------------------------------------------


def scheduled_workflows(session: Session) -> list[ScheduledWorkflow]:
    """Every active workflow with a schedule trigger; a broken one is logged and left out."""
    found = []
    for workflow in _active(session):
        try:
            parsed = parse_trigger(workflow.definition.get("trigger"))
        except ValueError as exc:
            log.warning("workflow %r not scheduled: %s", workflow.name, exc)
            continue
        if parsed.schedule is not None:
            found.append(ScheduledWorkflow(workflow.name, parsed.schedule))
    return found


def run_scheduled(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    options: RunOptions | None = None,
) -> RunSummary | None:
    """Run one scheduled workflow, logging its start and end; no error escapes to the scheduler."""
    log.info("workflow %r started (schedule)", name)
    try:
        summary = run_workflow(factory, settings, name, trigger="schedule", options=options)
    except InvsyncError as exc:
        log.warning("workflow %r not run: %s", name, exc)
        return None
    except Exception as exc:
        log.error("workflow %r failed: internal error %s", name, type(exc).__name__)
        return None
    log.info("workflow %r run %s %s: matched %s", name, summary.run_id, summary.status,
             summary.matched)  # fmt: skip
    return summary


def run_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    since: datetime,
    now: datetime | None = None,
    options: RunOptions | None = None,
) -> list[RunSummary]:
    """Run every scheduled workflow with a fire time in (since, now]; their summaries."""
    runs = (run_scheduled(factory, settings, name, options) for name in due(factory, since, now))
    return [summary for summary in runs if summary is not None]


def queue_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    since: datetime,
    now: datetime | None = None,
) -> list[Queued]:
    """Queue a run of every scheduled workflow with a fire time in (since, now], for workers."""
    found = (_queue(factory, settings, name, "schedule") for name in due(factory, since, now))
    return [queued for queued in found if queued is not None]


def due(factory: sessionmaker[Session], since: datetime, now: datetime | None) -> list[str]:
    """The scheduled workflows with a fire time in (since, now]."""
    now = now or utcnow()
    with factory() as session:
        return [w.name for w in scheduled_workflows(session) if _fires(w.schedule, since, now)]


def _queue(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    trigger: str,
    record_ids: Sequence[int] | None = None,
) -> Queued | None:
    """Queue one run of a workflow; a workflow that cannot run is logged and left out."""
    try:
        run_id = queue_workflow(factory, settings, name, trigger=trigger, record_ids=record_ids)
    except InvsyncError as exc:
        log.warning("workflow %r not queued (%s): %s", name, trigger, exc)
        return None
    return Queued(run_id, name)


def _fires(spec: ScheduleSpec, since: datetime, now: datetime) -> bool:
    """Whether the schedule has a fire time after `since` and at or before `now`."""
    fire = trigger(spec).get_next_fire_time(None, since + timedelta(microseconds=1))
    return fire is not None and fire <= now


# -- sync events -----------------------------------------------------------------------------


def handle_sync_events(
    factory: sessionmaker[Session],
    settings: Settings,
    run_id: int,
    options: RunOptions | None = None,
) -> list[RunSummary]:
    """Run the active record_created / record_deactivated workflows on the SaaS users the sync
    run created / deactivated; one run per workflow that matched any record."""
    summaries = []
    for name, kind, ids in event_work(factory, run_id):
        summaries += _run_event(factory, settings, name, kind, ids, options)
    return summaries


def queue_sync_events(
    factory: sessionmaker[Session], settings: Settings, run_id: int
) -> list[Queued]:
    """Queue, for workers, the runs `handle_sync_events` would make after this sync run."""
    found = (_queue(factory, settings, name, kind, ids) for name, kind, ids in
             event_work(factory, run_id))  # fmt: skip
    return [queued for queued in found if queued is not None]


def event_work(factory: sessionmaker[Session], run_id: int) -> list[tuple[str, str, list[int]]]:
    """Each active event workflow with the sync run's records for its trigger (name, trigger,
    SaaS user ids); workflows whose event left no record are left out."""
    with factory() as session:
        events = sync_events(session, run_id)
        kinds = {w.name: _event_type(w) for w in _active(session)}
    work = []
    for name, kind in kinds.items():
        if kind not in EVENT_TRIGGERS:
            continue
        ids = events.created if kind == "record_created" else events.deactivated
        if ids:
            work.append((name, kind, ids))
    return work


def _run_event(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    kind: str,
    ids: Sequence[int],
    options: RunOptions | None,
) -> list[RunSummary]:
    """Run one workflow on an event's records."""
    try:
        summary = run_workflow(factory, settings, name, trigger=kind, record_ids=ids,
                               options=options)  # fmt: skip
    except InvsyncError as exc:
        log.warning("workflow %r not run on %s: %s", name, kind, exc)
        return []
    return [summary]


def sync_events(session: Session, run_id: int) -> SyncEvents:
    """The SaaS users a sync run created and deactivated (see the module's notes)."""
    logged = _from_changes(session, run_id)
    if logged is not None:
        return logged
    run = session.get(SyncRun, run_id)
    if run is None:
        return SyncEvents(source="records")
    return _from_records(session, run)


def _from_changes(session: Session, run_id: int) -> SyncEvents | None:
    """The run's create and deactivate rows for SaaS users; None when it logged no change."""
    stmt = select(Change.action, Change.object_id).where(
        Change.run_id == run_id,
        Change.actor_kind == "integration",
        Change.object_type == "saas_user",
    )
    rows = session.execute(stmt.order_by(Change.id)).all()
    if not rows:
        return None
    created = sorted({i for action, i in rows if action == "create"})
    deactivated = sorted({i for action, i in rows if action == "deactivate"} - set(created))
    return SyncEvents(created, deactivated, "changes")


def _from_records(session: Session, run: SyncRun) -> SyncEvents:
    """The run's created and deactivated SaaS users, read from the records' own stamps."""
    within = _within(SaasUser.record_created_at, run)
    created_where = and_(SaasUser.last_run_id == run.id, within)
    gone_where = and_(
        SaasUser.integration_id == run.integration_id,
        SaasUser.status == SaasUserStatus.DEACTIVATED,
        _within(SaasUser.updated_at, run),
        ~within,
    )
    created = list(session.scalars(select(SaasUser.id).where(created_where).order_by(SaasUser.id)))
    gone = list(session.scalars(select(SaasUser.id).where(gone_where).order_by(SaasUser.id)))
    return SyncEvents(created, gone, "records")


def _within(column: Any, run: SyncRun) -> ColumnElement[bool]:
    """The column's time falls within the run."""
    if run.finished_at is None:
        return column >= run.started_at
    return and_(column >= run.started_at, column <= run.finished_at)


# -- person events ---------------------------------------------------------------------------


def handle_person_events(
    factory: sessionmaker[Session],
    settings: Settings,
    trigger: str,
    person_ids: Sequence[int],
    options: RunOptions | None = None,
) -> list[RunSummary]:
    """Run each active people workflow with the trigger (person_hired, person_started) on
    exactly these people, its criteria evaluated on each; one run per workflow."""
    ids = _person_ids(trigger, person_ids)
    summaries = []
    for name in person_workflows(factory, trigger) if ids else []:
        summaries += _run_event(factory, settings, name, trigger, ids, options)
    return summaries


def queue_person_events(
    factory: sessionmaker[Session], settings: Settings, trigger: str, person_ids: Sequence[int]
) -> list[Queued]:
    """Queue, for workers, the runs `handle_person_events` would make: each walks exactly these
    people (the run's `record_ids`); nothing is queued for no people or no such workflow."""
    ids = _person_ids(trigger, person_ids)
    names = person_workflows(factory, trigger) if ids else []
    found = (_queue(factory, settings, name, trigger, ids) for name in names)
    return [queued for queued in found if queued is not None]


def person_workflows(factory: sessionmaker[Session], trigger: str) -> list[str]:
    """The active people workflows with that trigger, by name."""
    with factory() as session:
        return [w.name for w in _active(session)
                if w.object_type == PEOPLE and _event_type(w) == trigger]  # fmt: skip


def _person_ids(trigger: str, person_ids: Sequence[int]) -> list[int]:
    """The distinct person ids, in order; ValueError for a trigger that is not a person's."""
    if trigger not in PERSON_TRIGGERS:
        raise ValueError(f"{trigger!r} is not a person trigger ({', '.join(PERSON_TRIGGERS)})")
    return sorted({int(i) for i in person_ids})


# -- helpers ---------------------------------------------------------------------------------


def _active(session: Session) -> list[Workflow]:
    """Every active workflow, by name."""
    stmt = select(Workflow).where(Workflow.state == "active").order_by(Workflow.name)
    return list(session.scalars(stmt))


def _event_type(workflow: Workflow) -> str | None:
    """The trigger type of a stored workflow."""
    trigger_doc = workflow.definition.get("trigger")
    return trigger_doc.get("type") if isinstance(trigger_doc, dict) else None
