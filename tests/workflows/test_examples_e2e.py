"""The example workflows end to end against the simulator: vault → runner → Lever → inventory,
and for the new-hire laptop a hire in Lever → a hires poll → the person → the email to IT."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.jobs import lever_client
from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.models import Person, WorkflowRun, WorkflowStep
from inventory.settings import Settings
from tests.conftest import (
    API_KEY,
    Serve,
    Sim,
    create_hires,
    create_lever,
    mailing,
    no_sleep,
    sync_lever,
)
from tests.workflows.conftest import NOW, accounts, options
from web.jobs import sync_with_events
from workflows.runner import RunSummary
from workflows.triggers import run_due

EXAMPLES = Path(__file__).parents[2] / "examples" / "workflows"
Make = Callable[..., str]
Run = Callable[..., RunSummary]


def example(name: str) -> dict[str, Any]:
    """An example definition."""
    return dict(json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8")))


def test_lever_user_role_example(synced: Sim, make: Make, run: Run, session: Session) -> None:
    sim = synced[0]
    active = [u["id"] for u in sim.users if not u["deactivatedAt"]]
    promoted, gone, left = active[:3]
    sim.update_user(promoted, accessRole="admin")
    sim.remove_user(gone)
    sim.update_user(left, deactivatedAt=sim.get_user(left)["createdAt"] + 1)  # type: ignore[index]
    name = make(example("lever-user-role"))
    before = sim.calls()
    summary = run(name)
    assert sim.calls() - before <= math.ceil(len(sim.users) / 100) + 1
    assert sim.calls("POST") == 0
    assert summary.matched == len(active)
    assert summary.outcomes["role"] == {"success": len(active), "failure": 0}
    users = accounts(session)
    assert users[promoted].role == "admin"
    assert {users[gone].status, users[left].status} == {"deactivated"}
    still = {u["id"] for u in sim.users if not u["deactivatedAt"]}
    assert {k for k, u in users.items() if u.status == "active"} == still


def test_deactivate_stale_lever_users_example(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    sim = synced[0]
    year_ago = NOW - timedelta(days=365)
    stale = {
        key
        for key, u in accounts(session).items()
        if u.status == "active" and u.last_login_at and u.last_login_at < year_ago
    }
    assert 0 < len(stale) < len(accounts(session))
    name = make(example("deactivate-stale-lever-users"))
    summary = run(name)
    assert summary.matched == len(stale)
    assert summary.outcomes["delete"] == {"success": len(stale), "failure": 0}
    assert sim.calls("POST") == len(stale)
    assert {u["id"] for u in sim.users if u["deactivatedAt"] and u["id"] in stale} == stale
    users = accounts(session)
    assert {k for k in stale if users[k].status == "deactivated"} == stale
    statuses = session.scalars(
        select(WorkflowStep.status_code).where(WorkflowStep.block_id == "delete")
    ).all()
    assert set(statuses) == {200}
    again = run(name)
    assert again.matched == 0, "deactivated users no longer match"


def test_the_scheduled_examples_run_from_their_schedules(
    synced: Sim, make: Make, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    for name in ("lever-user-role", "deactivate-stale-lever-users"):
        make(example(name))
    midnight = NOW.replace(hour=0, minute=0)
    five = midnight + timedelta(hours=5)
    summaries = run_due(session_factory, settings, since=midnight, now=five, options=options())
    assert {s.workflow for s in summaries} == {"Lever user role", "Deactivate stale Lever users"}
    assert all(s.trigger == "schedule" and s.status == "succeeded" for s in summaries)


def test_new_hire_laptop_example(
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    smtp_server: Serve,
    session: Session,
) -> None:
    box, port = smtp_server()
    mailed = mailing(settings, port)
    sim = LeverSimulator(users=20, seed=7, api_key=API_KEY, rate_limit=False)
    with SimulatorServer(sim) as server:
        create_lever(session_factory, settings, server.url)
        assert sync_lever(session_factory, settings).status == "succeeded"
        create_hires(session_factory, settings, server.url)
        make(example("new-hire-laptop"))
        manager = next(u for u in sim.users if u["deactivatedAt"] is None)
        posting = sim.add_posting(text="Backend Engineer", categories={
            "department": "Engineering", "team": "Platform", "location": "Berlin"})  # fmt: skip
        opportunity = sim.add_candidate("Ada Lovelace", posting_id=posting["id"])
        sim.add_offer(opportunity["id"], start_date=date(2027, 1, 4),
                      direct_manager=manager["id"])  # fmt: skip
        sim.hire(opportunity["id"])
        client = partial(lever_client, sleep=no_sleep)
        polled = sync_with_events(session_factory, mailed, "hires", client_factory=client)
    assert polled.status == "succeeded", polled.message
    ada = session.scalars(select(Person).where(Person.opportunity_id == opportunity["id"])).one()
    (run,) = session.scalars(select(WorkflowRun))
    assert (run.trigger, run.status, run.matched, run.record_ids) == (
        "person_hired", "succeeded", 1, [ada.id])  # fmt: skip
    ((recipients, message),) = box.messages
    assert recipients == ["it-orders@example.com"]
    assert message["Subject"] == "Laptop for Ada Lovelace, starting 2027-01-04, Engineering, Berlin"
    assert f"Manager: {manager['email']}" in message.get_content()
