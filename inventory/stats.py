"""Dashboard numbers: counts, SaaS users by role and status, sync runs per day, idle accounts,
and the pre-start people about to start.

Every number is aggregated by the database (COUNT … GROUP BY), so the cost does not grow with
the Python side of the inventory; the upcoming starts are one bounded read. Days are UTC calendar
days; the time is a parameter. The functions take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Select, case, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from inventory.models import Approval, Integration, Person, SaasApp, SaasUser, SyncRun, Workflow
from inventory.statuses import ApprovalStatus, PersonStatus, SaasUserStatus

__all__ = [
    "IDLE_DAYS",
    "RUN_OUTCOMES",
    "UPCOMING_DAYS",
    "Counts",
    "Dashboard",
    "DayRuns",
    "Idle",
    "Start",
    "Upcoming",
    "counts",
    "dashboard",
    "idle_users",
    "runs_per_day",
    "upcoming_starts",
    "users_by_role",
    "users_by_status",
]

DEFAULT_APP = "Lever"
IDLE_DAYS = (90, 180, 365)
# How a run's status is shown on the runs chart: anything not named here counts as "other".
RUN_OUTCOMES = ("succeeded", "completed_with_errors", "failed", "other")
# The upcoming starts are those of the next 30 UTC days: today and the 29 after it.
UPCOMING_DAYS = 30
UPCOMING_SHOWN = 20


@dataclass(frozen=True)
class Counts:
    """How many of each thing the inventory holds."""

    people: int
    saas_users: int
    active_saas_users: int
    integrations: int
    workflows: int
    pending_approvals: int


@dataclass(frozen=True)
class DayRuns:
    """The sync runs started on one UTC day, by outcome."""

    day: date
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RUN_OUTCOMES, 0))

    @property
    def total(self) -> int:
        """All runs of the day."""
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class Idle:
    """Active SaaS users by how long ago they last signed in to the app."""

    at_least: dict[int, int]
    never: int


@dataclass(frozen=True)
class Start:
    """A pre-start person due to start soon, with their manager's name and email."""

    person_id: int
    email: str
    full_name: str | None
    start_date: date
    department: str | None
    location: str | None
    manager_name: str | None
    manager_email: str | None


@dataclass(frozen=True)
class Upcoming:
    """The soonest upcoming starts, and whether there are more than these."""

    starts: list[Start]
    more: bool


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows, read at one moment."""

    counts: Counts
    by_role: list[tuple[str | None, int]]
    by_status: dict[str, int]
    runs: list[DayRuns]
    idle: Idle
    upcoming: Upcoming


def dashboard(session: Session, now: datetime, app: str = DEFAULT_APP) -> Dashboard:
    """The dashboard's numbers for one SaaS app (Lever unless told otherwise)."""
    return Dashboard(
        counts=counts(session, app),
        by_role=users_by_role(session, app),
        by_status=users_by_status(session, app),
        runs=runs_per_day(session, now),
        idle=idle_users(session, now, app),
        upcoming=upcoming_starts(session, now.astimezone(UTC).date()),
    )


def _of_app(app: str) -> ColumnElement[bool]:
    """SaaS users of one app, its name matched ignoring case."""
    return SaasUser.app_id.in_(select(SaasApp.id).where(func.lower(SaasApp.name) == app.lower()))


def _count(model: Any, *where: ColumnElement[bool]) -> Any:
    """A scalar subquery counting a table's rows."""
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


def counts(session: Session, app: str = DEFAULT_APP) -> Counts:
    """The headline counts, read with one query."""
    query: Select[Any] = select(
        _count(Person),
        _count(SaasUser, _of_app(app)),
        _count(SaasUser, _of_app(app), SaasUser.status == SaasUserStatus.ACTIVE),
        _count(Integration),
        _count(Workflow),
        _count(Approval, Approval.status == ApprovalStatus.PENDING),
    )
    return Counts(*(int(n) for n in session.execute(query).one()))


def users_by_role(session: Session, app: str = DEFAULT_APP) -> list[tuple[str | None, int]]:
    """How many of the app's users hold each role, most common first (None: no role)."""
    n = func.count().label("n")
    query = (
        select(SaasUser.role, n)
        .where(_of_app(app))
        .group_by(SaasUser.role)
        .order_by(n.desc(), SaasUser.role.is_(None), SaasUser.role)
    )
    return [(role, int(count)) for role, count in session.execute(query)]


def users_by_status(session: Session, app: str = DEFAULT_APP) -> dict[str, int]:
    """How many of the app's users are active, deactivated (always both) or otherwise."""
    query = select(SaasUser.status, func.count()).where(_of_app(app)).group_by(SaasUser.status)
    found = {status: int(count) for status, count in session.execute(query)}
    return {"active": 0, "deactivated": 0} | dict(sorted(found.items()))


def _day_start(day: date) -> datetime:
    """Midnight UTC at the start of a day."""
    return datetime.combine(day, time(), tzinfo=UTC)


def _as_date(value: Any) -> date:
    """A grouped day as a date (drivers differ in what they hand back)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def runs_per_day(session: Session, now: datetime, days: int = 30) -> list[DayRuns]:
    """Sync runs started on each of the last `days` UTC days (today included), by outcome."""
    last = now.astimezone(UTC).date()
    first = last - timedelta(days=days - 1)
    # Timestamps are stored as naive UTC, so the database's date() is the UTC day.
    day = func.date(SyncRun.started_at, type_=Date).label("day")
    query = (
        select(day, SyncRun.status, func.count())
        .where(SyncRun.started_at >= _day_start(first))
        .where(SyncRun.started_at < _day_start(last + timedelta(days=1)))
        .group_by(day, SyncRun.status)
    )
    buckets = {first + timedelta(days=i): DayRuns(first + timedelta(days=i)) for i in range(days)}
    for when, status, count in session.execute(query):
        outcome = status if status in RUN_OUTCOMES else "other"
        buckets[_as_date(when)].outcomes[outcome] += int(count)
    return list(buckets.values())


def _idle_since(cutoff: datetime) -> ColumnElement[int]:
    """1 for a user whose last sign-in was at or before the cutoff, else 0 (summed)."""
    return func.coalesce(func.sum(case((SaasUser.last_login_at <= cutoff, 1), else_=0)), 0)


def idle_users(
    session: Session, now: datetime, app: str = DEFAULT_APP, days: Sequence[int] = IDLE_DAYS
) -> Idle:
    """Active users whose last sign-in is at least each number of days ago, and those never seen.

    A user last seen exactly 90 days ago counts as idle for 90 days; the groups nest (everyone
    idle for 365 days is idle for 90), and users who never signed in are counted apart.
    """
    never = func.coalesce(func.sum(case((SaasUser.last_login_at.is_(None), 1), else_=0)), 0)
    columns = [_idle_since(now - timedelta(days=n)) for n in days]
    query = select(*columns, never).where(_of_app(app), SaasUser.status == "active")
    *idle, unseen = (int(n) for n in session.execute(query).one())
    return Idle(dict(zip(days, idle, strict=True)), unseen)


def upcoming_starts(
    session: Session, today: date, days: int = UPCOMING_DAYS, limit: int = UPCOMING_SHOWN
) -> Upcoming:
    """Pre-start people whose start date is within `days` days from `today` (today is day 0, so
    day `days` is out), soonest first; at most `limit` of them, in one query."""
    manager = aliased(Person, name="manager")
    query = (
        select(Person.id.label("person_id"), Person.email, Person.full_name, Person.start_date,
               Person.department, Person.location, manager.full_name.label("manager_name"),
               manager.email.label("manager_email"))
        .outerjoin(manager, Person.manager_id == manager.id)
        .where(Person.status == PersonStatus.PRE_START)
        .where(Person.start_date >= today, Person.start_date < today + timedelta(days=days))
        .order_by(Person.start_date, Person.id)
        .limit(limit + 1)
    )  # fmt: skip
    starts = [Start(**row._mapping) for row in session.execute(query)]
    return Upcoming(starts[:limit], len(starts) > limit)
