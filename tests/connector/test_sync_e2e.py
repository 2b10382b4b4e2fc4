"""The whole sync path over loopback: vault → Lever client → simulator → People and SaaS users."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.errors import NotLaunchedError
from connector.jobs import lever_client, run_sync
from connector.sync import SyncSummary
from inventory.models import Person, SaasUser, SyncRun, SyncRunError
from inventory.rules import compile_rule, evaluate, parse_rule
from inventory.settings import Settings
from inventory.timeutil import utcnow
from tests.conftest import API_KEY, Sim, create_lever, no_sleep


@pytest.fixture
def setup(
    settings: Settings, session_factory: sessionmaker[Session], lever_sim: Sim
) -> Callable[..., None]:
    """Store the key and create, smart-map and launch an integration named 'lever'."""

    def make(key: str = API_KEY, launch: bool = True, **spec: Any) -> None:
        create_lever(session_factory, settings, lever_sim[1].url, key=key, launch=launch, **spec)

    return make


@pytest.fixture
def sync(settings: Settings, session_factory: sessionmaker[Session]) -> Callable[..., SyncSummary]:
    """Run a sync of 'lever' with instant retries."""

    def run(**client: Any) -> SyncSummary:
        factory = partial(lever_client, sleep=no_sleep, **client)
        return run_sync(session_factory, settings, "lever", client_factory=factory)

    return run


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_every_lever_user_active_or_deactivated_lands_once(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    setup()
    summary = sync()
    sim = lever_sim[0]
    assert summary.status == "succeeded"
    assert summary.fetched == len(sim.users) == 250
    assert summary.people.created == count(session, Person) == 250
    assert summary.saas_users.created == count(session, SaasUser) == 250
    deactivated = {u["id"] for u in sim.users if u["deactivatedAt"]}
    assert deactivated, "the seed has deactivated users"
    stored = dict(session.execute(select(SaasUser.external_id, SaasUser.status)).all())
    assert {k for k, v in stored.items() if v == "deactivated"} == deactivated
    assert sim.counts["list_users"] == 3  # 100 + 100 + 50, no extra call after the last page


def test_second_sync_without_change_writes_nothing(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], session: Session
) -> None:
    setup()
    sync()
    again = sync()
    assert (again.people.created, again.people.updated, again.people.unchanged) == (0, 0, 250)
    assert (again.saas_users.created, again.saas_users.updated) == (0, 0)


def test_changes_in_lever_flow_into_the_inventory(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    setup()
    sync()
    sim = lever_sim[0]
    active = [u for u in sim.users if not u["deactivatedAt"]]
    renamed, leaver = active[0], active[1]
    sim.update_user(renamed["id"], name="Zoë Renamed-Müller", accessRole="admin")
    sim.update_user(leaver["id"], deactivatedAt=leaver["createdAt"] + 86_400_000)
    summary = sync()
    assert (summary.people.updated, summary.saas_users.updated) == (1, 2)
    person = session.scalar(select(Person).where(Person.email == renamed["email"]))
    assert person is not None
    assert (person.first_name, person.last_name) == ("Zoë", "Renamed-Müller")
    account = session.scalar(select(SaasUser).where(SaasUser.external_id == leaver["id"]))
    assert account is not None and account.status == "deactivated"


def test_two_lever_accounts_with_one_address_are_one_person_two_saas_users(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    sim = lever_sim[0]
    first = sim.users[0]
    second = sim.add_user(email=first["email"].upper(), name="Second Account")
    setup()
    summary = sync()
    assert summary.status == "succeeded"
    assert count(session, Person) == 250
    linked = session.scalars(
        select(SaasUser.person_id).where(SaasUser.external_id.in_([first["id"], second["id"]]))
    ).all()
    assert len(linked) == 2 and linked[0] == linked[1] is not None
    again = sync()
    assert (again.people.updated, again.saas_users.updated) == (0, 0)


def test_bad_records_are_per_record_errors_and_the_run_goes_on(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    sim = lever_sim[0]
    sim.set_raw_user({"id": "no-email", "name": "Nobody", "createdAt": 1_700_000_000_000})
    sim.set_raw_user({"id": "bad-time", "email": "t@example.com", "deactivatedAt": "yesterday"})
    setup()
    summary = sync()
    assert summary.status == "completed_with_errors"
    assert summary.errors == 2
    assert summary.people.created == 250
    errors = dict(session.execute(select(SyncRunError.record_key, SyncRunError.message)).all())
    assert set(errors) == {"no-email", "t@example.com"}
    # an unreadable deactivation time would be a guess at whether the account is active
    assert "email" in errors["no-email"] and "deactivatedAt" in errors["t@example.com"]


@pytest.mark.parametrize("fault", ["503", "500", "502", "429", "garbage", "drop"])
def test_transient_lever_faults_are_retried(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, fault: str
) -> None:
    setup()
    lever_sim[0].inject(fault, count=2)
    summary = sync()
    assert summary.status == "succeeded"
    assert summary.fetched == 250


def test_lever_down_mid_read_fails_the_run_and_keeps_what_was_written(
    setup: Callable[..., None],
    settings: Settings,
    session_factory: sessionmaker[Session],
    lever_sim: Sim,
    session: Session,
) -> None:
    setup()
    run_sync(session_factory, settings, "lever")
    sim = lever_sim[0]
    sim.update_user(sim.users[0]["id"], jobTitle="Head of Talent")

    def lever_goes_down_after_one_page(integ: Any, secret: Any) -> Any:
        client = lever_client(integ, secret, sleep=no_sleep, max_tries=3)
        pages = client.iter_user_pages

        def first_page_then_outage(**kw: Any) -> Any:
            stream = pages(**kw)
            yield next(stream)
            sim.inject("503", count=1000)
            yield from stream

        client.iter_user_pages = first_page_then_outage  # type: ignore[method-assign]
        return client

    summary = run_sync(
        session_factory, settings, "lever", client_factory=lever_goes_down_after_one_page
    )
    assert summary.status == "failed"
    assert not summary.complete_read
    assert summary.message and "Lever unreachable" in summary.message
    assert summary.fetched == 100
    assert count(session, Person) == 250, "nothing is removed after a bad read"
    updated = session.scalar(select(Person.job_title).where(Person.email == sim.users[0]["email"]))
    assert updated == "Head of Talent", "the page read before the failure was kept"
    runs = session.scalars(select(SyncRun.status).order_by(SyncRun.id)).all()
    assert runs == ["succeeded", "failed"]


def test_a_refused_key_fails_the_run_with_one_clear_line(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], session: Session
) -> None:
    setup(key="not-the-right-key-123456")
    summary = sync()
    assert summary.status == "failed"
    assert summary.message is not None and summary.message.startswith("Lever API key refused")
    assert "not-the-right-key-123456" not in summary.message
    assert count(session, Person) == 0


def test_draft_integration_does_not_sync(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], session: Session
) -> None:
    setup(launch=False)
    with pytest.raises(NotLaunchedError, match="is a draft"):
        sync()
    assert count(session, SyncRun) == 0


def test_filters_decide_which_users_sync(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    rule = {"field": "accessRole", "op": "in", "value": ["admin", "super admin"]}
    setup(filters=rule)
    summary = sync()
    admins = [u for u in lever_sim[0].users if u["accessRole"] in ("admin", "super admin")]
    assert summary.people.created == len(admins) == count(session, Person)
    assert summary.skipped == 250 - len(admins)


def test_users_only_mode_keeps_no_saas_users(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], session: Session
) -> None:
    setup(saas_users=False)
    summary = sync()
    assert summary.people.created == 250
    assert count(session, SaasUser) == 0


def test_the_key_reaches_no_log_line_or_message(
    setup: Callable[..., None],
    sync: Callable[..., SyncSummary],
    lever_sim: Sim,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    setup()
    lever_sim[0].inject("503", count=3)
    lever_sim[0].inject("garbage", count=1)
    summary = sync()
    assert summary.status == "succeeded"
    assert any("503" in r.getMessage() for r in caplog.records), "retries are logged"
    text = "\n".join(r.getMessage() for r in caplog.records) + str(summary.to_dict())
    assert API_KEY not in text


# --- fidelity: a value is data, never a reason to drop an account ---------------------------


def person_by_email(session: Session, email: str) -> Person:
    session.expire_all()
    person = session.scalar(select(Person).where(Person.email == email))
    assert person is not None, f"{email} did not land"
    return person


def test_long_and_odd_text_lands_exactly_as_sent(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    sim = lever_sim[0]
    long_title = "Principal " * 10_000  # 100,000 characters, trailing space included
    odd = "  Zoë 李 <b>bold</b>\t\x07 "
    sim.add_user(email="long@example.com", name="L" * 100_000, jobTitle=long_title)
    sim.add_user(email="odd@example.com", name=odd, jobTitle=odd)
    sim.add_user(email="nul@example.com", name="A\x00B", jobTitle="\x00")
    setup()
    summary = sync()
    assert (summary.status, summary.errors) == ("succeeded", 0)
    long = person_by_email(session, "long@example.com")
    assert (long.job_title, long.full_name) == (long_title, "L" * 100_000)
    assert person_by_email(session, "odd@example.com").job_title == odd
    nul = person_by_email(session, "nul@example.com")
    # PostgreSQL cannot store U+0000: it becomes U+FFFD, on every database alike
    assert (nul.full_name, nul.job_title) == ("A\ufffdB", "\ufffd")
    account = session.scalar(select(SaasUser).where(SaasUser.email == "nul@example.com"))
    assert account is not None and account.name == "A\ufffdB"
    again = sync()
    assert (again.people.updated, again.saas_users.updated, again.errors) == (0, 0, 0)


def test_values_of_other_types_are_stored_in_a_stable_text_form(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    sim = lever_sim[0]
    uid = sim.set_raw_user({
        "id": "typed-1", "email": "typed@example.com", "name": 42, "accessRole": True,
        "jobTitle": {"b": 1, "a": [2, "é"]}, "createdAt": "yesterday",
        "unknownKey": {"nested": {"deep": [1, {"x": None}]}},
    })  # fmt: skip
    sim.set_raw_user({"id": "nameless", "email": "nameless@example.com"})
    setup()
    summary = sync()
    assert (summary.status, summary.errors) == ("succeeded", 0)
    typed = person_by_email(session, "typed@example.com")
    assert (typed.full_name, typed.job_title) == ("42", '{"a":[2,"é"],"b":1}')
    account = session.scalar(select(SaasUser).where(SaasUser.external_id == uid))
    assert account is not None
    assert (account.name, account.role, account.created_at) == ("42", "true", None)
    assert person_by_email(session, "nameless@example.com").full_name is None


def test_custom_fields_hold_other_types_in_the_same_text_form(
    setup: Callable[..., None],
    sync: Callable[..., SyncSummary],
    lever_sim: Sim,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    lever_sim[0].set_raw_user({"id": "typed-2", "email": "t2@example.com", "name": "T",
                               "accessRole": "admin", "score": 7, "flag": False})  # fmt: skip
    setup()
    with session_factory.begin() as s:
        integ = integrations.get(s, "lever")
        integrations.apply_assignments(s, integ, ["custom.Score=score", "custom.Flag=flag"])
    assert sync().errors == 0
    person = person_by_email(session, "t2@example.com")
    assert (person.custom["Score"], person.custom["Flag"]) == ("7", "false")
    # a rule sees the same text in SQL and in Python
    rule = parse_rule({"field": "custom.Score", "op": "eq", "value": "7"})
    assert evaluate(rule, {"custom": person.custom}, utcnow())
    where = compile_rule(rule, {}, utcnow(), json_column=Person.__table__.c.custom)
    assert session.scalars(select(Person.email).where(where)).all() == ["t2@example.com"]


def test_only_an_unusable_email_is_a_per_record_error(
    setup: Callable[..., None], sync: Callable[..., SyncSummary], lever_sim: Sim, session: Session
) -> None:
    sim = lever_sim[0]
    sim.set_raw_user({"id": "too-long", "email": "a" * 320 + "@example.com", "name": "Long"})
    sim.set_raw_user({"id": "no-at", "email": "nobody", "name": "No At"})
    setup()
    summary = sync()
    assert summary.status == "completed_with_errors"
    assert summary.errors == 2
    assert summary.people.created == len(sim.users) - 2
    errors = {e.record_key: e.message for e in session.scalars(select(SyncRunError))}
    # each is named by the address it sent (the stored key is cut to the column's 320)
    assert set(errors) == {"a" * 320, "nobody"}
    assert errors["a" * 320] == "email: longer than 320 characters, not a usable address"
    assert errors["nobody"] == "email: Not an email address."
    assert all("\n" not in m and "Traceback" not in m for m in errors.values())
