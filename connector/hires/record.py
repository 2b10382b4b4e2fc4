"""A hire as one flat record: the opportunity, its latest signed offer and its posting.

The record is what a `lever-hires` mapping reads (`HIRE_FIELDS` in the catalogue). Offer fields
are read by their identifier (`candidate_name`, `anticipated_start_date`, `job_title`,
`direct_manager`, `hiring_manager`), and every offer field is also under `offer.<identifier>`
for custom mappings. Lever sends dates as milliseconds since the epoch; a start date is that
instant's calendar date in UTC (Lever stores the date at midnight UTC: assumed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from connector.errors import HireError
from inventory.timeutil import from_ms

__all__ = ["SIGNED", "hire_record", "is_hired", "latest_signed", "posting_id_of"]

SIGNED = "signed"
Obj = Mapping[str, Any]


def latest_signed(offers: Sequence[Obj]) -> Obj | None:
    """The signed offer signed (or else created) last, or None."""
    signed = [o for o in offers if isinstance(o, Mapping) and o.get("status") == SIGNED]
    return max(signed, key=_signed_at, default=None)


def _signed_at(offer: Obj) -> int:
    """When an offer was signed by the candidate, or created when Lever does not say."""
    candidate = (offer.get("signatures") or {}).get("candidate") or {}
    stamp = candidate.get("signedAt") or offer.get("createdAt")
    return stamp if isinstance(stamp, int) else 0


def offer_fields(offer: Obj) -> dict[str, Any]:
    """An offer's fields by identifier."""
    fields = offer.get("fields") or []
    return {f["identifier"]: f.get("value") for f in fields
            if isinstance(f, Mapping) and isinstance(f.get("identifier"), str)}  # fmt: skip


def is_hired(opportunity: Obj, hired_reasons: set[str]) -> bool:
    """Whether the opportunity is archived now with a reason of type hired."""
    archived = opportunity.get("archived")
    return isinstance(archived, Mapping) and archived.get("reason") in hired_reasons


def posting_id_of(opportunity: Obj) -> str | None:
    """The posting the candidate applied to (the first application's), if any."""
    for application in opportunity.get("applications") or []:
        if isinstance(application, Mapping) and isinstance(application.get("posting"), str):
            return application["posting"]
    return None


def hire_record(opportunity: Obj, offers: Sequence[Obj], posting: Obj | None) -> dict[str, Any]:
    """The flat record of a hire; a HireError when there is no signed offer or start date."""
    opp_id = str(opportunity.get("id"))
    offer = latest_signed(offers)
    if offer is None:
        raise HireError(
            opp_id,
            f"opportunity {opp_id} has no signed offer in Lever: get the offer signed "
            "(or mark it signed) in Lever, then rerun the event",
        )
    fields = offer_fields(offer)
    start = _date_of(fields.get("anticipated_start_date"))
    if start is None:
        raise HireError(
            opp_id,
            f"the signed offer of opportunity {opp_id} has no anticipated start date: set "
            "'Anticipated start date' on the offer in Lever, then rerun the event",
        )
    return _flat(opportunity, fields, posting or {}, start)


def _flat(opp: Obj, fields: dict[str, Any], posting: Obj, start: date) -> dict[str, Any]:
    """The record's fields from its three sources, offer first."""
    categories = posting.get("categories") or {}
    contact = opp.get("contact")
    contact = contact if isinstance(contact, Mapping) else {}
    return {
        "opportunity_id": opp.get("id"),
        "candidate_name": _text(fields.get("candidate_name")) or _text(opp.get("name")),
        "personal_email": _first_email(contact, opp),
        "job_title": _text(fields.get("job_title")) or _text(posting.get("text")),
        "start_date": start.isoformat(),
        "department": _text(categories.get("department")),
        "team": _text(categories.get("team")),
        "location": _text(categories.get("location")) or _text(opp.get("location")),
        "manager_id": _text(fields.get("direct_manager"))
        or _text(fields.get("hiring_manager"))
        or _text(posting.get("hiringManager")),
        "posting_id": posting.get("id"),
        "posting_title": _text(posting.get("text")),
        "hired_at": _datetime_of((opp.get("archived") or {}).get("archivedAt")),
        "offer": fields,
    }


def _first_email(contact: Obj, opp: Obj) -> str | None:
    """The candidate's first email address: the contact's, else the opportunity's."""
    for emails in (contact.get("emails"), opp.get("emails")):
        for email in emails or []:
            if isinstance(email, str) and email.strip():
                return email.strip()
    return None


def _text(value: Any) -> str | None:
    """A non-empty string, stripped; anything else None."""
    return value.strip() or None if isinstance(value, str) else None


def _date_of(value: Any) -> date | None:
    """A calendar date from Lever's milliseconds (or an ISO date some tools send)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return from_ms(value).date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _datetime_of(value: Any) -> datetime | None:
    """An aware UTC datetime from Lever's milliseconds, or None."""
    return from_ms(value) if isinstance(value, int) and not isinstance(value, bool) else None
