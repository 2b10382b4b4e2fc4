"""tasks: queued workflow runs, the records an event run walks, approvals being sent, dry runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:30:00.000000

A workflow run may now be `queued`: recorded when a person, the API, a schedule or a sync's
events ask for it, before a worker starts it. An event run (record_created /
record_deactivated) keeps the SaaS users it walks in `record_ids`, so the worker that takes it
walks exactly those; the process walking a run is its `owner` (`hostname:pid`), so a run left by
a dead worker is found at once. An approval may now be `approving`: approved by a person,
waiting for a worker to send the held change to Lever. A sync's dry run asked for from the web
or the API is a `dry_runs` row a worker fills with its report. On SQLite a CHECK change needs
the table rebuilt (batch mode); these tables have no partial index or trigger to create again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from inventory.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "workflow_runs"
CHECK = "ck_workflow_runs_status"
BEFORE = ("running", "succeeded", "waiting_approval", "failed")
AFTER = ("queued", *BEFORE)
DRY_RUN_STATUSES = ("queued", "running", "succeeded", "failed")
APPROVAL_CHECK = "ck_approvals_status"
APPROVALS_BEFORE = ("pending", "approved", "rejected")
APPROVALS_AFTER = ("pending", "approving", "approved", "rejected")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("record_ids", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(255), nullable=True))
        batch.drop_constraint(CHECK, type_="check")
        batch.create_check_constraint(CHECK, _condition(AFTER))
    _set_approval_check(APPROVALS_AFTER)
    _create_dry_runs()


def downgrade() -> None:
    """Undo this revision. Queued runs are closed as failed (no worker will take them), and
    approvals not sent yet are pending again, for a person to decide once more."""
    op.execute(
        "UPDATE workflow_runs SET status = 'failed', message = 'not run: queued when the "
        "schema was taken back before workflow tasks' WHERE status = 'queued'"
    )
    op.execute(
        "UPDATE approvals SET status = 'pending', decided_by = NULL, decided_at = NULL, "
        "result = NULL WHERE status = 'approving'"
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(CHECK, type_="check")
        batch.create_check_constraint(CHECK, _condition(BEFORE))
        batch.drop_column("record_ids")
        batch.drop_column("owner")
    _set_approval_check(APPROVALS_BEFORE)
    op.drop_index("ix_dry_runs_integration_id", table_name="dry_runs")
    op.drop_table("dry_runs")


def _create_dry_runs() -> None:
    """The dry runs asked for from the web app and the API, with their reports."""
    op.create_table(
        "dry_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("integration_id", sa.Integer(), sa.ForeignKey("integrations.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(_condition(DRY_RUN_STATUSES), name="ck_dry_runs_status"),
    )
    op.create_index("ix_dry_runs_integration_id", "dry_runs", ["integration_id"])


def _set_approval_check(allowed: tuple[str, ...]) -> None:
    """Replace the status CHECK of approvals."""
    with op.batch_alter_table("approvals") as batch:
        batch.drop_constraint(APPROVAL_CHECK, type_="check")
        batch.create_check_constraint(APPROVAL_CHECK, _condition(allowed))


def _condition(allowed: tuple[str, ...]) -> str:
    """The CHECK condition of the run status column."""
    return "status IN (" + ", ".join(f"'{value}'" for value in allowed) + ")"
