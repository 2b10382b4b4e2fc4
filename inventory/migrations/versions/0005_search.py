"""search: substring indexes for the search box, and byte-order email keys for prefix filters

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 19:50:00.000000

On SQLite, each searched list gets an FTS5 table with the trigram tokenizer, kept in step with
its table by triggers (external content, so no text is stored twice): `people_search` over the
names and email of people, `saas_users_search` over the name and email of SaaS users. On
PostgreSQL, pg_trgm GIN indexes on the folded searched columns serve the same search, and an
index on each `email_key` in "C" collation serves prefix ranges. If pg_trgm cannot be created
(the extension is not installed, or the role may not create it), the search indexes are left out
with a warning: search still works, reading the whole table. A later migration that rebuilds
`people` or `saas_users` on SQLite (batch mode) must create the triggers again.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("invsync.migrations")

# table -> (search table, searched columns)
SEARCHED = {
    "people": ("people_search", ("full_name", "first_name", "last_name", "email")),
    "saas_users": ("saas_users_search", ("name", "email")),
}


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "sqlite":
        for table, (search, columns) in SEARCHED.items():
            _create_fts(table, search, columns)
        return
    for table in SEARCHED:
        op.execute(f'CREATE INDEX ix_{table}_email_key_c ON {table} (email_key COLLATE "C")')
    if _trigram_available():
        for table, (_, columns) in SEARCHED.items():
            for column in columns:
                op.execute(
                    f"CREATE INDEX ix_{table}_{column}_trgm ON {table} "
                    f'USING gin (lower(({column}) COLLATE "C") gin_trgm_ops)'
                )


def downgrade() -> None:
    """Undo this revision."""
    if op.get_bind().dialect.name == "sqlite":
        for search, _ in SEARCHED.values():
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {search}_{event}")
            op.execute(f"DROP TABLE IF EXISTS {search}")
        return
    for table, (_, columns) in SEARCHED.items():
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_email_key_c")
        for column in columns:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")


def _create_fts(table: str, search: str, columns: tuple[str, ...]) -> None:
    """An external-content FTS5 trigram table over `columns`, its triggers, and its first fill."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    forget = f"INSERT INTO {search}({search}, rowid, {names}) VALUES ('delete', old.id, {old});"
    learn = f"INSERT INTO {search}(rowid, {names}) VALUES (new.id, {new});"
    op.execute(
        f"CREATE VIRTUAL TABLE {search} USING fts5({names}, content='{table}', "
        "content_rowid='id', tokenize='trigram')"
    )
    op.execute(f"CREATE TRIGGER {search}_insert AFTER INSERT ON {table} BEGIN {learn} END")
    op.execute(f"CREATE TRIGGER {search}_delete AFTER DELETE ON {table} BEGIN {forget} END")
    op.execute(
        f"CREATE TRIGGER {search}_update AFTER UPDATE OF {names} ON {table} "
        f"BEGIN {forget} {learn} END"
    )
    op.execute(f"INSERT INTO {search}({search}) VALUES ('rebuild')")


def _trigram_available() -> bool:
    """Create pg_trgm if it is missing; False (with a warning) when that is not possible."""
    conn = op.get_bind()
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        log.warning(
            "search indexes skipped: the pg_trgm extension could not be created (%s), so "
            "search reads whole tables; a superuser can install it (CREATE EXTENSION pg_trgm)",
            type(exc.orig).__name__,
        )
        return False
    return True
