"""people workflows: a workflow step may name the person it acted on

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00.000000

Workflows may now run over people as well as SaaS users (`workflows.object_type` is `people`,
and an event run's `record_ids` are then person ids). A step of such a run names its person in
`person_id` (its `saas_user_id` stays empty); `record_key` keeps the person's email. Adding a
nullable column needs no table rebuild on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("workflow_steps", sa.Column("person_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Undo this revision: steps of people runs keep their record key, without the person id."""
    with op.batch_alter_table("workflow_steps") as batch:
        batch.drop_column("person_id")
