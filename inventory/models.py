"""Typed SQLAlchemy 2.0 models: people, custom fields, SaaS apps and users, credentials,
integrations and their sync runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from inventory.statuses import (
    ApprovalStatus,
    DryRunStatus,
    HireEventStatus,
    PersonStatus,
    SaasUserStatus,
    SyncRunStatus,
    WorkflowRunStatus,
    check_sql,
)
from inventory.timeutil import utcnow
from inventory.types import UTCDateTime

intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
name_str = Annotated[str, mapped_column(String(200))]
opt_str = Annotated[str | None, mapped_column(String(500), nullable=True)]
# A value from Lever or a mapping: any length, stored exactly as sent.
free_text = Annotated[str | None, mapped_column(Text, nullable=True)]
timestamp = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow)]
opt_timestamp = Annotated[datetime | None, mapped_column(UTCDateTime(), nullable=True)]
json_doc = Annotated[Any, mapped_column(JSON, nullable=False)]


class Base(DeclarativeBase):
    """Declarative base of every invsync table."""


class Person(Base):
    """A People record, matched by its sync key (email, case-insensitive)."""

    __tablename__ = "people"
    __table_args__ = (Index("ix_people_opportunity_id", "opportunity_id", unique=True),)

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    username: Mapped[free_text]
    first_name: Mapped[free_text]
    last_name: Mapped[free_text]
    full_name: Mapped[free_text]
    role: Mapped[free_text]
    job_title: Mapped[free_text]
    status: Mapped[str] = mapped_column(Text, default=PersonStatus.ACTIVE)
    custom: Mapped[json_doc] = mapped_column(default=dict)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    last_synced_at: Mapped[opt_timestamp]
    last_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # What a hire from Lever brings (migration 0010); a person from Lever users leaves them empty.
    personal_email: Mapped[free_text]
    department: Mapped[free_text]
    location: Mapped[free_text]
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    manager_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a person's id
    # The Lever opportunity a pre-start person was hired from: the key of a hire's record.
    opportunity_id: Mapped[str | None] = mapped_column(String(200), nullable=True)

    saas_users: Mapped[list[SaasUser]] = relationship(back_populates="person")


class CustomField(Base):
    """A user-defined People field, stored under Person.custom by its name."""

    __tablename__ = "custom_fields"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(20), default="string")
    created_at: Mapped[timestamp]


class SaasApp(Base):
    """An entry under Software > SaaS, such as Lever."""

    __tablename__ = "saas_apps"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    vendor: Mapped[opt_str]
    created_at: Mapped[timestamp]


class SaasUser(Base):
    """One account in one SaaS app, keyed by (app, external id), linked to a person by email."""

    __tablename__ = "saas_users"
    __table_args__ = (
        UniqueConstraint("app_id", "external_id", name="uq_saas_user_app_external"),
        Index("ix_saas_users_email_key", "email_key"),
        CheckConstraint(check_sql("status", SaasUserStatus), name="ck_saas_users_status"),
    )

    id: Mapped[intpk]
    app_id: Mapped[int] = mapped_column(ForeignKey("saas_apps.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    email: Mapped[free_text]
    email_key: Mapped[opt_str]
    name: Mapped[free_text]
    role: Mapped[free_text]
    status: Mapped[str] = mapped_column(Text, default=SaasUserStatus.ACTIVE)
    created_at: Mapped[opt_timestamp]
    deactivated_at: Mapped[opt_timestamp]
    last_login_at: Mapped[opt_timestamp]
    last_seen_at: Mapped[opt_timestamp]
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id"), nullable=True)
    record_created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    last_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(40), nullable=True)

    app: Mapped[SaasApp] = relationship()
    person: Mapped[Person | None] = relationship(back_populates="saas_users")


class Credential(Base):
    """A vault entry: the secret is ciphertext only; `hint` is a masked tail of the username."""

    __tablename__ = "credentials"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="basic")
    hint: Mapped[str] = mapped_column(String(40), default="")
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


class Integration(Base):
    """A configured connector: credential, mode, preference, mapping, sync keys, filters, state."""

    __tablename__ = "integrations"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    connector: Mapped[str] = mapped_column(String(40), default="lever")
    credential_name: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    saas_users: Mapped[bool] = mapped_column(Boolean, default=True)
    preference: Mapped[str] = mapped_column(String(20), default="create_update")
    sync_keys: Mapped[json_doc] = mapped_column(default=lambda: ["email"])
    mapping: Mapped[json_doc] = mapped_column(default=list)
    filters: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    options: Mapped[json_doc] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    schedule_kind: Mapped[str] = mapped_column(String(10), default="daily")
    schedule_expr: Mapped[str] = mapped_column(String(100), default="02:00")
    schedule_tz: Mapped[str] = mapped_column(String(64), default="UTC")
    schedule_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    deactivate_missing: Mapped[bool] = mapped_column(Boolean, default=True)
    max_deactivate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    login_activity: Mapped[str | None] = mapped_column(String(20), nullable=True)
    login_cursor_at: Mapped[opt_timestamp]
    contacts: Mapped[json_doc] = mapped_column(default=list)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]

    runs: Mapped[list[SyncRun]] = relationship(back_populates="integration")


def _one_run_per_integration(status: str) -> Index:
    """A partial unique index: at most one run of an integration in that status."""
    where = text(f"status = '{status}'")
    return Index(
        f"uq_sync_runs_one_{status}", "integration_id", unique=True,
        sqlite_where=where, postgresql_where=where,
    )  # fmt: skip


class SyncRun(Base):
    """One execution of an integration, with its counts and status.

    At most one run per integration is `running` at a time, and at most one is `queued` (waiting
    for a worker): partial unique indexes make the database refuse a second one, across
    processes, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "sync_runs"
    __table_args__ = (
        _one_run_per_integration(SyncRunStatus.RUNNING),
        _one_run_per_integration(SyncRunStatus.QUEUED),
        CheckConstraint(check_sql("status", SyncRunStatus), name="ck_sync_runs_status"),
    )

    id: Mapped[intpk]
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    status: Mapped[str] = mapped_column(String(30), default=SyncRunStatus.RUNNING)
    started_at: Mapped[timestamp]
    finished_at: Mapped[opt_timestamp]
    complete_read: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[json_doc] = mapped_column(default=dict)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[opt_timestamp]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pending: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[opt_timestamp]

    integration: Mapped[Integration] = relationship(back_populates="runs")
    errors: Mapped[list[SyncRunError]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="SyncRunError.id"
    )


class SyncRunError(Base):
    """A per-record error of a sync run: which record, and what was wrong with it."""

    __tablename__ = "sync_run_errors"

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id"), index=True)
    record_key: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text)

    run: Mapped[SyncRun] = relationship(back_populates="errors")


class Change(Base):
    """A change-log row: who changed which person or SaaS user, how, with before/after values."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_object", "object_type", "object_id"),)

    id: Mapped[intpk]
    at: Mapped[timestamp]
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(20))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
    before: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    after: Mapped[Any | None] = mapped_column(JSON, nullable=True)


class SchedulerLease(Base):
    """The one scheduler allowed to act on this database: whoever holds an unexpired lease."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[timestamp]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Workflow(Base):
    """A workflow over one object type (SaaS users or people): blocks and edges, draft until
    activated."""

    __tablename__ = "workflows"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    object_type: Mapped[str] = mapped_column(String(40), default="saas_users")
    state: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[json_doc] = mapped_column(default=dict)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


class WorkflowVersion(Base):
    """A frozen definition of a workflow; runs record which version they ran."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version", name="uq_workflow_version"),)

    id: Mapped[intpk]
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[json_doc]
    created_at: Mapped[timestamp]


class WorkflowRun(Base):
    """One execution of a workflow over the records its criteria selected."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        CheckConstraint(check_sql("status", WorkflowRunStatus), name="ck_workflow_runs_status"),
    )

    id: Mapped[intpk]
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(40), default="manual")
    status: Mapped[str] = mapped_column(String(30), default=WorkflowRunStatus.RUNNING)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    outcomes: Mapped[json_doc] = mapped_column(default=dict)
    # the records an event run walks: SaaS users (record_created / record_deactivated) or people
    # (person_hired / person_started); none: the criteria select them
    record_ids: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)  # hostname:pid walking it
    started_at: Mapped[timestamp]  # when it was queued, then when a worker started it
    finished_at: Mapped[opt_timestamp]


class DryRun(Base):
    """A sync's dry run, asked for from the web app or the API and computed by a worker: what a
    real sync would change now (`report`, the shape of `invsync sync --dry-run --format json`)."""

    __tablename__ = "dry_runs"
    __table_args__ = (
        CheckConstraint(check_sql("status", DryRunStatus), name="ck_dry_runs_status"),
    )

    id: Mapped[intpk]
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=DryRunStatus.QUEUED)
    report: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)  # hostname:pid
    started_at: Mapped[timestamp]  # when it was asked for, then when a worker started it
    finished_at: Mapped[opt_timestamp]


class WorkflowStep(Base):
    """What one block did to one record in a workflow run (never a secret)."""

    __tablename__ = "workflow_steps"

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_runs.id"), index=True)
    saas_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a people workflow's
    record_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
    block_id: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(30))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[timestamp]


class Approval(Base):
    """A change to Lever a supervised workflow waits on a person to approve or reject."""

    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(check_sql("status", ApprovalStatus), name="ck_approvals_status"),
    )

    id: Mapped[intpk]
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_runs.id"))
    block_id: Mapped[str] = mapped_column(String(100))
    saas_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    record_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
    action: Mapped[json_doc] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ApprovalStatus.PENDING)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[timestamp]
    decided_at: Mapped[opt_timestamp]
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Account(Base):
    """A person who signs in to the web app or the API, with one role: viewer, author or admin."""

    __tablename__ = "accounts"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[timestamp]
    last_login_at: Mapped[opt_timestamp]

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="account")


class ApiToken(Base):
    """A bearer token for the JSON API, stored as its SHA-256; it acts with its owner's role."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[timestamp]
    last_used_at: Mapped[opt_timestamp]
    revoked_at: Mapped[opt_timestamp]

    account: Mapped[Account] = relationship(back_populates="tokens")


class LoginThrottle(Base):
    """Failed sign-ins of one account name, so guessing passwords is slowed to a crawl."""

    __tablename__ = "login_throttle"

    name_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[opt_timestamp]
    locked_until: Mapped[opt_timestamp]


class SavedView(Base):
    """A named list view (its query string) that an account keeps for a list page."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("account_id", "page", "name"),)

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    page: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[timestamp]


class HireEvent(Base):
    """A hiring event from Lever (a signed webhook, or a hire found by polling), kept with what
    processing it did, so an admin sees every event and can run a failed one again."""

    __tablename__ = "hire_events"
    __table_args__ = (
        UniqueConstraint("integration_id", "token", name="uq_hire_events_token"),
        CheckConstraint(check_sql("status", HireEventStatus), name="ck_hire_events_status"),
    )

    id: Mapped[intpk]
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # webhook or poll
    event: Mapped[str] = mapped_column(String(60))
    opportunity_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    # Lever's token of a webhook (refused when seen twice), or poll:<opportunity>:<archived ms>
    token: Mapped[str] = mapped_column(String(200))
    triggered_at: Mapped[opt_timestamp]
    received_at: Mapped[timestamp]
    payload: Mapped[json_doc] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=HireEventStatus.QUEUED)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)  # e.g. a numbered email
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)  # hostname:pid
    processed_at: Mapped[opt_timestamp]
