"""The change log is complete: replaying it reproduces every person and SaaS user exactly.

Random sequences of syncs (a changing set of Lever users, split into pages, with reconciliation
of the ones a sync did not list), workflow-style edits, CSV imports and rolled-back edits run on a
real SQLite file and a real PostgreSQL database. After each step, starting from each object's
create, applying each later change's `after` fields in id order (a JSON document change holds
only the keys that changed, a removed key as null) and dropping deleted objects gives the stored
value of every tracked column of every record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from connector.reconcile import apply_plan, candidates
from connector.sync import SyncEngine
from inventory.changelog import _TRACKED, _json, set_actor
from inventory.models import Change, Integration, Person, SaasUser, SyncRun, SyncRunError
from inventory.records import set_fields
from inventory.settings import Settings
from inventory.timeutil import iso
from tests.conftest import create_lever
from workflows.logins import import_activity

T0 = datetime(2026, 2, 1, tzinfo=UTC)
CREATED_MS = 1_733_206_956_064
DAY_MS = 86_400_000
IDS = [f"u{i}" for i in range(5)]
ROLES = ["super admin", "admin", "team member", "interviewer"]
Key = tuple[str, int]

lever_user = st.fixed_dictionaries({
    "name": st.sampled_from(["Ann Lee", "Bo Chen", "Zoë Müller-Ortiz", "Cy"]),
    "email": st.sampled_from(["own", "OWN", "shared"]),
    "accessRole": st.sampled_from(ROLES),
    "jobTitle": st.sampled_from([None, "Recruiter", "Engineer"]),
    "deactivated": st.one_of(st.none(), st.integers(1, 3)),
    "login": st.one_of(st.none(), st.integers(0, 9)),
})  # fmt: skip
sync_step = st.tuples(
    st.just("sync"),
    st.dictionaries(st.sampled_from(IDS), lever_user, max_size=len(IDS)),
    st.integers(1, 3),
    st.lists(st.sampled_from(["delete", "deactivate", "keep"]), min_size=5, max_size=5),
)
edit_step = st.tuples(
    st.sampled_from(["edit", "rollback"]),
    st.integers(0, 9),
    st.one_of(st.none(), st.sampled_from([*ROLES, "auditor"])),
    st.sampled_from(["active", "deactivated", "deleted"]),
)
import_step = st.tuples(
    st.just("import"),
    st.lists(
        st.tuples(
            st.integers(0, 9),
            st.one_of(st.none(), st.sampled_from([*ROLES, "auditor"])),
            st.one_of(st.none(), st.integers(0, 12)),
        ),
        max_size=4,
    ),
)
later_step = st.one_of(sync_step, sync_step, edit_step, import_step)
steps = st.builds(lambda first, rest: [first, *rest], sync_step, st.lists(later_step, max_size=6))


@pytest.fixture
def integration(settings: Settings, session_factory: sessionmaker[Session]) -> int:
    """A launched, smart-mapped integration 'lever' (never called: pages come from memory)."""
    return create_lever(session_factory, settings, "https://api.lever.co").id


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_replaying_the_change_log_reproduces_every_record(
    session_factory: sessionmaker[Session], integration: int, plan: list[tuple[Any, ...]]
) -> None:
    with session_factory() as session:
        _reset(session)
        for number, step in enumerate(plan, start=1):
            now = T0 + timedelta(hours=number)
            RUNNERS[step[0]](session, integration, now, *step[1:])
            session.commit()
            assert replayed(session) == stored(session), f"after step {number}: {step}"


def _reset(session: Session) -> None:
    """An empty inventory and change log for the example (the integration and app stay)."""
    for model in (Change, SaasUser, Person, SyncRunError, SyncRun):
        session.execute(delete(model))
    session.commit()


# -- steps -----------------------------------------------------------------------------------


def run_sync(
    session: Session,
    integ_id: int,
    now: datetime,
    users: dict[str, dict[str, Any]],
    page_size: int,
    unlisted: list[str],
) -> None:
    """A sync of these Lever users, then reconciliation of the active ones it did not list."""
    integ = session.get_one(Integration, integ_id)
    run = SyncRun(integration_id=integ.id, status="running", started_at=now)
    session.add(run)
    session.flush()
    set_actor(session, "integration", "lever", run.id)
    raws = [raw_user(uid, spec) for uid, spec in sorted(users.items())]
    pages = [raws[i : i + page_size] for i in range(0, len(raws), page_size)]
    summary = SyncEngine(session, integ, pages, now=lambda: now, prefetch=False).run(run)
    if summary.complete_read and summary.fetched:
        entries = [
            {"saas_user_id": c.saas_user_id, "action": action,
             "deactivated_at": iso(now - timedelta(days=1)) if action == "deactivate" else None}
            for c in candidates(session, integ, run_id=run.id)
            if (action := unlisted[IDS.index(c.external_id)]) != "keep"
        ]  # fmt: skip
        apply_plan(session, entries, now)


def raw_user(uid: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A user exactly as Lever sends it."""
    email = {"own": f"{uid}@example.com", "OWN": f"{uid.upper()}@Example.COM"}.get(
        spec["email"], "shared@example.com"
    )
    deactivated, login = spec["deactivated"], spec["login"]
    return {
        "id": uid, "name": spec["name"], "username": uid, "email": email,
        "accessRole": spec["accessRole"], "photo": None, "createdAt": CREATED_MS,
        "deactivatedAt": None if deactivated is None else CREATED_MS + deactivated * DAY_MS,
        "externalDirectoryId": None, "linkedContactIds": None, "jobTitle": spec["jobTitle"],
        "managerId": None,
        "lastLoggedInAt": None if login is None else CREATED_MS + login * DAY_MS,
    }  # fmt: skip


def edit(
    session: Session, _integ_id: int, now: datetime, pick: int, role: str | None, status: str
) -> None:
    """A workflow-style edit of one SaaS user: its status and maybe its role."""
    user = _pick(session, pick)
    if user is None:
        return
    set_actor(session, "workflow", "wf")
    values: dict[str, Any] = {"status": status}
    if role is not None:
        values["role"] = role
    if status == "deactivated" and user.deactivated_at is None:
        values["deactivated_at"] = now
    set_fields(session, user, values, now)


def rolled_back(
    session: Session, integ_id: int, now: datetime, pick: int, role: str | None, status: str
) -> None:
    """An edit whose transaction rolls back: it leaves neither a change nor a row."""
    edit(session, integ_id, now, pick, role, status)
    session.flush()
    session.rollback()


def csv_import(
    session: Session,
    _integ_id: int,
    now: datetime,
    rows: list[tuple[int, str | None, int | None]],
) -> None:
    """`invsync saas-users import` of a few rows for existing SaaS users' addresses."""
    lines = ["email,role,last_activity\n"]
    for pick, role, days in rows:
        user = _pick(session, pick)
        if user is None or user.email is None:
            continue
        when = "" if days is None else (T0 + timedelta(days=days - 6)).date().isoformat()
        lines.append(f"{user.email},{role or ''},{when}\n")
    if len(lines) > 1:
        set_actor(session, "cli", "saas-users import activity.csv")
        import_activity(session, "Lever", lines, now)


def _pick(session: Session, pick: int) -> SaasUser | None:
    """One of the SaaS users, by position, if there are any."""
    ids = session.scalars(select(SaasUser.id).order_by(SaasUser.id)).all()
    return session.get_one(SaasUser, ids[pick % len(ids)]) if ids else None


RUNNERS: dict[str, Any] = {
    "sync": run_sync,
    "edit": edit,
    "rollback": rolled_back,
    "import": csv_import,
}


# -- replay ----------------------------------------------------------------------------------


def replayed(session: Session) -> dict[Key, dict[str, Any]]:
    """Every record as the change log tells it, from its create through each later change."""
    state: dict[Key, dict[str, Any]] = {}
    for change in session.scalars(select(Change).order_by(Change.id)):
        key = (change.object_type, change.object_id)
        if change.action == "create":
            assert key not in state, f"a second create of {key}"
            state[key] = dict(change.after)
        elif change.after is None:
            del state[key]
        else:
            assert key in state, f"a change of {key} before its create"
            _apply(state[key], change.after)
    return {key: _normal(values, key[0]) for key, values in state.items()}


def _apply(values: dict[str, Any], after: dict[str, Any]) -> None:
    """One change's new values over a record's; a JSON document's keys merged."""
    for name, value in after.items():
        if name == "custom" and isinstance(value, dict):
            value = {**(values.get(name) or {}), **value}
        values[name] = value


def stored(session: Session) -> dict[Key, dict[str, Any]]:
    """Every person and SaaS user as the database holds it, JSON-shaped."""
    session.expire_all()
    found: dict[Key, dict[str, Any]] = {}
    for model in (Person, SaasUser):
        spec = _TRACKED[model]
        columns = [getattr(model, c) for c in spec.columns]
        for row in session.execute(select(model.id, *columns)).mappings():
            values = {c: _json(row[c]) for c in spec.columns}
            found[(spec.object_type, row["id"])] = _normal(values, spec.object_type)
    return found


def _normal(values: dict[str, Any], object_type: str) -> dict[str, Any]:
    """Every tracked column's value (None when never set); a JSON document without null keys."""
    columns = next(s.columns for s in _TRACKED.values() if s.object_type == object_type)
    normal = {c: values.get(c) for c in columns}
    if isinstance(normal.get("custom"), dict):
        normal["custom"] = {k: v for k, v in normal["custom"].items() if v is not None}
    return normal


def test_the_replay_sees_a_missing_change(
    session_factory: sessionmaker[Session], integration: int
) -> None:
    with session_factory() as session:
        run_sync(session, integration, T0, {"u0": _plain_user()}, 1, ["keep"] * 5)
        session.commit()
        assert replayed(session) == stored(session)
        user = session.scalars(select(SaasUser)).one()
        user.role = "changed behind the log's back"
        session.commit()
        assert replayed(session) != stored(session), "the check would catch an unlogged write"


def _plain_user() -> dict[str, Any]:
    """The values of one ordinary Lever user for `raw_user`."""
    return {"name": "Ann Lee", "email": "own", "accessRole": "admin", "jobTitle": None,
            "deactivated": None, "login": None}  # fmt: skip
