"""hires: what a hire from Lever brings to a person, and the hiring events received

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00.000000

A person hired in Lever is a People record before day one (status `pre_start`, a free-text
status like any other): it keeps the personal email, department, location, start date, manager
(a person's id) and the Lever opportunity it came from, which is its key until the work email
is in use. `hire_events` keeps every hiring event a `lever-hires` integration received (signed
webhooks) or found (polling), with what processing it did; a webhook token is refused when seen
twice for one integration. The columns are added without rebuilding `people`, so its search
triggers stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from inventory.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PEOPLE_COLUMNS = (
    ("personal_email", sa.Text()),
    ("department", sa.Text()),
    ("location", sa.Text()),
    ("start_date", sa.Date()),
    ("manager_id", sa.Integer()),
    ("opportunity_id", sa.String(200)),
)
EVENT_STATUSES = ("queued", "processing", "succeeded", "failed")


def upgrade() -> None:
    """Apply this revision."""
    for name, type_ in PEOPLE_COLUMNS:
        op.add_column("people", sa.Column(name, type_, nullable=True))
    op.create_index("ix_people_start_date", "people", ["start_date"])
    op.create_index("ix_people_opportunity_id", "people", ["opportunity_id"], unique=True)
    _create_hire_events()


def downgrade() -> None:
    """Undo this revision: the hiring events go; pre-start people stay, without hire fields."""
    op.drop_index("ix_hire_events_opportunity_id", table_name="hire_events")
    op.drop_index("ix_hire_events_integration_id", table_name="hire_events")
    op.drop_table("hire_events")
    op.drop_index("ix_people_opportunity_id", table_name="people")
    op.drop_index("ix_people_start_date", table_name="people")
    for name, _ in reversed(PEOPLE_COLUMNS):
        op.drop_column("people", name)


def _create_hire_events() -> None:
    """The hiring events received or found, with what processing them did."""
    op.create_table(
        "hire_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("integration_id", sa.Integer(), sa.ForeignKey("integrations.id"), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("opportunity_id", sa.String(200), nullable=True),
        sa.Column("token", sa.String(200), nullable=False),
        sa.Column("triggered_at", UTCDateTime(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("integration_id", "token", name="uq_hire_events_token"),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in EVENT_STATUSES) + ")",
            name="ck_hire_events_status",
        ),
    )
    op.create_index("ix_hire_events_integration_id", "hire_events", ["integration_id"])
    op.create_index("ix_hire_events_opportunity_id", "hire_events", ["opportunity_id"])
