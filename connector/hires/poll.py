"""Polling for hires: on the integration's schedule, read the opportunities archived as hired
since the last successful poll, for installs Lever's webhooks cannot reach.

A poll is a sync run of the `lever-hires` integration, with its ledger, lock and history. It
lists opportunities with `archived_at_start` (the last poll's start, less an overlap, in ms),
`archive_reason_id` (each reason of type hired), `confidentiality=all` and the contact and
applications expanded, through the same client (pacing, retries, opaque page tokens). Each hire
not yet stored becomes a `poll` event, processed at once; a hire a webhook already brought is
counted unchanged and not processed again. A hire that fails (no signed offer, no start date)
is a per-record error of the run and a failed event an admin can rerun. Only a complete read
moves the cursor; the first poll looks back `LOOKBACK_DAYS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connector.errors import ConnectorError, RecordError
from connector.hires.apply import (
    CREATED,
    UNCHANGED,
    UPDATED,
    HireOutcome,
    HiringReader,
    apply_read,
)
from connector.hires.events import already_hired, poll_seen, record_poll
from connector.hires.lifecycle import start_due
from connector.hires.process import finish
from connector.ledger import owner_id
from connector.sync import SyncSummary
from inventory.changelog import set_actor
from inventory.models import HireEvent, Integration, SyncRun, SyncRunError
from inventory.statuses import HireEventStatus, SyncRunStatus
from inventory.timeutil import to_ms

__all__ = ["CURSOR", "LOOKBACK_DAYS", "OVERLAP", "poll_hires"]

CURSOR = "hires_polled_ms"
LOOKBACK_DAYS = 90
OVERLAP = timedelta(minutes=5)
_EXPAND = ("contact", "applications")


def poll_hires(
    session: Session,
    integ: Integration,
    run: SyncRun,
    reader: HiringReader,
    now: Callable[[], datetime],
    checkpoint: Callable[[], None],
) -> SyncSummary:
    """Read every hire since the cursor into People, one committed hire at a time."""
    started = now()
    summary = SyncSummary(run.id, integ.name, started_at=run.started_at)
    summary.hires = {"hired": [], "started": []}
    try:
        for opportunity in _hired(reader, _since_ms(integ, started), integ):
            summary.fetched += 1
            _one(session, integ, run, reader, opportunity, now(), summary)
            checkpoint()
    except ConnectorError as exc:
        summary.message = " ".join(str(exc).split())
        return _close(run, summary, now())
    summary.complete_read = True
    set_actor(session, "integration", integ.name, run.id)
    summary.hires["started"] = start_due(session, started.date(), now())
    integ.options = {**integ.options, CURSOR: to_ms(started - OVERLAP)}
    return _close(run, summary, now())


def _hired(reader: HiringReader, since_ms: int, integ: Integration) -> Iterable[dict[str, Any]]:
    """Opportunities archived as hired since the cursor, page by page (none when polling is
    off: the run then only starts the people whose start date has come)."""
    if not integ.options.get("poll", True):
        return
    reasons = sorted(reader.hired_reasons)
    if not reasons:
        return
    pages = reader.client.iter_opportunity_pages(
        archived_at_start=since_ms, archive_reason_id=reasons, confidentiality="all",
        expand=list(_EXPAND),
    )  # fmt: skip
    for page in pages:
        yield from page


def _one(
    session: Session,
    integ: Integration,
    run: SyncRun,
    reader: HiringReader,
    opportunity: dict[str, Any],
    now: datetime,
    summary: SyncSummary,
) -> None:
    """One hire polling found: skipped when already a person (or stored by an overlapping
    poll), else read from Lever, then stored and applied (so nothing is written while Lever
    answers)."""
    if already_hired(session, opportunity["id"]) or poll_seen(session, integ, opportunity):
        summary.people.unchanged += 1
        return
    record, failure = _read(reader, opportunity)
    event = record_poll(session, integ, opportunity, now, owner_id())
    set_actor(session, "event", f"{integ.name} event {event.id} ({event.event})")
    try:
        if failure is not None:
            raise failure
        outcome = apply_read(session, integ, reader, opportunity["id"], record, now)
    except RecordError as exc:
        _failed(session, run, event, exc, now, summary)
        return
    finish(event, outcome, now)
    _count(summary, outcome)
    if outcome.outcome == CREATED and outcome.person_id is not None and summary.hires is not None:
        summary.hires["hired"].append(outcome.person_id)


def _read(
    reader: HiringReader, opportunity: dict[str, Any]
) -> tuple[dict[str, Any] | None, RecordError | None]:
    """The hire's record read from Lever, or what is wrong with it."""
    try:
        return reader.record_of(opportunity), None
    except RecordError as exc:
        return None, exc


def _failed(
    session: Session,
    run: SyncRun,
    event: HireEvent,
    exc: RecordError,
    now: datetime,
    summary: SyncSummary,
) -> None:
    """A hire that cannot be a person: the event fails and the run notes a record error."""
    event.status, event.error, event.processed_at = HireEventStatus.FAILED.value, str(exc), now
    session.add(SyncRunError(run_id=run.id, record_key=exc.key[:320], message=str(exc)))
    summary.errors += 1
    if len(summary.error_samples) < 5:
        summary.error_samples.append((exc.key, str(exc)))


def _count(summary: SyncSummary, outcome: HireOutcome) -> None:
    """Count a hire's outcome among the run's people."""
    if outcome.outcome == CREATED:
        summary.people.created += 1
    elif outcome.outcome == UPDATED:
        summary.people.updated += 1
    elif outcome.outcome == UNCHANGED:
        summary.people.unchanged += 1
    else:
        summary.people.skipped += 1


def _since_ms(integ: Integration, now: datetime) -> int:
    """Where this poll starts: the cursor, or `LOOKBACK_DAYS` ago on the first poll."""
    cursor = integ.options.get(CURSOR)
    return cursor if isinstance(cursor, int) else to_ms(now - timedelta(days=LOOKBACK_DAYS))


def _close(run: SyncRun, summary: SyncSummary, now: datetime) -> SyncSummary:
    """Close the run with its counts: failed when the read broke off (the cursor stays),
    completed with errors when a hire failed."""
    status = SyncRunStatus.FAILED
    if summary.complete_read:
        status = SyncRunStatus.COMPLETED_WITH_ERRORS if summary.errors else SyncRunStatus.SUCCEEDED
    summary.status, summary.finished_at = status.value, now
    run.status, run.finished_at, run.complete_read = status.value, now, summary.complete_read
    run.fetched, run.error_count, run.message = summary.fetched, summary.errors, summary.message
    run.counts = {**run.counts, "people": summary.people.to_dict()}
    return summary
