"""The scheduled transition of a hire: on the start date a pre-start person becomes active.

`start_due` is called by the scheduler's beat and at the end of each hires poll; it moves every
pre-start person whose start date has come (in UTC) and returns their ids, so the shell can
run `person_started` workflows for them. Each move is in the change log.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.models import Person
from inventory.records import set_fields
from inventory.statuses import PersonStatus

__all__ = ["start_due"]


def start_due(session: Session, today: date, now: datetime) -> list[int]:
    """Make active the pre-start people whose start date is today or past; their ids."""
    due = session.scalars(
        select(Person)
        .where(Person.status == PersonStatus.PRE_START, Person.start_date <= today)
        .order_by(Person.id)
    ).all()
    for person in due:
        set_fields(session, person, {"status": PersonStatus.ACTIVE.value}, now)
    return [person.id for person in due]
