"""Each block type against the simulator: what it does to Lever, to the record, and which exit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import responses
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import Change, SaasApp, SaasUser, WorkflowStep
from inventory.settings import Settings
from tests.conftest import API_KEY, Serve, Sim, mailing
from tests.workflows.conftest import DELETE, NOW, ROLE, accounts, chain, options
from workflows.runner import RunSummary, run_workflow

Make = Callable[..., str]
Run = Callable[..., RunSummary]


def steps(session: Session, run_id: int, block: str | None = None) -> list[WorkflowStep]:
    """The steps of a run, in order (of one block, when given)."""
    stmt = select(WorkflowStep).where(WorkflowStep.run_id == run_id).order_by(WorkflowStep.id)
    if block is not None:
        stmt = stmt.where(WorkflowStep.block_id == block)
    return list(session.scalars(stmt))


def only(external_id: str) -> dict[str, Any]:
    """Criteria matching one Lever account."""
    return {"all": [{"field": "app", "op": "eq", "value": "Lever"},
                    {"field": "external_id", "op": "eq", "value": external_id}]}  # fmt: skip


def active_ids(sim: Sim) -> list[str]:
    """Ids of the simulator's active users."""
    return [u["id"] for u in sim[0].users if not u["deactivatedAt"]]


# -- begin, end, condition -------------------------------------------------------------------


def test_begin_and_end_bracket_every_record(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    make(chain({"id": "check", "type": "condition",
                "rule": {"field": "role", "op": "eq", "value": "interviewer"}}))  # fmt: skip
    summary = run()
    matched = len(active_ids(synced))
    assert summary.matched == matched
    assert summary.outcomes["begin"] == {"success": matched, "failure": 0}
    assert summary.outcomes["end"] == {"success": matched, "failure": 0}
    interviewers = sum(1 for u in synced[0].users if not u["deactivatedAt"]
                       and u["accessRole"] == "interviewer")  # fmt: skip
    assert summary.outcomes["check"] == {"success": interviewers, "failure": matched - interviewers}
    assert 0 < interviewers < matched
    assert [s.block_id for s in steps(session, summary.run_id)][:3] == ["begin", "check", "end"]


def test_condition_routes_by_its_exit(synced: Sim, make: Make, run: Run, session: Session) -> None:
    doc = chain({"id": "check", "type": "condition",
                 "rule": {"field": "email", "op": "contains", "value": "@"}},
                {"id": "mark", "type": "update", "set": {"role": "checked"}})  # fmt: skip
    make(doc)
    summary = run()
    assert summary.outcomes["mark"]["success"] == summary.matched
    roles = {u.role for u in accounts(session).values() if u.status == "active"}
    assert roles == {"checked"}


# -- update ----------------------------------------------------------------------------------


def test_update_sets_fields_from_templates_through_the_change_log(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    target = active_ids(synced)[0]
    make(chain({"id": "mark", "type": "update",
                "set": {"role": "was {{ record.role }}", "last_login_at": "2020-01-02T03:04:05Z"}},
               criteria=only(target)))  # fmt: skip
    before = accounts(session)[target].role
    summary = run()
    assert summary.outcomes["mark"] == {"success": 1, "failure": 0}
    user = accounts(session)[target]
    assert user.role == f"was {before}"
    assert user.last_login_at is not None and user.last_login_at.year == 2020
    change = session.scalars(select(Change).where(Change.actor_kind == "workflow")).one()
    assert (change.actor_name, change.object_key) == ("wf", target)
    assert change.after["role"] == f"was {before}"


def test_update_with_a_bad_rendered_value_takes_the_failure_exit(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    target = active_ids(synced)[0]
    make(chain({"id": "mark", "type": "update", "set": {"status": "{{ record.role }}"}},
               criteria=only(target)))  # fmt: skip
    summary = run()
    assert summary.outcomes["mark"] == {"success": 0, "failure": 1}
    message = steps(session, summary.run_id, "mark")[0].message or ""
    assert "status must be one of active, deactivated, deleted" in message
    assert accounts(session)[target].status == "active"


# -- Lever User Role -------------------------------------------------------------------------


def test_role_preset_stores_the_lever_role(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    sim = synced[0]
    promoted, gone, left = active_ids(synced)[:3]
    sim.update_user(promoted, accessRole="super admin")
    sim.remove_user(gone)
    sim.update_user(left, deactivatedAt=sim.get_user(left)["createdAt"] + 1000)  # type: ignore[index]
    make(chain(ROLE))
    summary = run()
    users = accounts(session)
    assert users[promoted].role == "super admin" and users[promoted].status == "active"
    assert users[gone].status == "deactivated" and users[gone].deactivated_at == NOW
    assert users[left].status == "deactivated"
    assert users[left].deactivated_at is not None and users[left].deactivated_at < NOW
    assert summary.outcomes["role"] == {"success": summary.matched, "failure": 0}
    by_record = {s.saas_user_id: s for s in steps(session, summary.run_id, "role")}
    assert "not in Lever" in (by_record[users[gone].id].message or "")


def test_role_preset_without_deactivate_fails_for_users_lever_lacks(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    gone = active_ids(synced)[0]
    synced[0].remove_user(gone)
    make(chain({**ROLE, "deactivate_user": False}))
    summary = run()
    assert summary.outcomes["role"]["failure"] == 1
    assert accounts(session)[gone].status == "active"


@pytest.mark.parametrize("lookup", ["auto", "each"])
def test_role_preset_for_one_record_reads_that_user_only(
    synced: Sim, make: Make, run: Run, lookup: str
) -> None:
    target = active_ids(synced)[0]
    make(chain({**ROLE, "lookup": lookup}, criteria=only(target)))
    sim = synced[0]
    before = sim.calls("GET", "/v1/users")
    run()
    assert sim.calls("GET", "/v1/users") - before == 1
    assert sim.calls("GET", f"/v1/users/{target}") >= 1


def test_role_preset_acts_on_lever_accounts_only(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    app = SaasApp(name="Lucidchart")
    session.add(SaasUser(app=app, external_id="lucid-1", email="ada@example.com"))
    session.commit()
    make(chain(ROLE, criteria={"field": "app", "op": "eq", "value": "Lucidchart"}))
    summary = run()
    assert summary.outcomes["role"] == {"success": 0, "failure": 1}
    assert "not a Lever account" in (steps(session, summary.run_id, "role")[0].message or "")


# -- API: presets ----------------------------------------------------------------------------


def test_delete_preset_deactivates_in_lever_and_in_the_inventory(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    target = active_ids(synced)[0]
    make(chain(DELETE, criteria=only(target)))
    summary = run()
    sim = synced[0]
    assert sim.get_user(target)["deactivatedAt"] is not None  # type: ignore[index]
    assert sim.calls("POST", f"/v1/users/{target}/deactivate") == 1
    user = accounts(session)[target]
    assert user.status == "deactivated" and user.deactivated_at is not None
    step = steps(session, summary.run_id, "delete")[0]
    assert (step.outcome, step.status_code) == ("success", 200)
    change = session.scalars(select(Change).where(Change.actor_kind == "workflow")).one()
    assert change.action == "deactivate" and change.actor_name == "wf"


def test_delete_preset_counts_an_already_deactivated_user_as_done(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    sim = synced[0]
    target = active_ids(synced)[0]
    sim.update_user(target, deactivatedAt=sim.get_user(target)["createdAt"] + 1)  # type: ignore[index]
    make(chain(DELETE, criteria=only(target)))
    summary = run()
    assert summary.outcomes["delete"] == {"success": 1, "failure": 0}
    assert accounts(session)[target].status == "deactivated"


def test_delete_preset_of_a_user_lever_lacks_takes_the_failure_exit(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    target = active_ids(synced)[0]
    synced[0].remove_user(target)
    make(chain(DELETE, criteria=only(target)))
    summary = run()
    step = steps(session, summary.run_id, "delete")[0]
    assert (step.outcome, step.status_code) == ("failure", 404)
    assert accounts(session)[target].status == "active"


def test_reactivate_preset_reactivates(synced: Sim, make: Make, run: Run, session: Session) -> None:
    sim = synced[0]
    target = next(u["id"] for u in sim.users if u["deactivatedAt"])
    criteria = {"field": "external_id", "op": "eq", "value": target}
    make(chain({"id": "back", "type": "api", "preset": "lever_reactivate_user",
                "credential": "lever-key"}, criteria=criteria))  # fmt: skip
    run()
    assert sim.get_user(target)["deactivatedAt"] is None  # type: ignore[index]
    user = accounts(session)[target]
    assert (user.status, user.deactivated_at) == ("active", None)


# -- API: custom requests --------------------------------------------------------------------


def test_custom_request_goes_to_lever_with_the_credential(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    target = active_ids(synced)[0]
    request = {"method": "POST",
               "url": "{{ base_url }}/users/{{ record.external_id }}/deactivate"}  # fmt: skip
    make(chain({"id": "call", "type": "api", "credential": "lever-key", "request": request},
               criteria=only(target)))  # fmt: skip
    summary = run()
    step = steps(session, summary.run_id, "call")[0]
    assert (step.outcome, step.status_code) == ("success", 200)
    assert synced[0].get_user(target)["deactivatedAt"] is not None  # type: ignore[index]
    assert accounts(session)[target].status == "active", "custom requests leave the record alone"
    assert API_KEY not in (step.message or "")


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Requests answered by `responses` instead of the network."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_custom_request_renders_url_headers_and_body_and_sends_basic_auth(
    synced: Sim,
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    mocked: responses.RequestsMock,
    session: Session,
) -> None:
    target = active_ids(synced)[0]
    mocked.add(responses.PATCH, f"https://hooks.example.com/people/{target}", json={}, status=202)
    request = {
        "method": "patch",
        "url": "https://hooks.example.com/people/{{ record.external_id }}?src={{ workflow }}",
        "headers": {"X-Who": "{{ record.email | lower }}"},
        "body": {"email": "{{ record.email }}", "tags": ["{{ record.app }}", 3], "keep": None},
    }
    make(chain({"id": "call", "type": "api", "credential": "lever-key", "request": request},
               criteria=only(target)))  # fmt: skip
    summary = run_workflow(session_factory, settings, "wf", options=options())
    sent = mocked.calls[0].request
    email = accounts(session)[target].email or ""
    assert sent.headers["X-Who"] == email.lower()
    assert sent.headers["Authorization"].startswith("Basic ")
    assert json.loads(sent.body or b"") == {"email": email, "tags": ["Lever", 3], "keep": None}
    assert "src=wf" in (sent.url or "")
    step = steps(session, summary.run_id, "call")[0]
    assert (step.outcome, step.status_code) == ("success", 202)
    assert "?" not in (step.message or ""), "query strings stay out of the log"


def test_a_template_cannot_reach_python_internals(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    target = active_ids(synced)[0]
    evil = "{{ record.__class__.__mro__[1].__subclasses__() }}"
    make(chain({"id": "mark", "type": "update", "set": {"name": evil}}, criteria=only(target)))
    summary = run()
    assert summary.outcomes["mark"] == {"success": 0, "failure": 1}
    assert "template failed" in (steps(session, summary.run_id, "mark")[0].message or "")


# -- notification ----------------------------------------------------------------------------


NOTIFY = {
    "id": "mail",
    "type": "notification",
    "to": ["it+{{ record.role | replace(' ', '-') }}@example.com"],
    "subject": "Lever user {{ record.email }}",
    "body": "Role: {{ record.role }}\n",
}


def test_notification_emails_through_the_smtp_server(
    synced: Sim,
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    smtp_server: Serve,
    session: Session,
) -> None:
    box, port = smtp_server()
    target = active_ids(synced)[0]
    make(chain(NOTIFY, criteria=only(target)))
    mailed = mailing(settings, port)
    summary = run_workflow(session_factory, mailed, "wf", options=options())
    assert summary.outcomes["mail"] == {"success": 1, "failure": 0}
    user = accounts(session)[target]
    ((recipients, message),) = box.messages
    assert recipients == [f"it+{(user.role or '').replace(' ', '-')}@example.com"]
    assert f"Subject: Lever user {user.email}" in message.as_string()


def test_notification_without_an_smtp_server_fails_after_its_retries(
    synced: Sim,
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    target = active_ids(synced)[0]
    make(chain({**NOTIFY, "retry": {"tries": 2, "backoff": 0}}, criteria=only(target)))
    nowhere = replace(settings, smtp_url="smtp://127.0.0.1:9")
    summary = run_workflow(session_factory, nowhere, "wf", options=options())
    assert summary.outcomes["mail"] == {"success": 0, "failure": 1}
    outcomes = [s.outcome for s in steps(session, summary.run_id, "mail")]
    assert outcomes == ["retry", "failure"]


def test_notification_is_not_sent_when_smtp_is_unset(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    make(chain(NOTIFY, criteria=only(active_ids(synced)[0])))
    summary = run()
    assert "INVSYNC_SMTP_URL" in (steps(session, summary.run_id, "mail")[0].message or "")


def test_step_times_follow_the_run(synced: Sim, make: Make, run: Run, session: Session) -> None:
    make(chain(ROLE, criteria=only(active_ids(synced)[0])))
    summary = run()
    assert all(s.at == NOW for s in steps(session, summary.run_id))
    assert summary.finished_at is not None and summary.finished_at - NOW < timedelta(seconds=1)
