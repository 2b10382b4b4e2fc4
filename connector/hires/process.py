"""What each hiring event means, and the job a worker runs for one stored event.

- `candidateHired`, or `candidateArchiveChange` to a reason of type hired: read the hire from
  Lever and create or update the pre-start person (`apply.apply_hire`);
- `candidateArchiveChange` to another reason, or `candidateDeleted`: cancel a pre-start person;
- `candidateStageChange`: refresh a pre-start person already hired from that opportunity (an
  offer changed while the candidate moved), else nothing;
- any other event: stored, and ignored.

`run_event` owns its transactions like a sync job: it claims the queued event, reads Lever with
the integration's credential, applies the outcome under the event as change-log actor, and
closes the event as succeeded or failed (one line naming the fix); a failed event can be queued
again with `events.rerun`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connector.hires.apply import (
    IGNORED,
    HireOutcome,
    HiringClient,
    HiringReader,
    apply_hire,
    cancel_hire,
)
from connector.hires.events import already_hired, claim
from inventory.changelog import set_actor
from inventory.db import transaction
from inventory.errors import InvsyncError, failure_line
from inventory.models import HireEvent, Integration
from inventory.settings import Settings
from inventory.statuses import HireEventStatus
from inventory.timeutil import utcnow
from vault.keys import load_keyring
from vault.store import Secret, Vault

__all__ = ["EventResult", "close_event", "finish", "process_event", "run_event"]

ClientFactory = Callable[[Integration, Secret], Any]


@dataclass(frozen=True)
class EventResult:
    """What a worker did with an event: the event, its status and its outcome."""

    event_id: int
    status: str
    outcome: HireOutcome | None = None


def process_event(
    session: Session, integ: Integration, event: HireEvent, reader: HiringReader, now: datetime
) -> HireOutcome:
    """Apply one event to People, as its kind says."""
    opportunity = event.opportunity_id
    if opportunity is None:
        return HireOutcome(IGNORED, message="the event names no opportunity")
    data: Mapping[str, Any] = (event.payload or {}).get("data") or {}
    if event.event == "candidateHired":
        return apply_hire(session, integ, reader, opportunity, now)
    if event.event == "candidateArchiveChange":
        return _archive_change(session, integ, reader, opportunity, data, now)
    if event.event == "candidateDeleted":
        return cancel_hire(session, opportunity, "the candidate was deleted in Lever", now)
    if event.event == "candidateStageChange" and already_hired(session, opportunity):
        return apply_hire(session, integ, reader, opportunity, now)
    return HireOutcome(IGNORED, message=f"{event.event}: nothing to do for a hire")


def _archive_change(
    session: Session,
    integ: Integration,
    reader: HiringReader,
    opportunity: str,
    data: Mapping[str, Any],
    now: datetime,
) -> HireOutcome:
    """Archived as hired: a hire; archived otherwise: a cancellation; unarchived: nothing."""
    archived = data.get("toArchived")
    if not isinstance(archived, Mapping):
        return HireOutcome(IGNORED, message="unarchived in Lever: nothing to do")
    if archived.get("reason") in reader.hired_reasons:
        return apply_hire(session, integ, reader, opportunity, now)
    return cancel_hire(session, opportunity, "archived in Lever without a hire", now)


def run_event(
    factory: sessionmaker[Session],
    settings: Settings,
    event_id: int,
    client_factory: ClientFactory,
    owner: str,
    now: Callable[[], datetime] = utcnow,
) -> EventResult:
    """Claim, process and close one queued event; a result with no outcome when another worker
    had it already."""
    with transaction(factory) as session:
        if not claim(session, event_id, owner, now()):
            return EventResult(event_id, "taken")
    try:
        outcome = _process(factory, settings, event_id, client_factory, now)
    except InvsyncError as exc:
        close_event(factory, event_id, HireEventStatus.FAILED, now(), error=failure_line(exc))
        return EventResult(event_id, HireEventStatus.FAILED)
    except BaseException as exc:
        close_event(factory, event_id, HireEventStatus.FAILED, now(), error=failure_line(exc))
        raise
    return EventResult(event_id, HireEventStatus.SUCCEEDED, outcome)


def _process(
    factory: sessionmaker[Session],
    settings: Settings,
    event_id: int,
    client_factory: ClientFactory,
    now: Callable[[], datetime],
) -> HireOutcome:
    """Read Lever and write People for the event, closing it in the same commit."""
    with transaction(factory) as session:
        event = session.get_one(HireEvent, event_id)
        integ = session.get_one(Integration, event.integration_id)
        secret = Vault(session, load_keyring(settings)).get(integ.credential_name)
        set_actor(session, "event", f"{integ.name} event {event.id} ({event.event})")
        client: HiringClient
        with client_factory(integ, secret) as client:
            outcome = process_event(session, integ, event, HiringReader(client), now())
        finish(event, outcome, now())
        return outcome


def finish(event: HireEvent, outcome: HireOutcome, now: datetime) -> None:
    """Close an event as succeeded with its outcome."""
    event.status, event.outcome = HireEventStatus.SUCCEEDED.value, outcome.outcome
    event.person_id, event.message = outcome.person_id, outcome.message
    event.error, event.processed_at = None, now


def close_event(
    factory: sessionmaker[Session], event_id: int, status: str, now: datetime, *, error: str
) -> None:
    """Close an event that could not be processed, with the reason."""
    with transaction(factory) as session:
        event = session.get_one(HireEvent, event_id)
        event.status, event.error, event.processed_at = status, error, now
