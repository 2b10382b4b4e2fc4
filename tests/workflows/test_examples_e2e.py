"""Both example workflows end to end against the simulator: vault → runner → Lever → inventory."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import WorkflowStep
from inventory.settings import Settings
from tests.conftest import Sim
from tests.workflows.conftest import NOW, accounts, options
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


def test_both_examples_run_from_their_schedules(
    synced: Sim, make: Make, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    for name in ("lever-user-role", "deactivate-stale-lever-users"):
        make(example(name))
    midnight = NOW.replace(hour=0, minute=0)
    five = midnight + timedelta(hours=5)
    summaries = run_due(session_factory, settings, since=midnight, now=five, options=options())
    assert {s.workflow for s in summaries} == {"Lever user role", "Deactivate stale Lever users"}
    assert all(s.trigger == "schedule" and s.status == "succeeded" for s in summaries)
