"""What a block sees while it runs: the record it acts on and the run around it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from inventory.models import Person, SaasUser
from inventory.queries import person_to_dict, saas_user_to_dict
from inventory.settings import Settings
from inventory.timeutil import iso
from workflows.lever import LeverAccess

__all__ = ["PERSON_KEYS", "Record", "RunContext", "person_data", "record_data"]

# What a person's record holds beyond the People list's JSON shape: the hire's fields.
PERSON_KEYS = ("personal_email", "department", "location", "manager_id", "opportunity_id")


def record_data(record: SaasUser | Person, manager_email: str | None = None) -> dict[str, Any]:
    """A record as rules and templates read it: a SaaS user in the list's JSON shape plus its
    id, or a person (see `person_data`)."""
    if isinstance(record, Person):
        return person_data(record, manager_email)
    person_email = record.person.email if record.person is not None else None
    return {**saas_user_to_dict(record, record.app.name, person_email), "id": record.id}


def person_data(person: Person, manager_email: str | None) -> dict[str, Any]:
    """A person in the People list's JSON shape plus its id, its hire's fields (the start date
    as YYYY-MM-DD) and its manager's email, so templates can write `{{ record.start_date }}`."""
    hire = {key: getattr(person, key) for key in PERSON_KEYS}
    start = person.start_date.isoformat() if person.start_date is not None else None
    return {**person_to_dict(person), **hire, "start_date": start,
            "manager_email": manager_email, "id": person.id}  # fmt: skip


@dataclass
class Record:
    """One record a run acts on: a SaaS user or, in a people workflow, a person (with its
    manager's email, read when the record was loaded)."""

    target: SaasUser | Person
    manager_email: str | None = None

    @property
    def user(self) -> SaasUser:
        """The SaaS user (validation keeps the blocks that need one out of people workflows)."""
        if not isinstance(self.target, SaasUser):
            raise TypeError(f"record {self.key} is a person, not a SaaS user")
        return self.target

    @property
    def id(self) -> int:
        """The id of the SaaS user or person."""
        return self.target.id

    @property
    def saas_user_id(self) -> int | None:
        """The SaaS user's id, for steps and approvals (None for a person)."""
        return self.target.id if isinstance(self.target, SaasUser) else None

    @property
    def person_id(self) -> int | None:
        """The person's id, for steps (None for a SaaS user)."""
        return self.target.id if isinstance(self.target, Person) else None

    @property
    def key(self) -> str:
        """How steps and approvals name the record: its email, else its external id."""
        if isinstance(self.target, Person):
            return self.target.email[:320]
        return (self.target.email or self.target.external_id)[:320]

    @property
    def app(self) -> str:
        """The name of the record's SaaS app."""
        return self.user.app.name

    def data(self) -> dict[str, Any]:
        """The record's current values (read afresh, so earlier blocks' changes show)."""
        return record_data(self.target, self.manager_email)


@dataclass
class RunContext:
    """The run a block acts in: session, time, Lever clients, dry-run flag and a per-run cache."""

    session: Session
    settings: Settings
    workflow: str
    dry_run: bool
    now: datetime
    lever: LeverAccess
    record_count: int = 1
    cache: dict[Any, Any] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    def variables(self, record: Record, credential: str | None = None) -> dict[str, Any]:
        """What templates may read for this record."""
        base_url = self.lever.base_url(credential) if credential else self.settings.lever_base_url
        return {
            "record": record.data(),
            "workflow": self.workflow,
            "now": iso(self.now),
            "base_url": base_url,
        }
