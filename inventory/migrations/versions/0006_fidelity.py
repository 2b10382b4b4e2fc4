"""fidelity: text columns of any length, and record fingerprints for cheap re-syncs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 19:40:00.000000

Lever sets no length on names, titles or roles, so the free-text columns of `people` and
`saas_users` become unbounded text: on PostgreSQL an `ALTER COLUMN … TYPE text` (binary
compatible with varchar, so no table rewrite, and the search indexes of 0005 stay valid). On
SQLite a declared length was never enforced (VARCHAR and TEXT have the same text affinity), so
nothing there needs rebuilding; `inventory.db.compare_type` treats the two as the same type.
Both databases gain a nullable `fingerprint` on people and SaaS users: the hash of the mapped
values a row was last written from, which lets a re-sync skip unchanged records. On PostgreSQL
both tables get a fillfactor of 50: every sync stamps each row it saw, and half of each page
left free holds a new version of every row on it, so those stamps are HOT updates that touch no
index (at 70 only about 45% were: the rest rewrote every search index). The tables take about
1.4 times the space. Pages written before this revision get the room as they are rewritten,
for instance by `VACUUM FULL`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TEXT_COLUMNS = {
    "people": ("username", "first_name", "last_name", "full_name", "role", "job_title", "status"),
    "saas_users": ("email", "name", "role", "status"),
}
WIDTHS = {"status": 20}
FILLFACTOR = 50


def upgrade() -> None:
    """Apply this revision."""
    for table in TEXT_COLUMNS:
        op.add_column(table, sa.Column("fingerprint", sa.String(40), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in TEXT_COLUMNS.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.Text())
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    """Revert this revision (values longer than the old widths are cut to fit)."""
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in TEXT_COLUMNS.items():
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
            for column in columns:
                width = WIDTHS.get(column, 500)
                op.alter_column(
                    table, column, type_=sa.String(width),
                    postgresql_using=f"left({column}, {width})",
                )  # fmt: skip
    for table in TEXT_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("fingerprint")
