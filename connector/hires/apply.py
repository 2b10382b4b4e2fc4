"""What a hiring event does to People: create or update a pre-start person, or cancel one.

A hire's person is keyed by its Lever opportunity (`Person.opportunity_id`). Created, it gets
the work email of the integration's email format (numbered when the address is taken, and
reported) and keeps it: later events update the other fields but never rename the address. A
person whose start date has come (`active`) is no longer changed by hiring events; a cancelled
one hired again is pre-start once more. Writes go through `inventory.records`, so every change
is in the change log with the session's actor (the event). The service never commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import HireError, LeverNotFoundError
from connector.hires.email import work_email
from connector.hires.record import hire_record, is_hired, posting_id_of
from connector.mapping import Mapper, load_entries
from connector.sync import as_text
from inventory.db import lock_writes
from inventory.models import Integration, Person, SaasApp, SaasUser
from inventory.records import add_person, set_fields
from inventory.statuses import PersonStatus
from inventory.upsert import email_key

__all__ = [
    "CREATED", "HireOutcome", "HiringReader", "apply_hire", "apply_read", "cancel_hire",
]  # fmt: skip

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
CANCELLED, IGNORED = "cancelled", "ignored"
EXPAND = ("contact", "applications")
LEVER_APP = "Lever"
HIRE_COLUMNS = (
    "first_name", "last_name", "full_name", "role", "job_title", "personal_email",
    "department", "location", "start_date", "manager_id",
)  # fmt: skip


class HiringClient(Protocol):
    """The Lever reads a hire needs (`connector.lever.client.LeverClient` has them)."""

    def get_opportunity(self, opportunity_id: str, expand: tuple[str, ...] = ()) -> Any: ...
    def offers(self, opportunity_id: str) -> Any: ...
    def get_posting(self, posting_id: str) -> Any: ...
    def archive_reasons(self, **filters: Any) -> Any: ...
    def get_user(self, user_id: str) -> Any: ...
    def iter_opportunity_pages(self, **filters: Any) -> Any: ...


@dataclass(frozen=True)
class HireOutcome:
    """What an event did: its outcome, the person it touched, and a note worth reading."""

    outcome: str
    person_id: int | None = None
    message: str | None = None


class HiringReader:
    """Reads hires from Lever for one integration, asking for the hired reasons once."""

    def __init__(self, client: HiringClient) -> None:
        self.client = client
        self._hired: set[str] | None = None

    @property
    def hired_reasons(self) -> set[str]:
        """The ids of archive reasons of type hired."""
        if self._hired is None:
            reasons = self.client.archive_reasons(type="hired")
            self._hired = {r["id"] for r in reasons if r.get("type", "hired") == "hired"}
        return self._hired

    def record(self, opportunity_id: str) -> dict[str, Any] | None:
        """The hire's flat record, or None when Lever no longer has it archived as hired."""
        return self.record_of(self.client.get_opportunity(opportunity_id, EXPAND))

    def record_of(self, opportunity: Mapping[str, Any]) -> dict[str, Any] | None:
        """The flat record of an opportunity read with `EXPAND`, or None when not hired."""
        if not is_hired(opportunity, self.hired_reasons):
            return None
        posting = self._posting(posting_id_of(opportunity))
        return hire_record(opportunity, self.client.offers(opportunity["id"]), posting)

    def _posting(self, posting_id: str | None) -> Mapping[str, Any] | None:
        """The posting, or None when there is none (or Lever lost it)."""
        if posting_id is None:
            return None
        try:
            return self.client.get_posting(posting_id)
        except LeverNotFoundError:
            return None


def apply_hire(
    session: Session, integ: Integration, reader: HiringReader, opportunity_id: str, now: datetime
) -> HireOutcome:
    """Create or update the pre-start person of a hire, read from Lever now."""
    return apply_read(session, integ, reader, opportunity_id, reader.record(opportunity_id), now)


def apply_read(
    session: Session,
    integ: Integration,
    reader: HiringReader,
    opportunity_id: str,
    record: dict[str, Any] | None,
    now: datetime,
) -> HireOutcome:
    """The person of a hire's record (None: no longer hired, nothing to do)."""
    if record is None:
        return HireOutcome(IGNORED, message="not archived as hired in Lever now: nothing to do")
    values = Mapper(load_entries(integ.mapping)).map(record)
    manager_id, note = _manager(session, reader.client, values.pop("manager", None))
    fields = _fields(opportunity_id, values) | {"manager_id": manager_id}
    lock_writes(session, "people")
    person = _by_opportunity(session, opportunity_id)
    if person is None:
        return _create(session, integ, opportunity_id, fields, now, note)
    return _update(session, person, fields, now, note)


def cancel_hire(session: Session, opportunity_id: str, why: str, now: datetime) -> HireOutcome:
    """Mark a pre-start person cancelled (never deleted); anyone else is left alone."""
    lock_writes(session, "people")
    person = _by_opportunity(session, opportunity_id)
    if person is None:
        return HireOutcome(IGNORED, message="no person was hired from this opportunity")
    if person.status != PersonStatus.PRE_START:
        return HireOutcome(IGNORED, person.id, f"{why}, but the person is {person.status}")
    set_fields(session, person, {"status": PersonStatus.CANCELLED.value}, now)
    return HireOutcome(CANCELLED, person.id, why)


def _fields(opportunity_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The People columns a hire sets, the start date read as a date."""
    fields: dict[str, Any] = {
        name: as_text(values.get(name)) for name in HIRE_COLUMNS if name != "manager_id"
    }
    fields["start_date"] = _start_date(opportunity_id, values.get("start_date"))
    custom = values.get("custom") or {}
    fields["custom"] = {name: as_text(value) for name, value in custom.items()}
    return fields


def _start_date(opportunity_id: str, value: Any) -> date:
    """The mapped start date as a date; a HireError naming the value otherwise."""
    if isinstance(value, date):
        return value
    if value is None:
        raise HireError(
            opportunity_id,
            f"opportunity {opportunity_id} has no start date: set 'Anticipated start date' on "
            "the signed offer in Lever (or map start_date), then rerun the event",
        )
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise HireError(
            opportunity_id,
            f"the start date of opportunity {opportunity_id} reads {value!r}, not a date: fix "
            "the offer's 'Anticipated start date' in Lever or the start_date mapping",
        ) from None


def _create(
    session: Session,
    integ: Integration,
    opportunity_id: str,
    fields: dict[str, Any],
    now: datetime,
    note: str | None,
) -> HireOutcome:
    """A new pre-start person with a work email of the integration's format."""
    address = work_email(
        integ.options["email_format"], fields["first_name"] or fields["full_name"],
        fields["last_name"], lambda email: _email_taken(session, email),
    )  # fmt: skip
    if address.instead_of is not None:
        note = _join(note, f"{address.instead_of} is taken: the work email is {address.address}")
    person = add_person(session, {
        "email": address.address, "email_key": email_key(address.address),
        "username": address.address, "status": PersonStatus.PRE_START.value,
        "opportunity_id": opportunity_id, **fields,
    }, now)  # fmt: skip
    return HireOutcome(CREATED, person.id, note)


def _update(
    session: Session, person: Person, fields: dict[str, Any], now: datetime, note: str | None
) -> HireOutcome:
    """Bring a pre-start (or cancelled, hired again) person up to date with Lever."""
    if person.status not in (PersonStatus.PRE_START, PersonStatus.CANCELLED):
        why = f"the person is {person.status}: hiring events no longer change them"
        return HireOutcome(IGNORED, person.id, why)
    fields["custom"] = {**(person.custom or {}), **fields["custom"]}
    fields["status"] = PersonStatus.PRE_START.value
    changed = set_fields(session, person, fields, now)
    return HireOutcome(UPDATED if changed else UNCHANGED, person.id, note)


def _manager(
    session: Session, client: HiringClient, lever_id: Any
) -> tuple[int | None, str | None]:
    """The manager's person id from a Lever user id, and a note when it cannot be found."""
    if not isinstance(lever_id, str) or not lever_id:
        return None, None
    found = session.scalar(
        select(SaasUser.person_id).join(SaasApp)
        .where(SaasApp.name == LEVER_APP, SaasUser.external_id == lever_id)
    )  # fmt: skip
    if found is None:
        found = _manager_by_email(session, client, lever_id)
    if found is None:
        return None, f"manager {lever_id} is not in People: sync Lever users, then rerun"
    return found, None


def _manager_by_email(session: Session, client: HiringClient, lever_id: str) -> int | None:
    """The person whose email is the Lever user's, if Lever knows the user."""
    try:
        user = client.get_user(lever_id)
    except LeverNotFoundError:
        return None
    key = email_key(user.get("email")) if isinstance(user, Mapping) else None
    return session.scalar(select(Person.id).where(Person.email_key == key)) if key else None


def _by_opportunity(session: Session, opportunity_id: str) -> Person | None:
    """The person hired from an opportunity, if any."""
    return session.scalar(select(Person).where(Person.opportunity_id == opportunity_id))


def _email_taken(session: Session, address: str) -> bool:
    """Whether any person holds this address already."""
    found = session.scalar(select(Person.id).where(Person.email_key == email_key(address)))
    return found is not None


def _join(first: str | None, second: str) -> str:
    """Two notes as one line."""
    return f"{first}; {second}" if first else second
