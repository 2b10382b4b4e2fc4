"""task queue: queued sync runs, and Procrastinate's job tables on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00.000000

A sync run may now be `queued`: recorded when "Run now" (web, API) or the scheduler asks for it,
before a worker starts it. A partial unique index keeps at most one queued run per integration,
beside the one that keeps at most one running. On PostgreSQL the task engine's own schema
(Procrastinate's jobs, locks, events, workers and periodic defers) is created in the same
database, at the version pinned in pyproject.toml; a later pin that changes it comes with a
migration applying Procrastinate's migration scripts. On SQLite a CHECK change needs the table
rebuilt (batch mode), so the partial unique indexes are created again afterwards.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHECK = "ck_sync_runs_status"
BEFORE = ("running", "succeeded", "completed_with_errors", "failed", "cancelled", "held")
AFTER = ("queued", *BEFORE)
RUNNING_INDEX = "uq_sync_runs_one_running"
QUEUED_INDEX = "uq_sync_runs_one_queued"


def upgrade() -> None:
    """Apply this revision."""
    _set_check(AFTER)
    _one_per_integration(QUEUED_INDEX, "queued")
    if _dialect() == "postgresql":
        _apply_task_schema()


def downgrade() -> None:
    """Undo this revision (queued runs are closed as cancelled first)."""
    op.execute(
        "UPDATE sync_runs SET status = 'cancelled', message = 'cancelled: queued when the "
        "schema was taken back before task queues' WHERE status = 'queued'"
    )
    op.drop_index(QUEUED_INDEX, table_name="sync_runs")
    _set_check(BEFORE)
    if _dialect() == "postgresql":
        _drop_task_schema()


def _dialect() -> str:
    """The name of the database dialect being migrated."""
    return op.get_bind().dialect.name


def _condition(allowed: tuple[str, ...]) -> str:
    """The CHECK condition of the run status column."""
    return "status IN (" + ", ".join(f"'{value}'" for value in allowed) + ")"


def _set_check(allowed: tuple[str, ...]) -> None:
    """Replace the status CHECK of sync runs (SQLite rebuilds the table to do it)."""
    if _dialect() != "sqlite":
        op.drop_constraint(CHECK, "sync_runs", type_="check")
        op.create_check_constraint(CHECK, "sync_runs", _condition(allowed))
        return
    op.drop_index(RUNNING_INDEX, table_name="sync_runs")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_constraint(CHECK, type_="check")
        batch.create_check_constraint(CHECK, _condition(allowed))
    _one_per_integration(RUNNING_INDEX, "running")


def _one_per_integration(name: str, status: str) -> None:
    """A partial unique index: at most one run of an integration in that status."""
    where = sa.text(f"status = '{status}'")
    op.create_index(
        name, "sync_runs", ["integration_id"], unique=True,
        sqlite_where=where, postgresql_where=where,
    )  # fmt: skip


def _apply_task_schema() -> None:
    """Create Procrastinate's schema, as its own `SchemaManager.apply_schema` would."""
    from procrastinate.schema import SchemaManager

    cursor = op.get_bind().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(SchemaManager.get_schema())


def _drop_task_schema() -> None:
    """Drop Procrastinate's tables, types and functions."""
    op.execute(
        """
        DO $$
        DECLARE item record;
        BEGIN
          FOR item IN SELECT tablename FROM pg_tables
                      WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%'
          LOOP EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename); END LOOP;
          FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                      JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'
          LOOP EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', item.signature); END LOOP;
          FOR item IN SELECT t.typname FROM pg_type t
                      JOIN pg_namespace n ON n.oid = t.typnamespace
                      WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%'
                        AND t.typtype IN ('e', 'c', 'd')
          LOOP EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname); END LOOP;
        END $$;
        """
    )
