"""What a block sees while it runs: the record it acts on and the run around it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from inventory.models import SaasUser
from inventory.queries import saas_user_to_dict
from inventory.settings import Settings
from inventory.timeutil import iso
from workflows.lever import LeverAccess

__all__ = ["Record", "RunContext", "record_data"]


def record_data(user: SaasUser) -> dict[str, Any]:
    """A SaaS user as rules and templates read it: the list's JSON shape plus its id."""
    person_email = user.person.email if user.person is not None else None
    return {**saas_user_to_dict(user, user.app.name, person_email), "id": user.id}


@dataclass
class Record:
    """One SaaS user a run acts on."""

    user: SaasUser

    @property
    def key(self) -> str:
        """How steps and approvals name the record: its email, else its external id."""
        return (self.user.email or self.user.external_id)[:320]

    @property
    def app(self) -> str:
        """The name of the record's SaaS app."""
        return self.user.app.name

    def data(self) -> dict[str, Any]:
        """The record's current values (read afresh, so earlier blocks' changes show)."""
        return record_data(self.user)


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
