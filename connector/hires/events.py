"""Hiring events: stored on receipt (signed webhooks) or when polling finds a hire, listed for
admins, processed by a worker, and run again on request.

An event is `queued` until a worker takes it (`processing`), then `succeeded` (with its outcome:
created, updated, unchanged, cancelled or ignored) or `failed` (with the one-line error naming
what to fix). A webhook's token is stored with it, and the same token for the same integration
is refused (a replay); a polled hire is stored under `poll:<opportunity>:<archived ms>`, so one
poll overlapping the last finds it already there. Services take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import WebhookRefused
from connector.hires.signature import verify
from connector.ledger import owner_gone
from inventory.db import update_if
from inventory.errors import ConfigError, NotFoundError
from inventory.models import HireEvent, Integration, Person
from inventory.statuses import HireEventStatus
from inventory.timeutil import iso

__all__ = [
    "HIRE_EVENTS",
    "POLL",
    "WEBHOOK",
    "already_hired",
    "claim",
    "close_dead_events",
    "event_dict",
    "get_event",
    "integration_name",
    "list_events",
    "poll_seen",
    "queued_events",
    "receive",
    "record_poll",
    "rerun",
]

WEBHOOK, POLL = "webhook", "poll"
# The webhook events a lever-hires integration follows; others are stored and ignored.
HIRE_EVENTS = (
    "candidateHired", "candidateArchiveChange", "candidateStageChange", "candidateDeleted",
)  # fmt: skip
_DONE = (HireEventStatus.SUCCEEDED, HireEventStatus.FAILED)


def receive(
    session: Session,
    integ: Integration,
    body: bytes,
    signature_token: str,
    now: datetime,
    max_age: float,
) -> HireEvent:
    """Store a verified webhook delivery as a queued event; WebhookRefused for anything else."""
    delivery = verify(body, signature_token, now, max_age)
    if _token_seen(session, integ.id, delivery.token):
        raise WebhookRefused("the webhook token was seen before: refused as a replay")
    event = HireEvent(
        integration_id=integ.id, source=WEBHOOK, event=delivery.event,
        opportunity_id=delivery.opportunity_id, token=delivery.token,
        triggered_at=delivery.triggered_at, received_at=now,
        payload={"event": delivery.event, "data": delivery.data}, attempts=0,
        status=HireEventStatus.QUEUED.value,
    )  # fmt: skip
    session.add(event)
    session.flush()
    return event


def poll_seen(session: Session, integ: Integration, opportunity: Mapping[str, Any]) -> bool:
    """Whether a poll stored this hire already (a poll overlapping the last one)."""
    return _token_seen(session, integ.id, _poll_token(opportunity))


def record_poll(
    session: Session,
    integ: Integration,
    opportunity: Mapping[str, Any],
    now: datetime,
    owner: str,
) -> HireEvent:
    """Store a hire polling found, as processed by `owner` (the poll's process)."""
    event = HireEvent(
        integration_id=integ.id, source=POLL, event="candidateHired",
        opportunity_id=opportunity["id"], token=_poll_token(opportunity), received_at=now,
        payload={"event": "candidateHired", "data": {"opportunityId": opportunity["id"]}},
        status=HireEventStatus.PROCESSING.value, owner=owner, attempts=1,
    )  # fmt: skip
    session.add(event)
    session.flush()
    return event


def _poll_token(opportunity: Mapping[str, Any]) -> str:
    """A polled hire's token: the opportunity and when it was archived as hired."""
    archived = opportunity.get("archived") or {}
    return f"poll:{opportunity['id']}:{archived.get('archivedAt')}"


def already_hired(session: Session, opportunity_id: str) -> bool:
    """Whether a person was hired from this opportunity already (by webhook or polling)."""
    found = session.scalar(select(Person.id).where(Person.opportunity_id == opportunity_id))
    return found is not None


def _token_seen(session: Session, integration_id: int, token: str) -> bool:
    """Whether an event of the integration holds this token already."""
    stmt = select(HireEvent.id).where(
        HireEvent.integration_id == integration_id, HireEvent.token == token
    )
    return session.scalar(stmt) is not None


def claim(session: Session, event_id: int, owner: str, now: datetime) -> bool:
    """Take a queued event for processing; False when another worker took it (or it is gone)."""
    return update_if(
        session, HireEvent, event_id, (HireEventStatus.QUEUED,),
        status=HireEventStatus.PROCESSING.value, owner=owner,
        attempts=HireEvent.attempts + 1, error=None, message=None,
    )  # fmt: skip


def rerun(session: Session, event_id: int) -> HireEvent:
    """Queue a finished event again (after its cause was fixed in Lever)."""
    event = get_event(session, event_id)
    if event.status not in _DONE:
        raise ConfigError(f"hiring event {event_id} is {event.status}: wait for it to finish")
    event.status, event.outcome, event.owner = HireEventStatus.QUEUED.value, None, None
    return event


def get_event(session: Session, event_id: int) -> HireEvent:
    """One event, or a NotFoundError naming the fix."""
    event = session.get(HireEvent, event_id)
    if event is None:
        raise NotFoundError(
            f"no hiring event {event_id}: `invsync hires list` shows the events received"
        )
    return event


def integration_name(session: Session, event: HireEvent) -> str:
    """The name of the integration an event belongs to."""
    return session.get_one(Integration, event.integration_id).name


def list_events(
    session: Session, integration: Integration | None = None, limit: int = 200
) -> list[tuple[HireEvent, str]]:
    """The newest events first, each with its integration's name."""
    stmt = select(HireEvent, Integration.name).join(Integration)
    if integration is not None:
        stmt = stmt.where(HireEvent.integration_id == integration.id)
    rows = session.execute(stmt.order_by(HireEvent.id.desc()).limit(limit))
    return [(event, name) for event, name in rows]


def queued_events(session: Session) -> list[tuple[int, str]]:
    """Events waiting for a worker, oldest first, with their integration's name."""
    stmt = (
        select(HireEvent.id, Integration.name).join(Integration)
        .where(HireEvent.status == HireEventStatus.QUEUED).order_by(HireEvent.id)
    )  # fmt: skip
    return [(event_id, name) for event_id, name in session.execute(stmt)]


def event_dict(event: HireEvent, integration: str) -> dict[str, Any]:
    """The stable JSON shape of an event (`invsync hires list --format json`)."""
    return {
        "id": event.id, "integration": integration, "received_at": iso(event.received_at),
        "event": event.event, "opportunity_id": event.opportunity_id, "status": event.status,
        "outcome": event.outcome, "error": event.error, "message": event.message,
        "source": event.source, "person_id": event.person_id,
        "triggered_at": iso(event.triggered_at), "processed_at": iso(event.processed_at),
        "attempts": event.attempts,
    }  # fmt: skip


def close_dead_events(session: Session, now: datetime) -> list[int]:
    """Fail the events left `processing` by a process that is gone (same host); their ids."""
    stmt = select(HireEvent).where(HireEvent.status == HireEventStatus.PROCESSING)
    dead = [event for event in session.scalars(stmt) if owner_gone(event.owner)]
    for event in dead:
        event.status, event.processed_at = HireEventStatus.FAILED.value, now
        event.error = "the worker processing it stopped: rerun the event"
    return [event.id for event in dead]
