"""Approvals: the changes to Lever a supervised workflow holds until a person decides.

Approving is two steps. `accept` records the person's decision (`approving`); `send_approved`
runs the held block for its record, as the run would have (retry policy included), logs the step
under the same run, and walks the record on from the block's exit; a later block that changes
Lever asks again. The web app and the API accept in the request and a worker sends; the shell
(`approve`) does both at once. Rejecting logs a ``rejected`` step and ends the record's path. A
run whose last approval is decided becomes ``succeeded``. Only pending approvals of active
workflows can be approved; any pending approval can be rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from inventory import changelog
from inventory.models import Approval, Workflow, WorkflowRun, WorkflowStep
from inventory.settings import Settings
from inventory.statuses import ApprovalStatus, WorkflowRunStatus, values
from inventory.timeutil import iso
from workflows import store
from workflows.context import Record, RunContext
from workflows.definition import load
from workflows.errors import WorkflowNotFound, WorkflowStateError
from workflows.lever import LeverAccess, resolve
from workflows.registry import CheckEnv, Result
from workflows.runner import RunOptions, Walker, in_status, load_users

__all__ = [
    "APPROVAL_STATUSES",
    "Decision",
    "accept",
    "approval_run",
    "approval_to_dict",
    "approval_workflow",
    "approvals_to_send",
    "approve",
    "list_approvals",
    "reject",
    "send_approved",
]

APPROVAL_STATUSES = values(ApprovalStatus)
QUEUED_RESULT = "approved; waiting for a worker to send it to Lever"


@dataclass(frozen=True)
class Decision:
    """What deciding an approval did: its new status and the outcome of the held block."""

    approval_id: int
    status: str
    outcome: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `invsync approvals approve|reject --format json`."""
        return {"id": self.approval_id, "status": self.status, "outcome": self.outcome,
                "message": self.message}  # fmt: skip


def list_approvals(
    session: Session, status: str | None = ApprovalStatus.PENDING
) -> list[dict[str, Any]]:
    """Approvals (pending ones by default), oldest first, in their JSON shape."""
    stmt = (
        select(Approval, Workflow.name)
        .join(Workflow, Approval.workflow_id == Workflow.id)
        .order_by(Approval.id)
    )
    if status is not None:
        stmt = stmt.where(Approval.status == status)
    return [approval_to_dict(a, name) for a, name in session.execute(stmt)]


def approval_to_dict(approval: Approval, workflow_name: str) -> dict[str, Any]:
    """The stable JSON shape of `invsync approvals list --format json`."""
    return {
        "id": approval.id,
        "workflow": workflow_name,
        "run_id": approval.run_id,
        "block_id": approval.block_id,
        "record": approval.record_key,
        "action": (approval.action or {}).get("description"),
        "status": approval.status,
        "result": approval.result,
        "created_at": iso(approval.created_at),
        "decided_at": iso(approval.decided_at),
        "decided_by": approval.decided_by,
    }


def approve(
    session: Session,
    settings: Settings,
    approval_id: int,
    *,
    decided_by: str,
    options: RunOptions | None = None,
) -> Decision:
    """Approve and, at once, run the held block for its record and walk on, in the caller's
    transaction (the shell's way; the web app accepts, and a worker sends)."""
    accept(session, approval_id, decided_by=decided_by, options=options)
    decision = send_approved(session, settings, approval_id, options)
    assert decision is not None, "an approval accepted in this transaction is sent by it"
    return decision


def accept(
    session: Session,
    approval_id: int,
    *,
    decided_by: str,
    options: RunOptions | None = None,
) -> Decision:
    """Record a person's approval, to be sent to Lever by a worker (`send_approved`); refused
    unless the approval is pending and its workflow active. In the caller's transaction."""
    options = options or RunOptions()
    approval, workflow, _ = _pending(session, approval_id)
    if workflow.state != "active":
        raise WorkflowStateError(
            f"workflow {workflow.name!r} is {workflow.state}: activate it to approve, "
            f"or reject approval {approval_id}"
        )
    _decide(approval, ApprovalStatus.APPROVING, decided_by, options, QUEUED_RESULT)
    session.flush()
    return Decision(approval_id, ApprovalStatus.APPROVING, "queued", QUEUED_RESULT)


def send_approved(
    session: Session,
    settings: Settings,
    approval_id: int,
    options: RunOptions | None = None,
) -> Decision | None:
    """Run the held block of an accepted approval for its record and walk on, in the caller's
    transaction; None when it is not waiting to be sent (sent already)."""
    options = options or RunOptions()
    approval = session.get(Approval, approval_id)
    if approval is None or approval.status != ApprovalStatus.APPROVING:
        return None
    workflow = session.get_one(Workflow, approval.workflow_id)
    run = session.get_one(WorkflowRun, approval.run_id)
    changelog.set_actor(session, "workflow", workflow.name)
    first = _resume(session, settings, approval, workflow, run, options)
    approval.status, approval.result = (
        ApprovalStatus.APPROVED,
        f"{first.outcome}: {first.message}"[:2000],
    )
    _settle(session, run)
    return Decision(approval_id, ApprovalStatus.APPROVED, first.outcome, first.message)


def approval_workflow(session: Session, approval_id: int) -> str:
    """The name of the workflow an approval belongs to."""
    approval = session.get_one(Approval, approval_id)
    return session.get_one(Workflow, approval.workflow_id).name


def approval_run(session: Session, approval_id: int) -> int:
    """The id of the workflow run an approval belongs to."""
    return session.get_one(Approval, approval_id).run_id


def approvals_to_send(session: Session) -> list[tuple[int, str]]:
    """Approvals accepted and not sent yet, oldest first, with their workflow's name."""
    return in_status(session, Approval, ApprovalStatus.APPROVING)


def reject(
    session: Session,
    approval_id: int,
    *,
    decided_by: str,
    options: RunOptions | None = None,
) -> Decision:
    """Refuse the held change: log it and end the record's path, in the caller's transaction."""
    options = options or RunOptions()
    approval, _, run = _pending(session, approval_id)
    message = f"rejected by {decided_by}"
    _decide(approval, ApprovalStatus.REJECTED, decided_by, options, message)
    session.add(
        WorkflowStep(
            run_id=run.id, saas_user_id=approval.saas_user_id, record_key=approval.record_key,
            block_id=approval.block_id, outcome="rejected", message=message, at=options.now(),
        )
    )  # fmt: skip
    _settle(session, run)
    return Decision(approval_id, ApprovalStatus.REJECTED, "rejected", message)


def _pending(session: Session, approval_id: int) -> tuple[Approval, Workflow, WorkflowRun]:
    """A pending approval with its workflow and run, or a clear error."""
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise WorkflowNotFound(f"no approval {approval_id}: see `invsync approvals list`")
    if approval.status != ApprovalStatus.PENDING:
        raise WorkflowStateError(f"approval {approval_id} was {approval.status} already")
    workflow = session.get_one(Workflow, approval.workflow_id)
    return approval, workflow, session.get_one(WorkflowRun, approval.run_id)


def _resume(
    session: Session,
    settings: Settings,
    approval: Approval,
    workflow: Workflow,
    run: WorkflowRun,
    options: RunOptions,
) -> Result:
    """Run the held block and walk on from its exit; the held block's result."""
    users = load_users(session, [approval.saas_user_id or 0])
    if not users:
        return Result.failure("the SaaS user no longer exists; nothing was done")
    definition = load(store.version_doc(session, workflow, run.version), CheckEnv(options.blocks()))
    lever = LeverAccess(resolve(session, settings, definition.credentials), options.client_options)
    ctx = RunContext(session, settings, workflow.name, False, options.now(), lever,
                     sleep=options.sleep)  # fmt: skip
    walker = Walker(definition, ctx, run.id, workflow.id, options.now)
    try:
        taken = walker.walk(Record(users[0]), approval.block_id, approved=True)
    finally:
        walker.ctx.lever.close()
    walker.flush()
    _add_outcomes(run, walker.outcomes)
    return taken[0][1]


def _decide(
    approval: Approval, status: str, decided_by: str, options: RunOptions, result: str
) -> None:
    """Record the decision on the approval."""
    approval.status, approval.decided_by = status, decided_by[:200]
    approval.decided_at, approval.result = options.now(), result[:2000]


def _add_outcomes(run: WorkflowRun, outcomes: dict[str, dict[str, int]]) -> None:
    """Add a resumed walk's outcomes to the run's (a new dict, so the JSON column is saved)."""
    merged = {block: dict(counts) for block, counts in (run.outcomes or {}).items()}
    for block, counts in outcomes.items():
        into = merged.setdefault(block, {"success": 0, "failure": 0})
        for outcome, n in counts.items():
            into[outcome] = into.get(outcome, 0) + n
    run.outcomes = merged


def _settle(session: Session, run: WorkflowRun) -> None:
    """A run waiting on approvals succeeds once none is pending or being sent (new ones keep it
    waiting)."""
    session.flush()
    undone = (ApprovalStatus.PENDING, ApprovalStatus.APPROVING)  # decided or not, not sent yet
    waiting = session.scalar(
        select(exists().where(Approval.run_id == run.id, Approval.status.in_(undone)))
    )
    if run.status in (WorkflowRunStatus.WAITING_APPROVAL, WorkflowRunStatus.SUCCEEDED):
        run.status = WorkflowRunStatus.WAITING_APPROVAL if waiting else WorkflowRunStatus.SUCCEEDED
