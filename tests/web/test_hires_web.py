"""Hires through the web app and the command line: the simulator delivers signed webhooks over
loopback to the served app, a worker (the in-process engine) makes the pre-start person, and
`invsync hires` lists and reruns the events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from functools import partial

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.models import HireEvent, Person
from inventory.settings import Settings
from tests.conftest import (
    API_KEY,
    WEBHOOK_TOKEN,
    Sim,
    create_hires,
    wait_for,
)
from tests.web.conftest import Run, SignIn

START = date(2027, 1, 4)


@pytest.fixture
def hiring_sim() -> Iterator[Sim]:
    sim = LeverSimulator(users=10, seed=2, api_key=API_KEY, rate_limit=False, webhook_backoff=0.05)
    with SimulatorServer(sim) as server:
        yield sim, server


def hire(sim: LeverSimulator, name: str, **offer: object) -> str:
    """A candidate applies to the first posting, signs an offer and is hired."""
    posting = sim.postings[0]["id"]
    opportunity = sim.add_candidate(name, posting_id=posting)["id"]
    sim.add_offer(opportunity, start_date=START, **offer)  # type: ignore[arg-type]
    sim.hire(opportunity)
    return str(opportunity)


def store_key(invsync: Run, name: str, key: str) -> None:
    """Keep a key in the vault on the command line (a space as the unused password)."""
    done = invsync("vault", "add", name, "--username", key, "--password-stdin", stdin=" \n")
    assert done.returncode == 0, done.stderr


def people_from(factory: sessionmaker[Session], opportunity: str) -> list[Person]:
    with factory() as session:
        stmt = select(Person).where(Person.opportunity_id == opportunity)
        return list(session.scalars(stmt))


def test_lever_webhooks_make_one_pre_start_person(
    live_server: str,
    hiring_sim: Sim,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    sim, server = hiring_sim
    create_hires(session_factory, settings, server.url, poll=False)
    sim.set_webhook(f"{live_server}/hooks/lever/hires", signature_token=WEBHOOK_TOKEN)
    opportunity = hire(sim, "Ada Lovelace")
    assert sim.wait_for_deliveries(30)
    hired = [
        d for d in sim.deliveries if d["event"] in ("candidateHired", "candidateArchiveChange")
    ]
    assert {d["status"] for d in hired} == {200}
    people = wait_for(partial(people_from, session_factory, opportunity), bool, "the person")
    assert [(p.status, p.email, p.start_date) for p in people] == [
        ("pre_start", "ada.lovelace@example.com", START)
    ]

    def outcomes() -> list[str]:
        with session_factory() as session:
            stmt = select(HireEvent.outcome).where(HireEvent.opportunity_id == opportunity)
            return sorted(outcome or "" for outcome in session.scalars(stmt))

    done = wait_for(outcomes, lambda seen: "" not in seen, "both events processed")
    assert done == ["created", "ignored", "unchanged"]  # hired, applied (ignored), archived


def test_a_webhook_refused_at_first_is_delivered_again(
    live_server: str,
    hiring_sim: Sim,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    sim, server = hiring_sim
    create_hires(session_factory, settings, server.url, poll=False)
    sim.set_webhook(
        f"{live_server}/hooks/lever/hires", events=["candidateHired"], signature_token="wrong"
    )
    hire(sim, "Grace Hopper")
    assert sim.wait_for_deliveries(30)
    assert [d["status"] for d in sim.deliveries] == [401] * 5
    with session_factory() as session:
        assert session.scalars(select(HireEvent)).all() == []


def test_the_hires_page_shows_the_url_and_events_with_rerun(
    hiring_sim: Sim,
    settings: Settings,
    session_factory: sessionmaker[Session],
    signed_in: SignIn,
    invsync: Run,
) -> None:
    sim, server = hiring_sim
    create_hires(session_factory, settings, server.url)
    opportunity = hire(sim, "Alan Turing", status="sent")
    assert invsync("sync", "hires").returncode == 3  # completed with a per-record error
    listed = invsync("hires", "list", "hires", "--format", "json")
    [event] = json.loads(listed.stdout)
    assert {k: event[k] for k in ("event", "opportunity_id", "status")} == {
        "event": "candidateHired", "opportunity_id": opportunity, "status": "failed",
    }  # fmt: skip
    assert "no signed offer" in event["error"]
    assert set(event) >= {"id", "received_at", "event", "opportunity_id", "status", "error"}

    admin = signed_in("admin")
    page = admin.get("/integrations/hires/hires").get_data(as_text=True)
    assert "http://localhost/hooks/lever/hires" in page
    assert f"hire-event-{event['id']}" in page and "no signed offer" in page
    assert WEBHOOK_TOKEN not in page

    again = invsync("hires", "rerun", str(event["id"]))
    assert again.returncode == 1
    assert again.stderr.startswith(f"invsync: error: hiring event {event['id']} failed again")
    sim.add_offer(opportunity, start_date=START)
    fixed = invsync("hires", "rerun", str(event["id"]))
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.startswith(f"hiring event {event['id']}: created (manager ")
    assert "is not in People: sync Lever users, then rerun" in fixed.stdout
    [person] = people_from(session_factory, opportunity)
    assert person.email == "alan.turing@example.com"


def test_the_viewer_cannot_open_the_hires_page(
    hiring_sim: Sim, settings: Settings, session_factory: sessionmaker[Session], signed_in: SignIn
) -> None:
    create_hires(session_factory, settings, hiring_sim[1].url)
    assert signed_in("viewer").get("/integrations/hires/hires").status_code == 403


def test_rerun_from_the_page_queues_the_event_for_a_worker(
    hiring_sim: Sim,
    settings: Settings,
    session_factory: sessionmaker[Session],
    signed_in: SignIn,
    invsync: Run,
) -> None:
    sim, server = hiring_sim
    create_hires(session_factory, settings, server.url)
    opportunity = hire(sim, "Hedy Lamarr", status="sent")
    invsync("sync", "hires")
    sim.add_offer(opportunity, start_date=START)
    with session_factory() as session:
        event_id = session.scalars(select(HireEvent.id)).one()
    admin = signed_in("admin")
    csrf = admin.get("/integrations/hires/hires").get_data(as_text=True)
    token = csrf.split('name="csrf_token" value="')[1].split('"')[0]
    answer = admin.post(f"/integrations/hires/hires/{event_id}/rerun", data={"csrf_token": token})
    assert answer.status_code == 302
    wait_for(partial(people_from, session_factory, opportunity), bool, "the person")


def test_a_hires_integration_is_set_up_on_the_command_line(
    invsync: Run, hiring_sim: Sim, session_factory: sessionmaker[Session]
) -> None:
    sim, server = hiring_sim
    store_key(invsync, "lever-key", API_KEY)
    store_key(invsync, "lever-webhook", WEBHOOK_TOKEN)
    created = invsync(
        "integration", "create", "hires", "--connector", "lever-hires", "--credential",
        "lever-key", "--base-url", server.url, "--webhook-secret", "lever-webhook",
        "--email-format", "{first}.{last}@example.com", "--default-role", "New hire",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    mapped = invsync("integration", "map", "hires", "--smart")
    assert "start_date" in mapped.stdout and "ready to launch" in mapped.stdout
    defaulted = invsync("integration", "map", "hires", "--default", "department=Unassigned")
    assert "(default Unassigned)" in defaulted.stdout
    assert invsync("integration", "launch", "hires").returncode == 0
    shown = json.loads(invsync("integration", "show", "hires", "--format", "json").stdout)
    assert shown["connector"] == "lever-hires"
    assert shown["options"]["email_format"] == "{first}.{last}@example.com"
    assert shown["options"]["webhook_secret"] == "lever-webhook"
    assert WEBHOOK_TOKEN not in json.dumps(shown)

    opportunity = sim.add_candidate("Ada Lovelace")["id"]  # no posting: no department
    sim.add_offer(opportunity, start_date=START)
    sim.hire(opportunity)
    assert invsync("sync", "hires").returncode == 0
    listed = json.loads(
        invsync("people", "list", "--status", "pre_start", "--format", "json").stdout
    )
    [person] = [p for p in listed if p["email"] == "ada.lovelace@example.com"]
    assert (person["start_date"], person["department"], person["role"]) == (
        "2027-01-04", "Unassigned", "New hire",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--email-format", "{first}.{surname}@example.com"], "unknown placeholder {surname}"),
        (["--email-format", "nobody"], "must give a name placeholder"),
        (["--webhook-secret", "missing"], "no credential named 'missing'"),
    ],
)
def test_hires_settings_mistakes_are_one_line_exit_2(
    invsync: Run, extra: list[str], message: str
) -> None:
    store_key(invsync, "lever-key", API_KEY)
    done = invsync("integration", "create", "hires", "--connector", "lever-hires",
                   "--credential", "lever-key", *extra)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
