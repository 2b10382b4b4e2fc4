"""The statuses a person, SaaS user, sync run, workflow run or approval may be in.

Each is a `StrEnum`: a member equals its string, so it is written, compared and printed exactly as
the plain value. The database refuses any other value with a CHECK constraint (migration 0007),
except for people, whose status is whatever the integration's mapping makes of the Lever record.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ApprovalStatus",
    "DryRunStatus",
    "HireEventStatus",
    "PersonStatus",
    "SaasUserStatus",
    "SyncRunStatus",
    "WorkflowRunStatus",
    "check_sql",
    "values",
]


class PersonStatus(StrEnum):
    """The statuses invsync itself gives a person (a mapping may store any other text)."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    PRE_START = "pre_start"  # hired in Lever, before the start date
    CANCELLED = "cancelled"  # the hire was archived or deleted in Lever before the start date


class SaasUserStatus(StrEnum):
    """A SaaS user's status: Lever says active or deactivated; reconciliation may say deleted."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"


class SyncRunStatus(StrEnum):
    """Where a sync run is: waiting for a worker, going, closed by its read, stopped, or held
    for approval."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HELD = "held"


class DryRunStatus(StrEnum):
    """Where a sync's dry run is: waiting for a worker, reading Lever, reported, or broken off."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class HireEventStatus(StrEnum):
    """Where a hiring event is: waiting for a worker, being processed, done, or failed (an admin
    can run it again once the cause is fixed in Lever)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WorkflowRunStatus(StrEnum):
    """Where a workflow run is: waiting for a worker, going, done, waiting on approvals, or
    broken off."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    WAITING_APPROVAL = "waiting_approval"
    FAILED = "failed"


class ApprovalStatus(StrEnum):
    """Whether a person has decided on a held change to Lever yet, and how: `approving` is
    approved and waiting for a worker to send it."""

    PENDING = "pending"
    APPROVING = "approving"
    APPROVED = "approved"
    REJECTED = "rejected"


def values(kind: type[StrEnum]) -> tuple[str, ...]:
    """The plain string values of a status kind, in declaration order."""
    return tuple(member.value for member in kind)


def check_sql(column: str, kind: type[StrEnum]) -> str:
    """The CHECK condition that limits a column to a status kind's values."""
    listed = ", ".join(f"'{value}'" for value in values(kind))
    return f"{column} IN ({listed})"
