"""The change log as users read it, written by the services that write: syncs against the
simulator, reconciliation, login activity, workflow blocks and the CSV import, on a real SQLite
file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.activity import read_login_activity
from connector.jobs import run_sync
from connector.lever.sim import ANCHOR_MS
from connector.sync import SyncSummary
from inventory.changelog import BOOKKEEPING_COLUMNS, list_changes, set_actor
from inventory.errors import ConfigError
from inventory.models import Change, Person, SaasApp, SaasUser
from inventory.records import set_fields, update_saas_users
from inventory.settings import Settings
from inventory.timeutil import from_ms, iso
from tests.conftest import LAB_NOW, Lab, Sim, sync_as_run
from tests.workflows.conftest import LEVER_ACTIVE, ROLE, chain, options
from workflows import store
from workflows.logins import import_activity
from workflows.registry import load_registry
from workflows.runner import run_workflow

Sync = Callable[[], SyncSummary]
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def sync(settings: Settings, session_factory: sessionmaker[Session], launched: Sim) -> Sync:
    """A launched integration 'lever', and a sync of it whose session names the run as actor."""
    return lambda: sync_as_run(session_factory, settings)


def changes(session: Session, **filters: Any) -> list[dict[str, Any]]:
    """The change log as `changes list --format json` shows it, oldest first."""
    session.expire_all()
    return list(reversed(list(list_changes(session, **filters))))


def count_changes(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Change)) or 0


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, Any], dict[str, Any]]:
    """Change rows by object type and key (one each)."""
    found = {(r["object"]["type"], r["object"]["key"]): r for r in rows}
    assert len(found) == len(rows), "one change per object"
    return found


# -- syncs -----------------------------------------------------------------------------------


def test_a_sync_records_a_create_for_every_person_and_saas_user(
    sync: Sync, lever_sim: Sim, session: Session
) -> None:
    summary = sync()
    rows = changes(session)
    assert {r["action"] for r in rows} == {"create"}
    assert {r["actor"]["kind"] for r in rows} == {"integration"}
    assert {r["actor"]["name"] for r in rows} == {"lever"}
    assert {r["run_id"] for r in rows} == {summary.run_id}
    people = dict(session.execute(select(Person.email, Person.id)).all())
    accounts = dict(session.execute(select(SaasUser.external_id, SaasUser.id)).all())
    created = {(r["object"]["type"], r["object"]["key"]): r["object"]["id"] for r in rows}
    assert created == {("person", k): v for k, v in people.items()} | {
        ("saas_user", k): v for k, v in accounts.items()
    }
    assert len(rows) == 2 * len(lever_sim[0].users)


def test_a_create_holds_the_new_values_and_no_bookkeeping(sync: Sync, session: Session) -> None:
    sync()
    person = session.scalars(select(Person).order_by(Person.id)).first()
    assert person is not None
    row = changes(session, object_type="person")[0]
    assert row["before"] is None
    assert row["after"]["email"] == person.email
    assert row["after"]["full_name"] == person.full_name
    gone = [r for r in changes(session, object_type="saas_user") if r["after"]["deactivated_at"]]
    assert gone and gone[0]["after"]["deactivated_at"].endswith("Z"), "times are ISO-8601 UTC"
    for change in changes(session):
        assert not set(change["after"]) & BOOKKEEPING_COLUMNS


def test_a_resync_without_change_adds_no_rows(sync: Sync, session: Session) -> None:
    sync()
    before = count_changes(session)
    again = sync()
    assert (again.people.updated, again.saas_users.updated) == (0, 0)
    assert count_changes(session) == before, "the stamps of a re-sync are not changes"


def test_a_changed_lever_user_gives_one_update_with_just_the_changed_fields(
    sync: Sync, lever_sim: Sim, session: Session
) -> None:
    sync()
    sim = lever_sim[0]
    active = [u for u in sim.users if not u["deactivatedAt"]]
    renamed, leaver = active[0], active[1]
    sim.update_user(renamed["id"], name="Zoë Renamed-Müller", accessRole="admin")
    sim.update_user(leaver["id"], deactivatedAt=leaver["createdAt"] + 86_400_000)
    summary = sync()
    rows = changes(session, run_id=summary.run_id)
    found = by_key(rows)
    assert len(rows) == 3
    person = found["person", renamed["email"]]
    assert person["action"] == "update"
    assert set(person["after"]) == {"first_name", "last_name", "full_name"}
    assert person["after"]["full_name"] == "Zoë Renamed-Müller"
    assert person["before"]["full_name"] == renamed["name"]
    account = found["saas_user", renamed["id"]]
    assert (account["before"]["role"], account["after"]["role"]) == (renamed["accessRole"], "admin")
    gone = found["saas_user", leaver["id"]]
    assert gone["action"] == "deactivate"
    assert gone["before"] == {"status": "active", "deactivated_at": None}
    assert gone["after"]["status"] == "deactivated"
    assert gone["after"]["deactivated_at"].endswith("Z")


def test_a_sync_job_records_its_integration_and_run_as_the_actor(
    sync: Sync, settings: Settings, session_factory: sessionmaker[Session], session: Session
) -> None:
    summary = run_sync(session_factory, settings, "lever")
    rows = changes(session)
    assert rows and {(r["actor"]["kind"], r["actor"]["name"], r["run_id"]) for r in rows} == {
        ("integration", "lever", summary.run_id)
    }


def test_a_sync_puts_back_what_a_workflow_changed_and_logs_both(
    sync: Sync, lever_sim: Sim, session: Session
) -> None:
    sync()
    target = next(u for u in lever_sim[0].users if not u["deactivatedAt"])
    account = session.scalars(select(SaasUser).where(SaasUser.external_id == target["id"])).one()
    set_actor(session, "workflow", "wf")
    assert set_fields(session, account, {"role": "changed by hand"}, NOW)
    session.commit()
    summary = sync()
    edit, back = changes(session, object_type="saas_user", object_id=account.id)[1:]
    assert (edit["actor"]["kind"], edit["after"]) == ("workflow", {"role": "changed by hand"})
    assert (back["run_id"], back["after"]) == (summary.run_id, {"role": target["accessRole"]})


# -- the services outside the sync -----------------------------------------------------------


@pytest.fixture
def account(session: Session) -> SaasUser:
    """One committed active SaaS user of a person, made outside any change under test."""
    person = Person(email="Ada@Example.com", email_key="ada@example.com", full_name="Ada")
    app = SaasApp(name="Lever")
    user = SaasUser(app=app, external_id="u-1", email="Ada@Example.com", person=person)
    session.add(user)
    session.commit()
    return user


@pytest.mark.parametrize(
    ("start", "end", "action"),
    [
        ("active", "deactivated", "deactivate"),
        ("active", "deleted", "delete"),
        ("deactivated", "active", "reactivate"),
        ("deleted", "active", "reactivate"),
    ],
)
def test_a_status_change_is_named_by_its_move(
    account: SaasUser, session: Session, start: str, end: str, action: str
) -> None:
    session.execute(update(SaasUser).values(status=start))
    session.refresh(account)
    set_actor(session, "workflow", "Delete Lever users")
    assert set_fields(session, account, {"status": end}, NOW)
    session.flush()
    [row] = changes(session)
    assert row["action"] == action
    assert row["actor"] == {"kind": "workflow", "name": "Delete Lever users"}
    assert row["object"] == {"type": "saas_user", "id": account.id, "key": "u-1"}
    assert (row["before"], row["after"]) == ({"status": start}, {"status": end})
    assert row["at"] == iso(NOW)


def test_a_status_change_outside_the_moves_is_an_update(
    account: SaasUser, session: Session
) -> None:
    person = account.person
    assert person is not None
    set_actor(session, "workflow", "Delete Lever users")
    assert set_fields(session, person, {"status": "suspended"}, NOW)
    session.flush()
    [row] = changes(session)
    assert row["action"] == "update"
    assert row["object"] == {"type": "person", "id": person.id, "key": "Ada@Example.com"}
    assert (row["before"], row["after"]) == ({"status": "active"}, {"status": "suspended"})


def test_set_fields_without_a_difference_changes_and_records_nothing(
    account: SaasUser, session: Session
) -> None:
    stamp = account.updated_at
    assert not set_fields(session, account, {"status": "active", "role": None}, NOW)
    session.flush()
    assert account.updated_at == stamp
    assert count_changes(session) == 0


def test_a_bulk_update_records_only_rows_that_really_change(
    account: SaasUser, session: Session
) -> None:
    other = SaasUser(app_id=account.app_id, external_id="u-2", status="deactivated")
    session.add(other)
    session.flush()
    session.execute(update(SaasUser).values(fingerprint="abc"))
    stamp = other.updated_at
    wanted = [
        {"id": account.id, "status": "deactivated"},
        {"id": other.id, "status": "deactivated"},
        {"id": 999_999, "status": "deleted"},
    ]
    assert update_saas_users(session, wanted, NOW) == 1
    [row] = changes(session)
    assert (row["action"], row["object"]["key"]) == ("deactivate", "u-1")
    assert (row["before"], row["after"]) == ({"status": "active"}, {"status": "deactivated"})
    stored = dict(session.execute(select(SaasUser.external_id, SaasUser.fingerprint)).all())
    assert stored == {"u-1": None, "u-2": "abc"}, "only a changed row is compared in full again"
    assert session.get_one(SaasUser, other.id).updated_at == stamp


def test_a_change_narrows_json_documents_to_the_changed_keys(
    account: SaasUser, session: Session
) -> None:
    person = session.get_one(Person, account.person_id)
    old = {"Lever ID": "a", "Badge": "7"}
    session.execute(update(Person).values(custom=old))
    set_fields(session, person, {"custom": {**old, "Lever ID": "b"}}, NOW)
    set_fields(session, person, {"custom": {**old, "Lever ID": "b"}}, NOW)
    [row] = changes(session)
    assert (row["action"], row["object"]["key"]) == ("update", "Ada@Example.com")
    assert (row["before"], row["after"]) == (
        {"custom": {"Lever ID": "a"}},
        {"custom": {"Lever ID": "b"}},
    )


def test_a_rolled_back_change_leaves_no_row(account: SaasUser, session: Session) -> None:
    set_fields(session, account, {"status": "deactivated"}, NOW)
    update_saas_users(session, [{"id": account.id, "role": "admin"}], NOW)
    session.flush()
    assert count_changes(session) == 2
    session.rollback()
    assert count_changes(session) == 0


def test_list_changes_filters_and_limits(account: SaasUser, session: Session) -> None:
    set_actor(session, "integration", "lever", 7)
    set_fields(session, account, {"role": "admin"}, NOW)
    set_actor(session, "integration", "lever", 8)
    assert account.person is not None
    set_fields(session, account.person, {"job_title": "CTO"}, NOW)
    set_fields(session, account, {"status": "deactivated"}, NOW)
    session.flush()
    newest = list(list_changes(session))
    assert [r["run_id"] for r in newest] == [8, 8, 7], "newest first"
    assert {r["action"] for r in newest[:2]} == {"deactivate", "update"}
    assert len(list(list_changes(session, run_id=8))) == 2
    assert [r["object"]["type"] for r in list_changes(session, object_type="person")] == ["person"]
    mine = list_changes(session, object_type="saas_user", object_id=account.id)
    assert [r["action"] for r in mine] == ["deactivate", "update"]
    assert len(list(list_changes(session, limit=1))) == 1


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"object_type": "laptop"}, "unknown object type"),
        ({"limit": 0}, "--limit"),
        ({"object_id": 1}, "needs its object type"),
    ],
)
def test_list_changes_refuses_bad_filters(
    session: Session, filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        list_changes(session, **filters)


def test_set_actor_refuses_an_unknown_kind(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown actor kind"):
        set_actor(session, "robot", "r2")


# -- each writer records its changes, with its actor -----------------------------------------


@pytest.fixture
def lab(lab: Lab) -> Lab:
    """The shared lab with the audit events add-on on and its integration created."""
    lab.sim.audit_events = True
    lab.create()
    return lab


def job(lab: Lab) -> SyncSummary:
    """A whole sync job of 'lever': read, reconciliation and login activity."""
    return run_sync(lab.factory, lab.settings, "lever", client_factory=lab.client_factory())


def test_reconciliation_records_a_delete_and_a_deactivate_of_its_run(
    lab: Lab, session: Session
) -> None:
    job(lab)
    gone, leaver = lab.active_ids(2)
    when = ANCHOR_MS + 60_000
    lab.sim.remove_user(gone)
    lab.sim.update_user(leaver, deactivatedAt=when)
    lab.update(filters={"field": "id", "op": "ne", "value": leaver})
    summary = job(lab)
    assert summary.reconcile is not None and summary.reconcile["status"] == "done"
    rows = by_key(changes(session, run_id=summary.run_id))
    assert set(rows) == {("saas_user", gone), ("saas_user", leaver)}
    deleted, deactivated = rows["saas_user", gone], rows["saas_user", leaver]
    assert deleted["action"] == "delete"
    assert (deleted["before"], deleted["after"]) == ({"status": "active"}, {"status": "deleted"})
    assert deactivated["action"] == "deactivate"
    assert deactivated["before"] == {"status": "active", "deactivated_at": None}
    assert deactivated["after"] == {"status": "deactivated", "deactivated_at": iso(from_ms(when))}
    for row in rows.values():
        assert (row["actor"], row["run_id"]) == (
            {"kind": "integration", "name": "lever"}, summary.run_id,
        )  # fmt: skip


def test_login_activity_records_each_newer_sign_in(lab: Lab, session: Session) -> None:
    job(lab)
    lab.update(login_activity="audit-events")
    session.execute(update(SaasUser).values(last_login_at=None))
    session.commit()
    integ = integrations.get(session, "lever")
    set_actor(session, "integration", "lever", 42)
    with lab.client(session, integ) as client:
        outcome = read_login_activity(session, integ, client, now=LAB_NOW)
    session.commit()
    rows = changes(session, run_id=42)
    assert outcome.updated > 0 and len(rows) == outcome.updated
    stored = dict(session.execute(select(SaasUser.id, SaasUser.last_login_at)).all())
    for row in rows:
        assert (row["action"], row["before"]) == ("update", {"last_login_at": None})
        assert row["after"] == {"last_login_at": iso(stored[row["object"]["id"]])}


def test_a_workflow_records_its_role_changes_and_deactivations(lab: Lab, session: Session) -> None:
    job(lab)
    promoted, gone = lab.active_ids(2)
    old_role = lab.sim.get_user(promoted)["accessRole"]  # type: ignore[index]
    lab.sim.update_user(promoted, accessRole="super admin")
    lab.sim.remove_user(gone)
    mine = {"field": "external_id", "op": "in", "value": [promoted, gone]}
    criteria = {"all": [*LEVER_ACTIVE["all"], mine]}
    doc = chain(ROLE, name="roles", criteria=criteria)
    with lab.factory.begin() as writing:
        store.create(writing, doc, load_registry())
        store.activate(writing, "roles", load_registry())
    before = count_changes(session)
    run_workflow(lab.factory, lab.settings, "roles", options=options())
    rows = changes(session)[before:]
    found = by_key(rows)
    assert {r["actor"]["kind"] for r in rows} == {"workflow"}
    assert {r["actor"]["name"] for r in rows} == {"roles"}
    role = found["saas_user", promoted]
    assert role["action"] == "update"
    assert (role["before"], role["after"]) == ({"role": old_role}, {"role": "super admin"})
    deactivated = found["saas_user", gone]
    assert deactivated["action"] == "deactivate"
    assert deactivated["after"]["status"] == "deactivated"


def test_a_csv_import_records_roles_and_last_logins_as_its_actor(
    lab: Lab, session: Session
) -> None:
    job(lab)
    first, second = (lab.sim.get_user(uid) for uid in lab.active_ids(2))
    assert first is not None and second is not None
    stored = dict(session.execute(select(SaasUser.external_id, SaasUser.last_login_at)).all())
    later = max(filter(None, stored.values()), default=NOW) + timedelta(days=1)
    text = f"email,role,last_activity\n{first['email']},auditor,\n{second['email']},,{iso(later)}\n"
    set_actor(session, "cli", "saas-users import activity.csv")
    result = import_activity(session, "Lever", text.splitlines(keepends=True), NOW)
    session.commit()
    assert result.updated == 2
    rows = by_key(changes(session, object_type="saas_user")[-2:])
    assert rows["saas_user", first["id"]]["after"] == {"role": "auditor"}
    assert rows["saas_user", second["id"]]["after"] == {"last_login_at": iso(later)}
    for row in rows.values():
        assert row["actor"] == {"kind": "cli", "name": "saas-users import activity.csv"}
        assert row["action"] == "update"
