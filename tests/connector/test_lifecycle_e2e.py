"""The sync job end to end with what happens after a complete read: reconciliation, its guard,
notices through a real SMTP server, and the change log's actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.jobs import lever_client, run_sync
from connector.sync import SyncSummary
from inventory.models import Change, SaasUser, SyncRun
from inventory.settings import Settings
from tests.conftest import API_KEY, Serve, Sim, create_lever, no_sleep


@pytest.fixture
def sync(
    settings: Settings, session_factory: sessionmaker[Session], lever_sim: Sim
) -> Callable[..., SyncSummary]:
    """An active integration 'lever' with a contact; calling it runs one sync."""
    create_lever(session_factory, settings, lever_sim[1].url, contacts=("it@example.com",))

    def run(smtp_port: int | None = None) -> SyncSummary:
        url = f"smtp://127.0.0.1:{smtp_port}" if smtp_port else None
        job_settings = replace(settings, smtp_url=url)
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
    smtp_server: Serve,
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
    smtp_server: Serve,
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
