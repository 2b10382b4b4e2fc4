"""Workflow fixtures: the simulator's key in the vault, a launched integration synced once, and
helpers to store, activate and run workflows at a fixed time, with instant retries."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.jobs import lever_client, run_sync
from connector.lever.sim import ANCHOR_MS, LeverSimulator, SimulatorServer
from connector.sync import SyncSummary
from inventory.models import SaasUser
from inventory.settings import Settings
from inventory.timeutil import from_ms
from tests.conftest import API_KEY
from vault.keys import load_keyring
from vault.store import Vault
from workflows import store
from workflows.registry import load_registry
from workflows.runner import RunOptions, RunSummary, run_workflow

Sim = tuple[LeverSimulator, SimulatorServer]
NOW = from_ms(ANCHOR_MS)
LEVER_ACTIVE: dict[str, Any] = {
    "all": [
        {"field": "app", "op": "eq", "value": "Lever"},
        {"field": "status", "op": "eq", "value": "active"},
    ]
}


def no_sleep(_seconds: float) -> None:
    """Retries and backoffs pass instantly in tests."""


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
def lever(settings: Settings, session_factory: sessionmaker[Session], lever_sim: Sim) -> Sim:
    """The simulator's key stored as 'lever-key', an integration 'lever' on it, synced once."""
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).add("lever-key", API_KEY, " ")
        new = integrations.NewIntegration(
            name="lever", credential="lever-key", base_url=lever_sim[1].url, max_rps=0
        )
        integ = integrations.create(session, new)
        integrations.apply_smart_mapping(session, integ, None)
        integrations.launch(integ)
    sync_lever(session_factory, settings)
    return lever_sim


def sync_lever(factory: sessionmaker[Session], settings: Settings) -> SyncSummary:
    """One sync of 'lever' with instant retries."""
    client = partial(lever_client, sleep=no_sleep)
    return run_sync(factory, settings, "lever", client_factory=client)


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
