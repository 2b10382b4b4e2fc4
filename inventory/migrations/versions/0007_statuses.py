"""statuses: CHECK constraints that keep each status column to its known values

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-14 10:00:00.000000

SaaS users, sync runs, workflow runs and approvals may only hold the statuses invsync writes
(`inventory.statuses`); a person's status stays free text, since the mapping fills it. Existing
rows are checked first: a value outside a list stops the upgrade with a line naming the column
and the value, and nothing is changed. On SQLite a CHECK needs the table rebuilt (batch mode), so
the partial unique index of running sync runs and the triggers that keep `saas_users_search` in
step are created again, and the foreign keys are checked before the transaction commits
(`inventory.db.init_db` turns them off around it, as SQLite's rebuild recipe asks).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from inventory.errors import DatabaseError

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> (constraint name, allowed values), as of this revision.
CHECKS = {
    "saas_users": ("ck_saas_users_status", ("active", "deactivated", "deleted")),
    "sync_runs": (
        "ck_sync_runs_status",
        ("running", "succeeded", "completed_with_errors", "failed", "cancelled", "held"),
    ),
    "workflow_runs": (
        "ck_workflow_runs_status",
        ("running", "succeeded", "waiting_approval", "failed"),
    ),
    "approvals": ("ck_approvals_status", ("pending", "approved", "rejected")),
}
RUNNING_INDEX = "uq_sync_runs_one_running"
SEARCH = ("saas_users_search", ("name", "email"))


def upgrade() -> None:
    """Apply this revision."""
    for table, (_, allowed) in CHECKS.items():
        _require_known(table, allowed)
    if op.get_bind().dialect.name != "sqlite":
        for table, (name, allowed) in CHECKS.items():
            op.create_check_constraint(name, table, _condition(allowed))
        return
    op.drop_index(RUNNING_INDEX, table_name="sync_runs")
    for table, (name, allowed) in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(name, _condition(allowed))
    _after_sqlite_rebuild()


def downgrade() -> None:
    """Undo this revision."""
    if op.get_bind().dialect.name != "sqlite":
        for table, (name, _) in CHECKS.items():
            op.drop_constraint(name, table, type_="check")
        return
    op.drop_index(RUNNING_INDEX, table_name="sync_runs")
    for table, (name, _) in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
    _after_sqlite_rebuild()


def _condition(allowed: tuple[str, ...]) -> str:
    """The CHECK condition of a status column."""
    return "status IN (" + ", ".join(f"'{value}'" for value in allowed) + ")"


def _require_known(table: str, allowed: tuple[str, ...]) -> None:
    """Stop, changing nothing, when a row holds a status outside the list."""
    column = sa.column("status", sa.String())
    query = (
        sa.select(column, sa.func.count())
        .select_from(sa.table(table))
        .where(column.not_in(allowed))
        .group_by(column)
        .order_by(column)
    )
    found = op.get_bind().execute(query).all()
    if found:
        bad = ", ".join(f"{value!r} ({count} row{'s' * (count != 1)})" for value, count in found)
        raise DatabaseError(
            f"cannot upgrade: {table}.status holds {bad}, not one of {', '.join(allowed)}; "
            f"set those rows to a known status, then run `invsync init` again"
        )


def _after_sqlite_rebuild() -> None:
    """What a SQLite table rebuild drops: the running-run index, the search triggers; then check
    that every foreign key still holds."""
    op.create_index(
        RUNNING_INDEX, "sync_runs", ["integration_id"], unique=True,
        sqlite_where=sa.text("status = 'running'"),
    )  # fmt: skip
    _create_search_triggers("saas_users", *SEARCH)
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = ", ".join(sorted({str(row[0]) for row in broken}))
        raise DatabaseError(f"cannot upgrade: rows of {tables} lost the row they refer to")


def _create_search_triggers(table: str, search: str, columns: tuple[str, ...]) -> None:
    """The triggers of migration 0005 that keep an FTS5 table in step with its table."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    forget = f"INSERT INTO {search}({search}, rowid, {names}) VALUES ('delete', old.id, {old});"
    learn = f"INSERT INTO {search}(rowid, {names}) VALUES (new.id, {new});"
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {search}_{event}")
    op.execute(f"CREATE TRIGGER {search}_insert AFTER INSERT ON {table} BEGIN {learn} END")
    op.execute(f"CREATE TRIGGER {search}_delete AFTER DELETE ON {table} BEGIN {forget} END")
    op.execute(
        f"CREATE TRIGGER {search}_update AFTER UPDATE OF {names} ON {table} "
        f"BEGIN {forget} {learn} END"
    )
