"""Offers on simulated opportunities: their fields by identifier, and the approval, sending,
opening and signing each status implies.

`anticipated_start_date` is the start date's midnight UTC in milliseconds (how Lever stores a
date field: assumed)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connector.lever.sim.hiring import HiringStore, Obj
from connector.lever.sim.hiring_data import CURRENCIES, pick_user

__all__ = ["IN_30_DAYS", "OFFER_STATUSES", "OfferTerms", "StartDate", "add_offer", "start_ms"]

OFFER_STATUSES = (
    "draft", "approval-sent", "approved", "sent", "sent-manually", "opened", "denied", "signed",
)  # fmt: skip
# How far along each status is: 1 approved, 2 sent, 3 opened by the candidate, 4 signed.
_PROGRESS = {"approved": 1, "sent": 2, "sent-manually": 2, "opened": 3, "signed": 4}
_LABELS = {
    "candidate_name": "Candidate name", "anticipated_start_date": "Anticipated start date",
    "job_title": "Job title", "hiring_manager": "Hiring manager",
    "direct_manager": "Direct manager", "salary_amount": "Salary amount",
    "salary_currency": "Salary currency",
}  # fmt: skip
_API = "https://api.lever.co/v1/opportunities"


class StartDate(enum.Enum):
    """The default start date of an offer."""

    IN_30_DAYS = "30 days after today (UTC, by the simulator's wall clock)"


IN_30_DAYS = StartDate.IN_30_DAYS


@dataclass(frozen=True)
class OfferTerms:
    """What a test says about an offer; None means the opportunity's or posting's value."""

    start_date: date | str | int | StartDate | None = IN_30_DAYS
    job_title: str | None = None
    candidate_name: str | None = None
    hiring_manager: str | None = None
    direct_manager: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


def start_ms(value: date | str | int, today_ms: int) -> int:
    """A start date as Lever's milliseconds: ints as given, dates and ISO strings at 00:00 UTC."""
    if isinstance(value, bool):
        raise TypeError("a start date cannot be a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)


def add_offer(store: HiringStore, oid: str, status: str, terms: OfferTerms) -> Obj:
    """Store a new offer on an opportunity (created now, after any earlier offer)."""
    if status not in OFFER_STATUSES:
        raise ValueError(f"unknown offer status {status!r}; expected one of {OFFER_STATUSES}")
    opportunity = store.require(oid)
    values = _values(store, opportunity, terms)
    creator = opportunity["owner"] or pick_user(store.active_ids(), 0)
    offer = _offer(store.new_id(), store.tick(), status, creator, values)
    offer["signatures"]["candidate"].update(
        email=opportunity["emails"][0] if opportunity["emails"] else None,
        name=values.get("candidate_name", opportunity["name"]),
    )
    _documents(offer, oid)
    store.offers.setdefault(oid, []).append(offer)
    return offer


def _values(store: HiringStore, opportunity: Obj, terms: OfferTerms) -> dict[str, Any]:
    """The offer's field values by identifier: defaults, then the terms, then `fields`."""
    posting = store.posting_of(opportunity) or {}
    values: dict[str, Any] = {
        "candidate_name": terms.candidate_name or opportunity["name"],
        "anticipated_start_date": _start(terms.start_date, store.now_ms()),
        "job_title": terms.job_title or posting.get("text"),
        "hiring_manager": terms.hiring_manager or posting.get("hiringManager"),
        "direct_manager": terms.direct_manager,
        "salary_amount": 85_000,
        "salary_currency": CURRENCIES.get(posting.get("country") or "", "USD"),
    }
    values.update(terms.fields)
    return {k: v for k, v in values.items() if v is not None}


def _start(value: date | str | int | StartDate | None, now_ms: int) -> int | None:
    """The start date field's value, or None to leave the field out."""
    if value is None:
        return None
    if isinstance(value, StartDate):
        today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
        return start_ms(today + timedelta(days=30), now_ms)
    return start_ms(value, now_ms)


def _offer(offer_id: str, created: int, status: str, creator: str | None, values: Obj) -> Obj:
    """An offer in Lever's shape, its timestamps following from how far along it is."""
    progress = _PROGRESS.get(status, 0)
    opened = created + 3 if progress >= 3 else None
    candidate = {
        "email": None, "name": None, "firstOpenedAt": opened, "lastOpenedAt": opened,
        "signedAt": created + 4 if progress >= 4 else None, "signed": progress >= 4,
        "role": "candidate",
    }  # fmt: skip
    return {
        "id": offer_id, "createdAt": created, "status": status, "creator": creator,
        "fields": [_field(k, v) for k, v in values.items()],
        "signatures": {"candidate": candidate}, "approved": progress >= 1,
        "approvedAt": created + 1 if progress >= 1 else None,
        "sentAt": created + 2 if progress >= 2 else None,
        "sentDocument": None, "signedDocument": None,
    }  # fmt: skip


def _field(identifier: str, value: Any) -> Obj:
    """One offer field, labelled as Lever's offer form labels it."""
    text = _LABELS.get(identifier) or identifier.replace("_", " ").capitalize()
    return {"text": text, "identifier": identifier, "value": value}


def _documents(offer: Obj, oid: str) -> None:
    """The sent and signed PDFs, for offers that got that far."""
    name = f"Offer letter - {offer['signatures']['candidate']['name']}"
    url = f"{_API}/{oid}/offers/{offer['id']}/download"
    if offer["sentAt"] is not None:
        offer["sentDocument"] = _document(f"{name}.pdf", offer["sentAt"], f"{url}?format=original")
    signed_at = offer["signatures"]["candidate"]["signedAt"]
    if signed_at is not None:
        offer["signedDocument"] = _document(
            f"{name} (signed).pdf", signed_at, f"{url}?format=signed"
        )


def _document(file_name: str, uploaded: int, url: str) -> Obj:
    """A document of an offer."""
    return {"fileName": file_name, "uploadedAt": uploaded, "downloadUrl": url}
