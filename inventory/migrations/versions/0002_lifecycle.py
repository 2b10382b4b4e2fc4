"""integration lifecycle: schedules, run ledger, change log, scheduler lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 14:05:06.733938
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import inventory.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.String(length=320), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_object", ["object_type", "object_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_changes_run_id"), ["run_id"], unique=False)

    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", inventory.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("schedule_kind", sa.String(length=10), nullable=False, server_default="daily")
        )
        batch_op.add_column(
            sa.Column(
                "schedule_expr", sa.String(length=100), nullable=False, server_default="02:00"
            )
        )
        batch_op.add_column(
            sa.Column("schedule_tz", sa.String(length=64), nullable=False, server_default="UTC")
        )
        batch_op.add_column(
            sa.Column("schedule_paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("deactivate_missing", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("max_deactivate", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("login_activity", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("login_cursor_at", inventory.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("contacts", sa.JSON(), nullable=False, server_default="[]"))

    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", inventory.types.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("pending", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("approved_at", inventory.types.UTCDateTime(), nullable=True))
        batch_op.create_index(
            "uq_sync_runs_one_running",
            ["integration_id"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sync_runs_one_running",
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("pending")
        batch_op.drop_column("cancel_requested")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("owner")

    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("contacts")
        batch_op.drop_column("login_cursor_at")
        batch_op.drop_column("login_activity")
        batch_op.drop_column("max_deactivate")
        batch_op.drop_column("deactivate_missing")
        batch_op.drop_column("schedule_paused")
        batch_op.drop_column("schedule_tz")
        batch_op.drop_column("schedule_expr")
        batch_op.drop_column("schedule_kind")

    op.drop_table("scheduler_lease")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_changes_run_id"))
        batch_op.drop_index("ix_changes_object")

    op.drop_table("changes")
