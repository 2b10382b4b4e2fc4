"""Dashboard numbers on a seeded inventory: counts, roles, statuses, runs per UTC day, idle users,
and the upcoming starts of pre-start people.

The seed is shared with the dashboard and report tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy import event
from sqlalchemy.orm import Session

from inventory import stats
from inventory.models import (
    Approval,
    Integration,
    Person,
    SaasApp,
    SaasUser,
    SyncRun,
    Workflow,
    WorkflowRun,
)
from tests.inventory.test_queries import add_hires

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
XSS = "<script>alert(1)</script>"


def _user(
    app: SaasApp, n: int, role: str | None, status: str = "active", idle: timedelta | None = None
) -> SaasUser:
    """A SaaS user of an app with a made-up id and email, last signed in `idle` before NOW."""
    email = f"u{n}@example.com"
    login = None if idle is None else NOW - idle
    return SaasUser(app=app, external_id=f"x{n}", email=email, email_key=email, name=f"User {n}",
                    role=role, status=status, last_login_at=login)  # fmt: skip


def _users(lever: SaasApp, other: SaasApp) -> list[SaasUser]:
    """Nine Lever users (two deactivated) and one user of another app, signing in at boundaries."""
    days = lambda n, **kw: timedelta(days=n, **kw)  # noqa: E731
    return [
        _user(lever, 1, "interviewer", idle=days(89, hours=23, minutes=59, seconds=59)),
        _user(lever, 2, "interviewer", idle=days(90)),
        _user(lever, 3, "interviewer", idle=days(179, hours=23)),
        _user(lever, 4, "admin", idle=days(180)),
        _user(lever, 5, "admin", idle=days(364, hours=23, minutes=59)),
        _user(lever, 6, XSS, idle=days(365)),
        _user(lever, 7, None),
        _user(lever, 8, "admin", "deactivated", idle=days(400)),
        _user(lever, 9, "team member", "deactivated"),
        _user(other, 10, "admin", idle=days(500)),
    ]


def _runs(integ: Integration) -> list[SyncRun]:
    """Runs at the edges of UTC days and of the 30-day window (2024-05-03 to 2024-06-01)."""
    minus2 = timezone(timedelta(hours=-2))
    plan = [
        (datetime(2024, 6, 1, 0, 0, tzinfo=UTC), "succeeded"),
        (datetime(2024, 5, 31, 23, 30, tzinfo=minus2), "failed"),  # 01:30 UTC on June 1st
        (datetime(2024, 5, 31, 23, 59, 59, 999999, tzinfo=UTC), "failed"),
        (datetime(2024, 5, 31, 10, 0, tzinfo=UTC), "completed_with_errors"),
        (datetime(2024, 5, 31, 9, 0, tzinfo=UTC), "succeeded"),
        (datetime(2024, 5, 3, 0, 0, tzinfo=UTC), "cancelled"),
        (datetime(2024, 5, 2, 23, 59, 59, tzinfo=UTC), "succeeded"),  # a day before the window
        (datetime(2024, 6, 2, 0, 0, tzinfo=UTC), "held"),  # tomorrow: not shown
    ]
    return [SyncRun(integration=integ, status=s, started_at=t, trigger="manual") for t, s in plan]


def _workflows(session: Session) -> None:
    """Two workflows, one run with three approvals of which two still wait."""
    flows = [Workflow(name=name, definition={}) for name in ("a", "b")]
    session.add_all(flows)
    session.flush()
    run = WorkflowRun(workflow_id=flows[0].id, version=1)
    session.add(run)
    session.flush()
    for status in ("pending", "pending", "approved"):
        session.add(Approval(workflow_id=flows[0].id, run_id=run.id, block_id="b1", status=status))


def seed(session: Session) -> None:
    """The inventory the dashboard tests read: known counts in every chart."""
    lever, other = SaasApp(name="Lever"), SaasApp(name="Slack")
    session.add_all([Person(email=f"p{n}@example.com", email_key=f"p{n}@example.com")
                     for n in range(3)])  # fmt: skip
    session.add_all(_users(lever, other))
    integ = Integration(name="lever", credential_name="k", base_url="http://127.0.0.1:1")
    session.add(Integration(name="spare", credential_name="k", base_url="http://127.0.0.1:1"))
    session.add_all(_runs(integ))
    _workflows(session)
    session.flush()


def test_counts(session: Session) -> None:
    seed(session)
    assert stats.counts(session) == stats.Counts(
        people=3, saas_users=9, active_saas_users=7, integrations=2, workflows=2,
        pending_approvals=2,
    )  # fmt: skip
    assert stats.counts(session, "slack").saas_users == 1


def test_an_empty_inventory_counts_zeros(session: Session) -> None:
    assert stats.counts(session) == stats.Counts(0, 0, 0, 0, 0, 0)
    assert stats.users_by_role(session) == []
    assert stats.users_by_status(session) == {"active": 0, "deactivated": 0}
    assert stats.idle_users(session, NOW) == stats.Idle({90: 0, 180: 0, 365: 0}, 0)
    assert all(day.total == 0 for day in stats.runs_per_day(session, NOW))


def test_users_by_role_most_common_first_of_lever_only(session: Session) -> None:
    seed(session)
    assert stats.users_by_role(session) == [
        ("admin", 3), ("interviewer", 3), (XSS, 1), ("team member", 1), (None, 1),
    ]  # fmt: skip


def test_users_by_status(session: Session) -> None:
    seed(session)
    assert stats.users_by_status(session) == {"active": 7, "deactivated": 2}


def test_runs_are_bucketed_by_utc_day_over_thirty_days(session: Session) -> None:
    seed(session)
    days = stats.runs_per_day(session, NOW)
    assert len(days) == 30
    assert (days[0].day, days[-1].day) == (date(2024, 5, 3), date(2024, 6, 1))
    by_day = {d.day: d.outcomes for d in days if d.total}
    zero = dict.fromkeys(stats.RUN_OUTCOMES, 0)
    assert by_day == {
        date(2024, 5, 3): zero | {"other": 1},
        date(2024, 5, 31): zero | {"succeeded": 1, "completed_with_errors": 1, "failed": 1},
        date(2024, 6, 1): zero | {"succeeded": 1, "failed": 1},
    }


def test_the_window_follows_now_in_utc(session: Session) -> None:
    seed(session)
    late_evening_west = datetime(2024, 6, 1, 20, 0, tzinfo=timezone(timedelta(hours=-6)))
    days = stats.runs_per_day(session, late_evening_west, days=2)
    assert [(d.day, d.total) for d in days] == [(date(2024, 6, 1), 2), (date(2024, 6, 2), 1)]


def test_idle_users_at_the_90_180_365_day_boundaries(session: Session) -> None:
    seed(session)
    # Active users only: u2 (90 days), u3 (179d23h), u4 (180), u5 (364d23h59m), u6 (365).
    assert stats.idle_users(session, NOW) == stats.Idle({90: 5, 180: 3, 365: 1}, never=1)
    a_second_later = stats.idle_users(session, NOW + timedelta(seconds=1))
    assert a_second_later == stats.Idle({90: 6, 180: 3, 365: 1}, never=1)


def test_the_dashboard_reads_few_rows_with_few_queries(session: Session) -> None:
    seed(session)
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()
    record = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        board = stats.dashboard(session, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    *numbers, upcoming = statements
    assert len(numbers) == 5
    assert all("count(" in s.lower() or "sum(" in s.lower() for s in numbers)
    assert "LIMIT" in upcoming.upper()  # the upcoming starts: one bounded read of people
    assert board.counts.people == 3 and board.idle.never == 1


# --- upcoming starts -------------------------------------------------------------------------

TODAY = NOW.date()


def test_upcoming_starts_are_the_next_thirty_days_of_pre_start_people_soonest_first(
    session: Session,
) -> None:
    add_hires(session, TODAY)
    upcoming = stats.upcoming_starts(session, TODAY)
    # Day 0 (today) and day 29 are in; day 30, yesterday, no date yet, cancelled and active out.
    assert [s.email for s in upcoming.starts] == [
        "hana@corp.example", "ivo@corp.example", "jan@corp.example",
    ]  # fmt: skip
    assert not upcoming.more
    hana = upcoming.starts[0]
    assert (hana.full_name, hana.start_date, hana.department, hana.location) == (
        "Hana Day", TODAY, "Engineering", "Berlin",
    )  # fmt: skip
    assert (hana.manager_name, hana.manager_email) == ("Mia Manager", "mia@corp.example")
    assert (upcoming.starts[2].start_date - TODAY).days == 29
    assert upcoming.starts[2].manager_name is upcoming.starts[2].manager_email is None


def test_the_window_moves_with_today(session: Session) -> None:
    add_hires(session, TODAY)
    tomorrow = stats.upcoming_starts(session, TODAY + timedelta(days=1))
    assert [s.email for s in tomorrow.starts] == [
        "ivo@corp.example", "jan@corp.example", "kim@corp.example",
    ]  # fmt: skip
    a_month_ago = stats.upcoming_starts(session, TODAY - timedelta(days=30))
    assert [s.email for s in a_month_ago.starts] == ["lee@corp.example"]  # due yesterday: day 29
    assert stats.upcoming_starts(session, TODAY - timedelta(days=31)).starts == []


def test_only_the_soonest_are_read_and_more_says_there_are_others(session: Session) -> None:
    add_hires(session, TODAY)
    first = stats.upcoming_starts(session, TODAY, limit=2)
    assert [s.email for s in first.starts] == ["hana@corp.example", "ivo@corp.example"]
    assert first.more
    assert not stats.upcoming_starts(session, TODAY, limit=3).more


def test_the_dashboard_reads_upcoming_starts_on_nows_utc_day(session: Session) -> None:
    add_hires(session, TODAY)
    late_evening_west = datetime(2024, 5, 31, 20, 0, tzinfo=timezone(timedelta(hours=-6)))
    board = stats.dashboard(session, late_evening_west)  # already June 1st in UTC
    assert board.upcoming == stats.upcoming_starts(session, TODAY)
