"""Status columns hold only their kind's values: the database refuses any other, a fresh schema
and a migrated one declare the same checks, and migration 0007 goes up and down over real data."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory.db import current_revision, downgrade_db, init_db, make_engine
from inventory.errors import DatabaseError
from inventory.models import (
    Approval,
    Base,
    DryRun,
    HireEvent,
    Integration,
    Person,
    SaasApp,
    SaasUser,
    SyncRun,
    SyncRunError,
    Workflow,
    WorkflowRun,
    WorkflowStep,
)
from inventory.queries import list_saas_users
from inventory.settings import Settings
from inventory.statuses import (
    ApprovalStatus,
    DryRunStatus,
    HireEventStatus,
    SaasUserStatus,
    SyncRunStatus,
    WorkflowRunStatus,
    values,
)
from tests.conftest import _admin, _url_for

KINDS: dict[type[Any], type[StrEnum]] = {
    SaasUser: SaasUserStatus,
    SyncRun: SyncRunStatus,
    WorkflowRun: WorkflowRunStatus,
    Approval: ApprovalStatus,
    DryRun: DryRunStatus,
    HireEvent: HireEventStatus,
}
# kinds newer than the first revision with status checks
SINCE = {DryRun: "0009", HireEvent: "0010"}
Maker = Callable[[type[Any], int, str], dict[str, Any]]


def _maker(session: Session) -> Maker:
    """Add the parents a status row needs; a maker of one row of a model with a given status."""
    app = SaasApp(name="Lever")
    integ = Integration(name="lever", credential_name="k", base_url="u")
    flow = Workflow(name="wf", definition={})
    session.add_all([app, integ, flow])
    session.flush()
    session.execute(insert(WorkflowRun), [{"workflow_id": flow.id, "version": 1}])
    parent = session.scalar(select(WorkflowRun.id))
    makers: dict[type[Any], Callable[[int, str], dict[str, Any]]] = {
        SaasUser: lambda n, s: {"app_id": app.id, "external_id": f"u{n}", "status": s},
        SyncRun: lambda n, s: {"integration_id": integ.id, "status": s},
        WorkflowRun: lambda n, s: {"workflow_id": flow.id, "version": 1, "status": s},
        Approval: lambda n, s: {
            "workflow_id": flow.id,
            "run_id": parent,
            "block_id": "b",
            "status": s,
        },
        DryRun: lambda n, s: {"integration_id": integ.id, "status": s},
        HireEvent: lambda n, s: {
            "integration_id": integ.id,
            "source": "webhook",
            "event": "candidateHired",
            "token": f"t{n}",
            "status": s,
        },
    }
    return lambda model, n, status: makers[model](n, status)


def _add_every_status(
    session: Session, newer: frozenset[str] = frozenset(), before: str | None = None
) -> None:
    """One row of each status of each kind (but those `newer` than the schema, and kinds that
    came after revision `before`), and a person whose mapping gave a status of its own. Rows
    are inserted with only the columns named, so an older schema takes them too."""
    make = _maker(session)
    for model, kind in KINDS.items():
        if before is not None and SINCE.get(model, "0000") > before:
            continue
        known = [status for status in values(kind) if status not in newer]
        session.execute(insert(model), [make(model, n, status) for n, status in enumerate(known)])
    person = {"email": "a@example.com", "email_key": "a@example.com", "status": "on leave"}
    session.execute(insert(Person), [person])


def _statuses(session: Session) -> dict[str, list[str]]:
    """Every stored status, by table, in order."""
    found = {}
    tables = set(inspect(session.connection()).get_table_names())
    for model in [m for m in [*KINDS, Person] if m.__tablename__ in tables]:
        query = select(model.status).order_by(model.status)
        found[model.__tablename__] = list(session.scalars(query))
    return found


def _checks(engine: Engine) -> dict[str, dict[str | None, str]]:
    """The CHECK constraints the database holds, by table: name → condition as it reads it."""
    found = inspect(engine)
    there = set(found.get_table_names())
    return {
        table: {c["name"]: c["sqltext"] for c in found.get_check_constraints(table)}
        for table in Base.metadata.tables
        if table in there
    }


# -- the database refuses -------------------------------------------------------------------


@pytest.mark.parametrize("model", list(KINDS), ids=lambda m: m.__tablename__)
def test_a_status_outside_its_kind_is_refused_by_the_database(
    session: Session, model: type[Any]
) -> None:
    make = _maker(session)
    rows = [make(model, n, status) for n, status in enumerate(values(KINDS[model]))]
    session.execute(insert(model), rows)
    check = f"ck_{model.__tablename__}_status"
    with pytest.raises(IntegrityError, match=check), session.begin_nested():
        session.execute(insert(model), [make(model, 99, "bogus")])
    with pytest.raises(IntegrityError, match=check), session.begin_nested():
        session.execute(update(model).values(status="Active"))
    stored = session.scalars(select(model.status).order_by(model.id))
    assert [s for s in stored if s not in values(KINDS[model])] == []


def test_a_persons_status_stays_what_the_mapping_made_it(session: Session) -> None:
    person = {"email": "a@example.com", "email_key": "a@example.com", "status": "on leave"}
    session.execute(insert(Person), [person])
    assert session.scalars(select(Person.status)).one() == "on leave"


def test_a_member_is_its_plain_string() -> None:
    assert SyncRunStatus.COMPLETED_WITH_ERRORS == "completed_with_errors"
    assert f"{WorkflowRunStatus.WAITING_APPROVAL}" == "waiting_approval"
    assert values(ApprovalStatus) == ("pending", "approving", "approved", "rejected")


# -- fresh and migrated schemas agree --------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """A maker of engines on empty databases, as `invsync` opens them (SQLite: foreign keys on)."""
    made: list[tuple[Engine, str | None]] = []
    admin = _admin()

    def new() -> Engine:
        name = f"invsync_st_{uuid.uuid4().hex[:12]}"
        if request.param == "sqlite":
            url, database = f"sqlite:///{tmp_path / name}.db", None
        else:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url, database = _url_for(name), name
        settings = Settings.load(env={}, home=tmp_path / "instance", database_url=url)
        made.append((make_engine(settings), database))
        return made[-1][0]

    yield new
    for engine, database in made:
        engine.dispose()
        if database is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


def test_a_fresh_schema_and_a_migrated_one_hold_the_same_checks(
    blank: Callable[[], Engine],
) -> None:
    fresh, migrated = blank(), blank()
    Base.metadata.create_all(fresh)
    init_db(migrated)
    assert _checks(migrated) == _checks(fresh)
    named = {table: set(checks) for table, checks in _checks(migrated).items() if checks}
    assert named == {m.__tablename__: {f"ck_{m.__tablename__}_status"} for m in KINDS}


# -- migration 0007 --------------------------------------------------------------------------


def _at_0006(blank: Callable[[], Engine]) -> Engine:
    """A database at the revision before 0007, holding every valid status."""
    engine = blank()
    init_db(engine, "0006")
    with Session(engine) as session, session.begin():
        _add_every_status(session, frozenset({"queued", "approving"}), before="0006")
    return engine


def test_the_upgrade_keeps_every_valid_status_and_what_refers_to_it(
    blank: Callable[[], Engine],
) -> None:
    engine = _at_0006(blank)
    with Session(engine) as session, session.begin():
        # Core inserts of the columns named, which a schema this old has
        session.execute(insert(SyncRunError), [{"run_id": 1, "record_key": "k", "message": "m"}])
        session.execute(
            insert(WorkflowStep), [{"run_id": 1, "block_id": "b", "outcome": "success"}]
        )
        before = _statuses(session)
    init_db(engine, "0007")
    assert current_revision(engine) == "0007"
    with Session(engine) as session:
        assert _statuses(session) == before
        assert session.scalar(select(SyncRunError.run_id)) == 1
        assert session.scalar(select(WorkflowStep.run_id)) == 1
    _still_searchable_and_single_running(engine)


def _still_searchable_and_single_running(engine: Engine) -> None:
    """What a SQLite rebuild must keep: search over new SaaS users, one running run at a time."""
    with Session(engine) as session, session.begin():
        session.add(SaasUser(app_id=1, external_id="new", name="Grace Hopper"))
    with Session(engine) as session:
        found = list_saas_users(session, q="hopper", now=datetime.now(UTC)).items
        assert [u["external_id"] for u in found] == ["new"]
    one_running = r"uq_sync_runs_one_running|UNIQUE constraint failed: sync_runs"
    with (
        pytest.raises(IntegrityError, match=one_running),
        Session(engine) as session,
        session.begin(),
    ):
        session.add(SyncRun(integration_id=1, status="running"))


def test_the_upgrade_stops_on_a_status_outside_the_list_and_changes_nothing(
    blank: Callable[[], Engine],
) -> None:
    engine = _at_0006(blank)
    with Session(engine) as session, session.begin():
        session.execute(update(SaasUser).where(SaasUser.external_id == "u0").values(status="gone"))
    says = r"saas_users\.status holds 'gone' \(1 row\), not one of active, deactivated, deleted"
    with pytest.raises(DatabaseError, match=says):
        init_db(engine)
    assert current_revision(engine) == "0006"
    assert all(checks == {} for checks in _checks(engine).values())


def test_the_downgrade_drops_the_checks_and_keeps_the_rest(blank: Callable[[], Engine]) -> None:
    engine = _at_0006(blank)
    init_db(engine)
    at_head = _checks(engine)
    downgrade_db(engine, "0006")
    assert current_revision(engine) == "0006"
    assert all(checks == {} for checks in _checks(engine).values())
    _still_searchable_and_single_running(engine)
    with Session(engine) as session, session.begin():
        session.execute(update(SaasUser).where(SaasUser.external_id == "u0").values(status="x"))
    with Session(engine) as session, session.begin():
        session.execute(
            update(SaasUser).where(SaasUser.external_id == "u0").values(status="active")
        )
    init_db(engine)
    assert _checks(engine) == at_head


# -- migration 0008 --------------------------------------------------------------------------


def _task_tables(engine: Engine) -> set[str]:
    """The task engine's tables the database holds."""
    return {t for t in inspect(engine).get_table_names() if t.startswith("procrastinate_")}


def test_one_run_waits_and_one_runs_per_integration(blank: Callable[[], Engine]) -> None:
    engine = blank()
    init_db(engine)
    with Session(engine) as session, session.begin():
        session.add(Integration(name="lever", credential_name="k", base_url="u"))
    with Session(engine) as session, session.begin():
        session.add_all([SyncRun(integration_id=1, status=s) for s in ("queued", "running")])
    one_queued = r"uq_sync_runs_one_queued|UNIQUE constraint failed: sync_runs"
    with (
        pytest.raises(IntegrityError, match=one_queued),
        Session(engine) as session,
        session.begin(),
    ):
        session.add(SyncRun(integration_id=1, status="queued"))
    with Session(engine) as session:
        assert sorted(session.scalars(select(SyncRun.status))) == ["queued", "running"]


def test_the_task_tables_come_with_postgresql_and_go_with_the_downgrade(
    blank: Callable[[], Engine],
) -> None:
    engine = blank()
    init_db(engine)
    on_postgres = engine.dialect.name == "postgresql"
    if on_postgres:
        assert {"procrastinate_jobs", "procrastinate_workers"} <= _task_tables(engine)
    else:
        assert _task_tables(engine) == set(), "SQLite runs tasks in process: no queue tables"
    with Session(engine) as session, session.begin():
        session.add(Integration(name="lever", credential_name="k", base_url="u"))
        session.add(SyncRun(integration_id=1, status="queued"))
    downgrade_db(engine, "0007")
    assert current_revision(engine) == "0007" and _task_tables(engine) == set()
    with Session(engine) as session:
        assert session.scalar(select(SyncRun.status)) == "cancelled", "no run is left waiting"
    init_db(engine)
    assert bool(_task_tables(engine)) is on_postgres


# -- migration 0009 --------------------------------------------------------------------------


def test_a_workflow_run_waits_with_its_records_and_the_downgrade_closes_it(
    blank: Callable[[], Engine],
) -> None:
    engine = blank()
    init_db(engine)
    with Session(engine) as session, session.begin():
        flow = Workflow(name="wf", definition={})
        session.add(flow)
        session.flush()
        run = WorkflowRun(workflow_id=flow.id, version=1, status="queued", record_ids=[3, 1, 2])
        session.add(run)
        session.flush()
        session.add(Approval(workflow_id=flow.id, run_id=run.id, block_id="b", status="approving",
                             decided_by="ada"))  # fmt: skip
    with Session(engine) as session:
        assert session.scalar(select(WorkflowRun.record_ids)) == [3, 1, 2], "kept in order"
    downgrade_db(engine, "0008")
    assert "record_ids" not in {c["name"] for c in inspect(engine).get_columns("workflow_runs")}
    with engine.connect() as conn:
        status, message = conn.execute(text("SELECT status, message FROM workflow_runs")).one()
    assert status == "failed" and "not run" in message, "no run is left waiting for a worker"
    with engine.connect() as conn:
        again = conn.execute(text("SELECT status, decided_by FROM approvals")).one()
    assert tuple(again) == ("pending", None), "an approval not sent yet is for a person again"
    init_db(engine)
    with Session(engine) as session, session.begin():
        session.add(WorkflowRun(workflow_id=1, version=1, status="queued", record_ids=[4]))
