"""Workflow fixtures and helpers: store, activate and run workflows at a fixed time, with instant
retries, on the integration 'lever' the shared `synced` fixture leaves."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.lever.sim import ANCHOR_MS
from inventory.models import SaasUser
from inventory.settings import Settings
from inventory.timeutil import from_ms
from tests.conftest import no_sleep
from workflows import store
from workflows.registry import load_registry
from workflows.runner import RunOptions, RunSummary, run_workflow

NOW = from_ms(ANCHOR_MS)
LEVER_ACTIVE: dict[str, Any] = {
    "all": [
        {"field": "app", "op": "eq", "value": "Lever"},
        {"field": "status", "op": "eq", "value": "active"},
    ]
}


def options(**client: Any) -> RunOptions:
    """Run options at the simulator's fixed time, with instant retries."""
    return RunOptions(client_options={"sleep": no_sleep, **client}, now=lambda: NOW, sleep=no_sleep)


def chain(*actions: dict[str, Any], name: str = "wf", **top: Any) -> dict[str, Any]:
    """A definition: begin → each action (success to the next, failure to end) → end."""
    blocks = [{"id": "begin", "type": "begin"}, *actions, {"id": "end", "type": "end"}]
    edges: list[dict[str, Any]] = [{"from": "begin", "to": blocks[1]["id"]}]
    for block, after in zip(actions, blocks[2:], strict=True):
        edges.append({"from": block["id"], "to": after["id"], "on": "success"})
        edges.append({"from": block["id"], "to": "end", "on": "failure"})
    doc = {"name": name, "object": "saas_users", "trigger": {"type": "manual"},
           "criteria": copy.deepcopy(LEVER_ACTIVE), "run_mode": "autopilot",
           "blocks": blocks, "edges": edges}  # fmt: skip
    return doc | top


ROLE = {
    "id": "role",
    "type": "saas_user_role",
    "preset": "lever_user_role",
    "credential": "lever-key",
}
DELETE = {"id": "delete", "type": "api", "preset": "lever_delete_user", "credential": "lever-key"}


@pytest.fixture
def make(session_factory: sessionmaker[Session]) -> Callable[..., str]:
    """Store a definition (and activate it unless told not to); its name."""

    def create(doc: dict[str, Any], *, activate: bool = True) -> str:
        registry = load_registry()
        with session_factory.begin() as session:
            store.create(session, doc, registry)
            if activate:
                store.activate(session, doc["name"], registry)
        return str(doc["name"])

    return create


@pytest.fixture
def run(settings: Settings, session_factory: sessionmaker[Session]) -> Callable[..., RunSummary]:
    """Run a stored workflow at the fixed time, with instant retries."""

    def go(name: str = "wf", client: dict[str, Any] | None = None, **kw: Any) -> RunSummary:
        return run_workflow(
            session_factory, settings, name, options=options(**(client or {})), **kw
        )

    return go


def accounts(session: Session) -> dict[str, SaasUser]:
    """Every SaaS user by external id, read afresh."""
    session.expire_all()
    return {u.external_id: u for u in session.scalars(select(SaasUser))}


def snapshot(session: Session) -> dict[str, tuple[Any, ...]]:
    """Every SaaS user's values, to show that nothing changed."""
    return {
        key: (u.role, u.status, u.deactivated_at, u.last_login_at, u.name)
        for key, u in accounts(session).items()
    }


def at(when: datetime) -> Callable[[], datetime]:
    """A clock fixed at a time."""
    return lambda: when
