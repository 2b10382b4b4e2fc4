"""The change log, written by session hooks: syncs against the simulator, unit-of-work changes and
bulk statements, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.jobs import lever_client, run_sync
from connector.lever.simulator import LeverSimulator, SimulatorServer
from connector.sync import SyncEngine, SyncSummary
from inventory.changelog import install, list_changes, set_actor
from inventory.errors import ConfigError
from inventory.models import Change, Person, SaasApp, SaasUser, SyncRun
from inventory.settings import Settings
from inventory.timeutil import utcnow
from inventory.upsert import BOOKKEEPING, BOOKKEEPING_COLUMNS
from tests.conftest import API_KEY
from vault.keys import load_keyring
from vault.store import Vault

Sim = tuple[LeverSimulator, SimulatorServer]
Sync = Callable[[], SyncSummary]


@pytest.fixture
def sync(settings: Settings, session_factory: sessionmaker[Session], lever_sim: Sim) -> Sync:
    """A launched integration 'lever', and a sync of it whose session names the run as actor."""
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).add("lever-key", API_KEY, " ")
        new = integrations.NewIntegration(
            name="lever", credential="lever-key", base_url=lever_sim[1].url, max_rps=0
        )
        integ = integrations.create(session, new)
        integrations.apply_smart_mapping(session, integ, None)
        integrations.launch(integ)
    return lambda: _sync_as_run(session_factory, settings)


def _sync_as_run(factory: sessionmaker[Session], settings: Settings) -> SyncSummary:
    """One sync of 'lever', committed page by page, with the run as the session's actor."""
    with factory() as session:
        integ = integrations.get(session, "lever")
        secret = Vault(session, load_keyring(settings)).get(integ.credential_name)
        run = SyncRun(integration_id=integ.id, status="running", started_at=utcnow())
        session.add(run)
        session.commit()
        set_actor(session, "integration", "lever", run.id)
        with lever_client(integ, secret) as client:
            pages = client.iter_user_pages()
            summary = SyncEngine(session, integ, pages, checkpoint=session.commit).run(run)
        session.commit()
    return summary


def changes(session: Session, **filters: Any) -> list[dict[str, Any]]:
    """The change log as `changes list --format json` shows it, oldest first."""
    session.expire_all()
    return list(reversed(list(list_changes(session, **filters))))


def count_changes(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Change)) or 0


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
    by_key = {(r["object"]["type"], r["object"]["key"]): r for r in rows}
    assert len(rows) == 3
    person = by_key["person", renamed["email"]]
    assert person["action"] == "update"
    assert set(person["after"]) == {"first_name", "last_name", "full_name"}
    assert person["after"]["full_name"] == "Zoë Renamed-Müller"
    assert person["before"]["full_name"] == renamed["name"]
    account = by_key["saas_user", renamed["id"]]
    assert (account["before"]["role"], account["after"]["role"]) == (renamed["accessRole"], "admin")
    gone = by_key["saas_user", leaver["id"]]
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


@pytest.fixture
def account(session: Session) -> SaasUser:
    """One committed active SaaS user of a person, made outside any change under test."""
    person = Person(email="Ada@Example.com", email_key="ada@example.com", full_name="Ada")
    app = SaasApp(name="Lever")
    user = SaasUser(app=app, external_id="u-1", email="Ada@Example.com", person=person)
    session.add(user)
    session.commit()
    session.execute(delete(Change))
    session.commit()
    return user


@pytest.mark.parametrize(
    ("start", "end", "action"),
    [
        ("active", "deactivated", "deactivate"),
        ("active", "deleted", "delete"),
        ("deactivated", "active", "reactivate"),
        ("deleted", "active", "reactivate"),
        ("active", "suspended", "update"),
    ],
)
def test_a_status_change_in_the_unit_of_work_is_named_by_its_move(
    account: SaasUser, session: Session, start: str, end: str, action: str
) -> None:
    session.execute(update(SaasUser).values(status=start).execution_options(**{BOOKKEEPING: True}))
    session.refresh(account)
    set_actor(session, "workflow", "Delete Lever users")
    account.status = end
    account.updated_at = utcnow()
    session.flush()
    [row] = changes(session)
    assert row["action"] == action
    assert row["actor"] == {"kind": "workflow", "name": "Delete Lever users"}
    assert row["object"] == {"type": "saas_user", "id": account.id, "key": "u-1"}
    assert (row["before"], row["after"]) == ({"status": start}, {"status": end})


def test_an_unloaded_old_value_is_read_from_the_database(
    account: SaasUser, session: Session
) -> None:
    role = update(SaasUser).values(role="interviewer").execution_options(**{BOOKKEEPING: True})
    session.execute(role)
    session.expire(account, ["role"])
    account.role = "admin"
    session.flush()
    [row] = changes(session)
    assert (row["before"], row["after"]) == ({"role": "interviewer"}, {"role": "admin"})


def test_unit_of_work_creates_and_deletes_are_recorded(account: SaasUser, session: Session) -> None:
    set_actor(session, "web", "admin@example.com")
    person = Person(email="Bo@Example.com", email_key="bo@example.com", job_title="Engineer")
    session.add(person)
    session.delete(account)
    session.flush()
    rows = {r["action"]: r for r in changes(session)}
    assert set(rows) == {"create", "delete"}
    assert rows["create"]["object"] == {"type": "person", "id": person.id, "key": "Bo@Example.com"}
    assert rows["create"]["after"]["job_title"] == "Engineer"
    assert rows["delete"]["before"]["external_id"] == "u-1"
    assert rows["delete"]["after"] is None


def test_update_where_statements_record_only_the_rows_they_change(
    account: SaasUser, session: Session
) -> None:
    other = SaasUser(app_id=account.app_id, external_id="u-2", status="deactivated")
    session.add(other)
    session.flush()
    session.execute(delete(Change))
    stmt = update(SaasUser).where(SaasUser.app_id == account.app_id)
    session.execute(stmt.values(status="deactivated", updated_at=utcnow()))
    [row] = changes(session)
    assert (row["action"], row["object"]["key"]) == ("deactivate", "u-1")
    assert (row["before"], row["after"]) == ({"status": "active"}, {"status": "deactivated"})


def test_delete_statements_record_what_each_row_held(account: SaasUser, session: Session) -> None:
    set_actor(session, "cli", "cleanup")
    session.execute(delete(SaasUser).where(SaasUser.external_id == "u-1"))
    session.execute(delete(SaasUser).where(SaasUser.external_id == "nobody"))
    [row] = changes(session)
    assert (row["action"], row["object"]["id"], row["after"]) == ("delete", account.id, None)
    assert row["before"]["external_id"] == "u-1" and row["before"]["status"] == "active"


def test_bulk_inserts_with_any_returning_find_their_ids(session: Session) -> None:
    set_actor(session, "cli", "import")
    app = SaasApp(name="Other")
    session.add(app)
    session.flush()
    params = [{"app_id": app.id, "external_id": f"x-{i}", "name": f"N{i}"} for i in range(3)]
    session.execute(insert(SaasUser), params)
    people = [{"email": f"{n}@example.com", "email_key": f"{n}@example.com"} for n in "cd"]
    returned = session.execute(insert(Person).returning(Person.email), people).all()
    assert sorted(returned) == [("c@example.com",), ("d@example.com",)], "the caller's rows"
    ids = dict(session.execute(select(SaasUser.external_id, SaasUser.id)).all())
    ids |= dict(session.execute(select(Person.email, Person.id)).all())
    rows = changes(session)
    assert {r["object"]["key"]: r["object"]["id"] for r in rows} == ids
    assert rows[0]["after"] == {"app_id": app.id, "external_id": "x-0", "name": "N0"}


def test_bulk_update_by_id_narrows_json_documents_to_the_changed_keys(
    account: SaasUser, session: Session
) -> None:
    person_id = account.person_id
    old = {"Lever ID": "a", "Badge": "7"}
    session.execute(update(Person).values(custom=old).execution_options(**{BOOKKEEPING: True}))
    session.execute(update(Person), [{"id": person_id, "custom": {**old, "Lever ID": "b"}}])
    session.execute(update(Person), [{"id": person_id, "custom": {**old, "Lever ID": "b"}}])
    [row] = changes(session)
    assert row["action"] == "update"
    assert (row["before"], row["after"]) == (
        {"custom": {"Lever ID": "a"}},
        {"custom": {"Lever ID": "b"}},
    )


def test_bookkeeping_statements_and_columns_are_never_changes(
    account: SaasUser, session: Session
) -> None:
    stamp = update(SaasUser).values(last_seen_at=utcnow(), last_run_id=9)
    session.execute(stamp.execution_options(**{BOOKKEEPING: True}))
    session.execute(update(SaasUser), [{"id": account.id, "last_seen_at": utcnow()}])
    account.updated_at = utcnow()
    session.flush()
    assert count_changes(session) == 0


def test_a_rolled_back_change_leaves_no_row(account: SaasUser, session: Session) -> None:
    account.status = "deactivated"
    session.flush()
    session.rollback()
    assert count_changes(session) == 0


def test_list_changes_filters_and_limits(account: SaasUser, session: Session) -> None:
    set_actor(session, "integration", "lever", 7)
    account.role = "admin"
    session.flush()
    set_actor(session, "integration", "lever", 8)
    assert account.person is not None
    account.person.job_title = "CTO"
    account.status = "deactivated"
    session.flush()
    newest = list(list_changes(session))
    assert [r["run_id"] for r in newest] == [8, 8, 7], "newest first"
    assert {r["action"] for r in newest[:2]} == {"deactivate", "update"}
    assert len(list(list_changes(session, run_id=8))) == 2
    assert [r["object"]["type"] for r in list_changes(session, object_type="person")] == ["person"]
    assert len(list(list_changes(session, limit=1))) == 1


@pytest.mark.parametrize(
    ("filters", "message"),
    [({"object_type": "laptop"}, "unknown object type"), ({"limit": 0}, "--limit")],
)
def test_list_changes_refuses_bad_filters(
    session: Session, filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        list_changes(session, **filters)


def test_set_actor_refuses_an_unknown_kind(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown actor kind"):
        set_actor(session, "robot", "r2")


def test_install_is_idempotent(session_factory: sessionmaker[Session], session: Session) -> None:
    install(session_factory)
    with session_factory() as other:
        other.add(Person(email="d@example.com", email_key="d@example.com"))
        other.commit()
    assert count_changes(session) == 1
