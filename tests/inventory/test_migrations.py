"""Schema migrations: from an empty database, from the previous revision with data in it, and
no drift between the models and what the migrations build."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory.db import (
    MIGRATIONS,
    compare_type,
    current_revision,
    head_revision,
    in_models,
    init_db,
    require_schema,
)
from inventory.errors import DatabaseError
from inventory.models import Base
from inventory.queries import list_people, list_saas_users
from tests.conftest import _admin, _url_for


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no schema at all."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    name = f"invsync_empty_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(_url_for(name))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_from_empty_to_head(empty_engine: Engine) -> None:
    with pytest.raises(DatabaseError, match="run `invsync init` first"):
        require_schema(empty_engine)
    init_db(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())
    require_schema(empty_engine)


def test_models_and_migrations_do_not_drift(empty_engine: Engine) -> None:
    init_db(empty_engine)
    with empty_engine.connect() as conn:
        opts = {"include_name": in_models, "compare_type": compare_type}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_from_the_previous_revision_keeps_data_and_fills_defaults(
    empty_engine: Engine,
) -> None:
    init_db(empty_engine, "0001")
    with pytest.raises(DatabaseError, match="run `invsync init` to upgrade"):
        require_schema(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO integrations (name, connector, credential_name, base_url, saas_users, "
            "preference, sync_keys, mapping, options, state, created_at, updated_at) VALUES "
            "('lever', 'lever', 'k', 'https://api.lever.co/v1', true, 'create_update', "
            "'[\"email\"]', '[]', '{}', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO sync_runs (integration_id, trigger, status, started_at, complete_read, "
            "fetched, skipped, error_count, counts) VALUES (1, 'manual', 'succeeded', "
            "'2026-01-01 00:00:00', true, 3, 0, 0, '{}')"
        ))  # fmt: skip
    init_db(empty_engine)
    with empty_engine.connect() as conn:
        row = conn.execute(text(
            "SELECT schedule_kind, schedule_expr, schedule_tz, schedule_paused, "
            "deactivate_missing, contacts FROM integrations WHERE name = 'lever'"
        )).one()  # fmt: skip
        run = conn.execute(text("SELECT status, fetched, cancel_requested FROM sync_runs")).one()
    assert tuple(row[:3]) == ("daily", "02:00", "UTC")
    assert (bool(row[3]), bool(row[4])) == (False, True)
    assert row[5] in ("[]", [])
    assert (run[0], run[1], bool(run[2])) == ("succeeded", 3, False)


def test_a_second_running_run_of_one_integration_is_refused_by_the_database(
    empty_engine: Engine,
) -> None:
    init_db(empty_engine)
    insert = text(
        "INSERT INTO sync_runs (integration_id, trigger, status, started_at, complete_read, "
        "fetched, skipped, error_count, counts, cancel_requested) VALUES "
        "(1, 'manual', :status, '2026-01-01 00:00:00', false, 0, 0, 0, '{}', false)"
    )
    with empty_engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO integrations (name, connector, credential_name, base_url, saas_users, "
            "preference, sync_keys, mapping, options, state, created_at, updated_at, "
            "schedule_kind, schedule_expr, schedule_tz, schedule_paused, deactivate_missing, "
            "contacts) VALUES ('lever', 'lever', 'k', 'u', true, 'create_update', '[]', '[]', "
            "'{}', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 'daily', '02:00', "
            "'UTC', false, true, '[]')"
        ))  # fmt: skip
        conn.execute(insert, {"status": "succeeded"})
        conn.execute(insert, {"status": "running"})
        conn.execute(insert, {"status": "failed"})
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        conn.execute(insert, {"status": "running"})


def test_the_schema_check_knows_the_newest_migration() -> None:
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_people_and_users_from_before_the_search_indexes_are_found_after_the_upgrade(
    empty_engine: Engine,
) -> None:
    init_db(empty_engine, "0004")
    stamp = "'2026-01-01 00:00:00'"
    with empty_engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO people (email, email_key, full_name, status, custom, created_at, "
            "updated_at) VALUES ('ada@example.com', 'ada@example.com', 'Ada Lovelace', 'active', "
            f"'{{}}', {stamp}, {stamp})"
        ))  # fmt: skip
        conn.execute(text(f"INSERT INTO saas_apps (name, created_at) VALUES ('Lever', {stamp})"))
        conn.execute(text(
            "INSERT INTO saas_users (app_id, external_id, email, email_key, name, status, "
            f"record_created_at, updated_at) VALUES (1, 'u1', 'ada@example.com', "
            f"'ada@example.com', 'Ada L', 'active', {stamp}, {stamp})"
        ))  # fmt: skip
    init_db(empty_engine)
    now = datetime.now(UTC)
    with Session(empty_engine) as session:
        found = list_people(session, q="lovelace", now=now).items
        users = list_saas_users(session, q="ada l", now=now).items
    assert [p["email"] for p in found] == ["ada@example.com"]
    assert [u["external_id"] for u in users] == ["u1"]
