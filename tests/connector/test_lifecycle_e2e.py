"""The sync job end to end with what happens after a complete read: reconciliation, its guard,
notices through a real SMTP server, and the change log's actor."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.jobs import lever_client, run_sync
from connector.lever.sim import LeverSimulator, SimulatorServer
from connector.sync import SyncSummary
from inventory.models import Change, SaasUser, SyncRun
from inventory.settings import Settings
from tests.conftest import API_KEY
from tests.connector.test_notify import Serve, smtp_server  # noqa: F401 - a fixture
from vault.keys import load_keyring
from vault.store import Vault

Sim = tuple[LeverSimulator, SimulatorServer]


def no_sleep(_seconds: float) -> None:
    """Retries back off instantly in tests."""


@pytest.fixture
def sync(
    settings: Settings, session_factory: sessionmaker[Session], lever_sim: Sim
) -> Callable[..., SyncSummary]:
    """An active integration 'lever' with a contact; calling it runs one sync."""
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).add("lever-key", API_KEY, " ")
        spec = integrations.NewIntegration(
            name="lever", credential="lever-key", base_url=lever_sim[1].url, max_rps=0,
            contacts=("it@example.com",),
        )  # fmt: skip
        integ = integrations.create(session, spec)
        integrations.apply_smart_mapping(session, integ, None)
        integrations.launch(integ)

    def run(smtp_port: int | None = None) -> SyncSummary:
        url = f"smtp://127.0.0.1:{smtp_port}" if smtp_port else None
        job_settings = settings.with_overrides(smtp_url=url)
        factory = partial(lever_client, sleep=no_sleep)
        return run_sync(session_factory, job_settings, "lever", client_factory=factory)

    return run


def status_of(session: Session, external_id: str) -> str:
    session.expire_all()
    return session.scalars(select(SaasUser.status).where(SaasUser.external_id == external_id)).one()


def test_a_user_gone_from_lever_is_marked_deleted_after_a_complete_read(
    sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    sync()
    sim = lever_sim[0]
    gone = next(u for u in sim.users if not u["deactivatedAt"])
    sim.remove_user(gone["id"])
    summary = sync()
    assert summary.status == "succeeded"
    assert summary.reconcile is not None and summary.reconcile["deleted"] == 1
    assert status_of(session, gone["id"]) == "deleted"
    change = session.scalars(select(Change).where(Change.action == "delete")).one()
    assert (change.actor_kind, change.actor_name, change.run_id) == (
        "integration", "lever", summary.run_id,
    )  # fmt: skip
    again = sync()
    assert again.reconcile is not None and again.reconcile["checked"] == 0, "no flapping"


def test_many_vanishing_users_hold_the_run_and_mail_the_contact(
    sync: Callable[..., SyncSummary],
    lever_sim: Sim,
    session: Session,
    smtp_server: Serve,  # noqa: F811 - the fixture imported above
) -> None:
    box, port = smtp_server()
    sync(port)
    sim = lever_sim[0]
    vanished = [u["id"] for u in sim.users if not u["deactivatedAt"]][:40]
    for uid in vanished:
        sim.remove_user(uid)
    summary = sync(port)
    assert summary.status == "held"
    assert {status_of(session, uid) for uid in vanished} == {"active"}, "nothing changed yet"
    run = session.get_one(SyncRun, summary.run_id)
    assert run.status == "held" and len(run.pending or []) == 40
    [(recipients, message)] = box.messages
    assert recipients == ["it@example.com"]
    assert (
        "held" in str(message["Subject"])
        and f"runs approve {summary.run_id}" in message.get_content()
    )
    assert API_KEY not in message.as_string()


def test_a_failed_run_mails_the_contact_with_its_one_line(
    sync: Callable[..., SyncSummary],
    lever_sim: Sim,
    smtp_server: Serve,  # noqa: F811 - the fixture imported above
) -> None:
    box, port = smtp_server()
    lever_sim[0].inject("503", count=10_000)
    summary = sync(port)
    assert summary.status == "failed"
    [(_, message)] = box.messages
    assert "failed" in str(message["Subject"])
    assert "Lever unreachable" in message.get_content()


def test_smtp_down_leaves_the_run_status_as_it_is(sync: Callable[..., Any], lever_sim: Sim) -> None:
    lever_sim[0].inject("503", count=10_000)
    summary = sync(1)  # nothing listens on port 1
    assert summary.status == "failed"
