"""the sync path: people, SaaS users, credentials, integrations, runs

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 14:05:05.971999
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import inventory.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("hint", sa.String(length=40), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", inventory.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "custom_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("created_at", inventory.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("connector", sa.String(length=40), nullable=False),
        sa.Column("credential_name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("saas_users", sa.Boolean(), nullable=False),
        sa.Column("preference", sa.String(length=20), nullable=False),
        sa.Column("sync_keys", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", inventory.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("username", sa.String(length=500), nullable=True),
        sa.Column("first_name", sa.String(length=500), nullable=True),
        sa.Column("last_name", sa.String(length=500), nullable=True),
        sa.Column("full_name", sa.String(length=500), nullable=True),
        sa.Column("role", sa.String(length=500), nullable=True),
        sa.Column("job_title", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("created_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("last_synced_at", inventory.types.UTCDateTime(), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email_key"),
    )
    op.create_table(
        "saas_apps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("vendor", sa.String(length=500), nullable=True),
        sa.Column("created_at", inventory.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "saas_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=500), nullable=True),
        sa.Column("email_key", sa.String(length=500), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("role", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", inventory.types.UTCDateTime(), nullable=True),
        sa.Column("deactivated_at", inventory.types.UTCDateTime(), nullable=True),
        sa.Column("last_login_at", inventory.types.UTCDateTime(), nullable=True),
        sa.Column("last_seen_at", inventory.types.UTCDateTime(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("integration_id", sa.Integer(), nullable=True),
        sa.Column("record_created_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["saas_apps.id"],
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("app_id", "external_id", name="uq_saas_user_app_external"),
    )
    with op.batch_alter_table("saas_users", schema=None) as batch_op:
        batch_op.create_index("ix_saas_users_email_key", ["email_key"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("started_at", inventory.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", inventory.types.UTCDateTime(), nullable=True),
        sa.Column("complete_read", sa.Boolean(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sync_run_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("record_key", sa.String(length=320), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_run_errors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_run_errors_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("sync_run_errors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_run_errors_run_id"))

    op.drop_table("sync_run_errors")
    op.drop_table("sync_runs")
    with op.batch_alter_table("saas_users", schema=None) as batch_op:
        batch_op.drop_index("ix_saas_users_email_key")

    op.drop_table("saas_users")
    op.drop_table("saas_apps")
    op.drop_table("people")
    op.drop_table("integrations")
    op.drop_table("custom_fields")
    op.drop_table("credentials")
