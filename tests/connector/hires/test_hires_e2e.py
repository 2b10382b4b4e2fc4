"""New hires end to end: the simulator's Lever over loopback, a real database (SQLite file and
PostgreSQL), polling and stored events processed as a worker does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector.hires.events import receive, rerun
from connector.hires.lifecycle import start_due
from connector.hires.process import run_event
from connector.hires.signature import sign
from connector.jobs import lever_client, run_sync
from connector.lever.sim import LeverSimulator, SimulatorServer
from connector.sync import SyncSummary
from inventory.models import Change, HireEvent, Integration, Person, SaasUser
from inventory.settings import Settings
from tests.conftest import (
    API_KEY,
    WEBHOOK_TOKEN,
    create_hires,
    create_lever,
    no_sleep,
    sync_lever,
)

START = date(2027, 1, 4)
CLIENT = partial(lever_client, sleep=no_sleep)


@dataclass
class Hiring:
    """An instance whose Lever users are synced, and a hires integration 'hires' on the same
    simulated Lever."""

    settings: Settings
    factory: sessionmaker[Session]
    sim: LeverSimulator
    manager: dict[str, Any]
    posting: dict[str, Any]

    def hire(self, name: str, *, start: date | None = START, **offer: Any) -> str:
        """A candidate applies, signs an offer and is hired; the opportunity's id."""
        opportunity = self.sim.add_candidate(name, posting_id=self.posting["id"])
        offer.setdefault("direct_manager", self.manager["id"])
        self.sim.add_offer(opportunity["id"], start_date=start, **offer)
        self.sim.hire(opportunity["id"])
        return str(opportunity["id"])

    def poll(self) -> SyncSummary:
        """One scheduled run of 'hires': a poll of the hires since the last one."""
        return run_sync(self.factory, self.settings, "hires", client_factory=CLIENT)

    def process(self, event_id: int) -> None:
        """Process a stored event as a worker does."""
        run_event(self.factory, self.settings, event_id, CLIENT, "test-worker:1")

    def person(self, opportunity_id: str) -> Person:
        with self.factory() as session:
            return session.scalars(
                select(Person).where(Person.opportunity_id == opportunity_id)
            ).one()

    def events(self) -> list[HireEvent]:
        with self.factory() as session:
            return list(session.scalars(select(HireEvent).order_by(HireEvent.id)))

    def webhook(self, event: str, opportunity_id: str, **data: Any) -> int:
        """Store a webhook delivery as the web app does; the event's id."""
        triggered, token = int(time.time() * 1000), f"tok-{time.monotonic_ns()}"
        body = {
            "triggeredAt": triggered, "event": event, "token": token,
            "signature": sign(WEBHOOK_TOKEN, token, triggered),
            "data": {"opportunityId": opportunity_id, **data},
        }  # fmt: skip
        with self.factory.begin() as session:
            integ = session.scalars(select(Integration).where(Integration.name == "hires")).one()
            stored = receive(session, integ, json.dumps(body).encode(), WEBHOOK_TOKEN,
                             datetime.now(UTC), 300.0)  # fmt: skip
            return stored.id


@pytest.fixture
def hiring(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Hiring]:
    sim = LeverSimulator(users=30, seed=11, api_key=API_KEY, rate_limit=False)
    with SimulatorServer(sim) as server:
        create_lever(session_factory, settings, server.url)
        assert sync_lever(session_factory, settings).status == "succeeded"
        create_hires(session_factory, settings, server.url)
        manager = next(u for u in sim.users if u["deactivatedAt"] is None)
        posting = sim.add_posting(
            text="Backend Engineer",
            categories={"department": "Engineering", "team": "Platform", "location": "Berlin"},
        )
        yield Hiring(settings, session_factory, sim, manager, posting)


def test_a_polled_hire_becomes_a_pre_start_person(hiring: Hiring) -> None:
    opportunity = hiring.hire("Ada Lovelace", job_title="Staff Engineer")
    summary = hiring.poll()
    assert summary.status == "succeeded", summary.message
    assert (summary.fetched, summary.people.created) == (1, 1)
    person = hiring.person(opportunity)
    assert person.status == "pre_start"
    assert person.email == person.username == "ada.lovelace@example.com"
    assert (person.first_name, person.last_name, person.full_name) == (
        "Ada", "Lovelace", "Ada Lovelace",
    )  # fmt: skip
    assert person.start_date == START
    assert (person.department, person.location, person.job_title) == (
        "Engineering", "Berlin", "Staff Engineer",
    )  # fmt: skip
    assert person.role == "Employee"
    assert person.personal_email and person.personal_email.endswith("@mail.example")
    with hiring.factory() as session:
        manager = session.scalars(
            select(SaasUser).where(SaasUser.external_id == hiring.manager["id"])
        ).one()
        assert person.manager_id == manager.person_id is not None
        change = session.scalars(select(Change).where(Change.object_id == person.id)).one()
    assert (change.action, change.actor_kind) == ("create", "event")
    [event] = hiring.events()
    assert (event.source, event.status, event.outcome) == ("poll", "succeeded", "created")
    assert change.actor_name == f"hires event {event.id} (candidateHired)"


def test_polling_again_processes_each_hire_once(hiring: Hiring) -> None:
    hiring.hire("Grace Hopper")
    assert hiring.poll().people.created == 1
    again = hiring.poll()
    assert (again.people.created, again.people.updated) == (0, 0)
    assert len(hiring.events()) == 1
    with hiring.factory() as session:
        assert session.scalar(select(func.count()).where(Person.status == "pre_start")) == 1


def test_a_hire_without_a_signed_offer_fails_naming_the_fix_and_can_be_rerun(
    hiring: Hiring,
) -> None:
    opportunity = hiring.hire("Alan Turing", status="sent")
    summary = hiring.poll()
    assert summary.status == "completed_with_errors"
    assert summary.errors == 1
    [event] = hiring.events()
    assert event.status == "failed"
    assert f"opportunity {opportunity} has no signed offer" in (event.error or "")
    hiring.sim.add_offer(opportunity, start_date=START)
    with hiring.factory.begin() as session:
        rerun(session, event.id)
    hiring.process(event.id)
    [event] = hiring.events()
    assert (event.status, event.outcome, event.error) == ("succeeded", "created", None)
    assert hiring.person(opportunity).start_date == START


def test_a_missing_start_date_is_a_per_event_error(hiring: Hiring) -> None:
    hiring.hire("Katherine Johnson", start=None)
    hiring.poll()
    [event] = hiring.events()
    assert event.status == "failed"
    assert "Anticipated start date" in (event.error or "")


def test_a_taken_work_email_is_numbered_and_reported(hiring: Hiring) -> None:
    first, second = hiring.hire("Ada Lovelace"), hiring.hire("Ada Lovelace")
    assert hiring.poll().people.created == 2
    assert hiring.person(first).email == "ada.lovelace@example.com"
    assert hiring.person(second).email == "ada.lovelace2@example.com"
    notes = [e.message for e in hiring.events() if e.opportunity_id == second]
    assert notes == [
        "ada.lovelace@example.com is taken: the work email is ada.lovelace2@example.com"
    ]


def test_non_ascii_names_make_plain_addresses_and_keep_the_name(hiring: Hiring) -> None:
    opportunity = hiring.hire("Zoë Ångström-Øre")
    hiring.poll()
    person = hiring.person(opportunity)
    assert person.email == "zoe.angstrom-ore@example.com"
    assert person.full_name == "Zoë Ångström-Øre"


def test_webhooks_and_polling_for_one_hire_make_one_person(hiring: Hiring) -> None:
    opportunity = hiring.hire("Margaret Hamilton")
    hired_reason = hiring.sim.get_opportunity(opportunity)["archived"]["reason"]  # type: ignore[index]
    archive = hiring.webhook(
        "candidateArchiveChange", opportunity, toArchived={"reason": hired_reason, "archivedAt": 1}
    )
    hired = hiring.webhook("candidateHired", opportunity)
    hiring.process(archive)
    hiring.process(hired)
    assert hiring.poll().people.created == 0
    outcomes = {e.id: e.outcome for e in hiring.events()}
    assert outcomes == {archive: "created", hired: "unchanged"}
    assert hiring.person(opportunity).status == "pre_start"


def test_an_offer_changed_before_the_start_date_updates_the_person(hiring: Hiring) -> None:
    opportunity = hiring.hire("Hedy Lamarr")
    hiring.poll()
    hiring.sim.add_offer(opportunity, start_date=date(2027, 2, 1), job_title="Inventor")
    stage = hiring.webhook("candidateStageChange", opportunity)
    hiring.process(stage)
    person = hiring.person(opportunity)
    assert (person.start_date, person.job_title) == (date(2027, 2, 1), "Inventor")
    assert hiring.events()[-1].outcome == "updated"


@pytest.mark.parametrize("how", ["archived", "deleted"])
def test_a_hire_undone_before_the_start_date_is_cancelled_not_deleted(
    hiring: Hiring, how: str
) -> None:
    opportunity = hiring.hire("Barbara Liskov")
    hiring.poll()
    if how == "archived":
        hiring.sim.archive(opportunity, "Offer declined")
        reason = hiring.sim.get_opportunity(opportunity)["archived"]["reason"]  # type: ignore[index]
        event = hiring.webhook(
            "candidateArchiveChange", opportunity, toArchived={"reason": reason, "archivedAt": 1}
        )
    else:
        hiring.sim.delete_candidate(opportunity)
        event = hiring.webhook("candidateDeleted", opportunity)
    hiring.process(event)
    person = hiring.person(opportunity)
    assert person.status == "cancelled"
    assert hiring.events()[-1].outcome == "cancelled"
    with hiring.factory() as session:
        actions = session.scalars(select(Change.action).where(Change.object_id == person.id))
        assert list(actions) == ["create", "update"]


def test_on_the_start_date_a_pre_start_person_becomes_active(hiring: Hiring) -> None:
    soon, later = hiring.hire("Frances Allen"), hiring.hire("Jean Bartik", start=date(2027, 3, 1))
    hiring.poll()
    now = datetime(2027, 1, 4, 6, tzinfo=UTC)
    with hiring.factory.begin() as session:
        assert start_due(session, date(2027, 1, 3), now) == []
    with hiring.factory.begin() as session:
        started = start_due(session, date(2027, 1, 4), now)
    assert started == [hiring.person(soon).id]
    assert (hiring.person(soon).status, hiring.person(later).status) == ("active", "pre_start")
    event = hiring.webhook("candidateHired", soon)
    hiring.process(event)
    assert hiring.events()[-1].outcome == "ignored"
    assert hiring.person(soon).status == "active"
