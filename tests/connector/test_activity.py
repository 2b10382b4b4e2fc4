"""Login activity from Lever's Audit Events add-on, over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.activity import NOT_AVAILABLE, ActivityOutcome, read_login_activity
from inventory.models import Integration, SaasUser
from inventory.timeutil import from_ms, to_ms
from tests.conftest import LAB_NOW as NOW
from tests.conftest import Lab


@pytest.fixture
def lab(lab: Lab, session_factory: sessionmaker[Session]) -> Lab:
    """The shared lab with a synced integration reading login activity, its stored last logins
    wiped."""
    lab.sim.audit_events = True
    lab.create(login_activity="audit-events")
    lab.sync()
    with session_factory.begin() as session:
        session.execute(update(SaasUser).values(last_login_at=None))
    return lab


def read(lab: Lab, now: datetime = NOW, **options: Any) -> ActivityOutcome:
    """Read login activity and commit."""
    with lab.factory.begin() as session:
        integ = integrations.get(session, "lever")
        with lab.client(session, integ, **options) as client:
            return read_login_activity(session, integ, client, now=now)


def set_cursor(lab: Lab, when: datetime | None) -> None:
    """Move the integration's login cursor."""
    with lab.factory.begin() as session:
        integrations.get(session, "lever").login_cursor_at = when


def cursor(lab: Lab) -> datetime | None:
    """The integration's login cursor as stored."""
    with lab.factory() as session:
        return session.scalar(select(Integration.login_cursor_at))


def last_logins(lab: Lab) -> dict[str, datetime | None]:
    """Every SaaS user's last login by Lever id."""
    with lab.factory() as session:
        found = session.execute(select(SaasUser.external_id, SaasUser.last_login_at)).all()
        return {ext_id: when for ext_id, when in found}


def logins_since(lab: Lab, since: datetime) -> dict[str, datetime]:
    """Lever's sign-ins at or after a time, by user id."""
    start = to_ms(since)
    return {
        u["id"]: from_ms(u["lastLoggedInAt"])
        for u in lab.sim.users
        if u["lastLoggedInAt"] is not None and u["lastLoggedInAt"] >= start
    }


def audit_queries(lab: Lab) -> list[dict[str, list[str]]]:
    """The query of every audit events request the simulator answered."""
    return [q for _, path, q in lab.sim.requests if path == "/v1/audit_events"]


def test_last_logins_of_the_last_90_days_are_read_first(lab: Lab) -> None:
    outcome = read(lab)
    expected = logins_since(lab, NOW - timedelta(days=90))
    assert expected, "the seed has recent sign-ins"
    assert (outcome.status, outcome.updated) == ("done", len(expected))
    stored = last_logins(lab)
    assert {k: v for k, v in stored.items() if v is not None} == expected
    assert cursor(lab) == max(expected.values())
    query = audit_queries(lab)[0]
    assert query["type"] == ["user.authentication:succeeded"]
    assert query["created_at_start"] == [str(to_ms(NOW - timedelta(days=90)))]


def test_every_page_of_events_is_read_and_the_latest_login_kept(lab: Lab) -> None:
    set_cursor(lab, datetime(2000, 1, 1, tzinfo=NOW.tzinfo))
    outcome = read(lab)
    expected = logins_since(lab, datetime(2000, 1, 1, tzinfo=NOW.tzinfo))
    assert len(expected) > 200
    assert lab.sim.counts["audit_events"] == 3, "100 + 100 + the rest"
    assert outcome.updated == len(expected)
    assert {k: v for k, v in last_logins(lab).items() if v is not None} == expected


def test_the_cursor_advances_and_only_newer_sign_ins_are_read(lab: Lab) -> None:
    read(lab)
    first = cursor(lab)
    assert first is not None
    who = lab.active_ids(1)[0]
    later = first + timedelta(hours=2)
    lab.sim.update_user(who, lastLoggedInAt=to_ms(later))
    outcome = read(lab, now=NOW + timedelta(hours=3))
    assert (outcome.status, outcome.updated) == ("done", 1)
    assert last_logins(lab)[who] == later
    assert cursor(lab) == later
    assert audit_queries(lab)[-1]["created_at_start"] == [str(to_ms(first))]
    again = read(lab, now=NOW + timedelta(hours=4))
    assert (again.status, again.updated, cursor(lab)) == ("done", 0, later)


def test_without_the_add_on_logins_are_not_available_and_nothing_is_raised(lab: Lab) -> None:
    lab.sim.audit_events = False
    outcome = read(lab)
    assert outcome == ActivityOutcome("not_available", 0, NOT_AVAILABLE)
    assert outcome.message == (
        "Lever Audit Events add-on not enabled for this key: "
        "last logins come from lastLoggedInAt only"
    )
    assert cursor(lab) is None
    assert set(last_logins(lab).values()) == {None}


def test_lever_failing_mid_read_changes_nothing(lab: Lab) -> None:
    set_cursor(lab, datetime(2000, 1, 1, tzinfo=NOW.tzinfo))
    with lab.factory.begin() as session:
        integ = integrations.get(session, "lever")
        with lab.client(session, integ, max_tries=2) as client:
            pages = client.iter_audit_event_pages

            def first_page_then_outage(**kw: Any) -> Iterator[list[dict[str, Any]]]:
                stream = pages(**kw)
                yield next(stream)
                lab.sim.inject("503", count=1000, path_prefix="/v1/audit_events")
                yield from stream

            client.iter_audit_event_pages = first_page_then_outage  # type: ignore[method-assign]
            outcome = read_login_activity(session, integ, client, now=NOW)
    assert outcome.status == "skipped"
    assert outcome.message and "Lever unreachable" in outcome.message
    assert cursor(lab) == datetime(2000, 1, 1, tzinfo=NOW.tzinfo)
    assert set(last_logins(lab).values()) == {None}


def test_an_integration_not_reading_activity_is_skipped(lab: Lab) -> None:
    lab.update(login_activity=None)
    outcome = read(lab)
    assert outcome.status == "skipped"
    assert audit_queries(lab) == []
