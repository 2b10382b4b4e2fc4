"""Run and step logs, read back: the runs of a workflow and one run with its steps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.models import Workflow, WorkflowRun, WorkflowStep
from inventory.timeutil import iso
from workflows import store
from workflows.errors import WorkflowNotFound
from workflows.runner import run_to_dict

__all__ = ["get_run", "list_runs", "run_detail", "run_owner", "step_to_dict"]


def list_runs(session: Session, name: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs of a workflow, newest first, in the shape of `workflow run`."""
    workflow = store.get(session, name)
    stmt = (
        select(WorkflowRun)
        .where(WorkflowRun.workflow_id == workflow.id)
        .order_by(WorkflowRun.id.desc())
        .limit(limit)
    )
    return [run_to_dict(session, run, workflow.name) for run in session.scalars(stmt)]


def get_run(session: Session, run_id: int) -> dict[str, Any]:
    """One run, without its steps, in the shape of `workflow run`."""
    run, workflow = _run(session, run_id)
    return run_to_dict(session, run, workflow.name)


def run_owner(session: Session, run_id: int) -> str | None:
    """The process (`hostname:pid`) that walked a run, once one took it."""
    return _run(session, run_id)[0].owner


def run_detail(session: Session, run_id: int, outcome: str | None = None) -> dict[str, Any]:
    """One run with its steps in order (only those with `outcome`, when given)."""
    run, workflow = _run(session, run_id)
    stmt = select(WorkflowStep).where(WorkflowStep.run_id == run_id).order_by(WorkflowStep.id)
    if outcome is not None:
        stmt = stmt.where(WorkflowStep.outcome == outcome)
    steps = [step_to_dict(step) for step in session.scalars(stmt)]
    return {**run_to_dict(session, run, workflow.name), "steps": steps}


def _run(session: Session, run_id: int) -> tuple[WorkflowRun, Workflow]:
    """A run and its workflow; WorkflowNotFound when there is no such run."""
    run = session.get(WorkflowRun, run_id)
    if run is None:
        raise WorkflowNotFound(f"no workflow run {run_id}: see `invsync workflow runs NAME`")
    return run, session.get_one(Workflow, run.workflow_id)


def step_to_dict(step: WorkflowStep) -> dict[str, Any]:
    """The stable JSON shape of one step."""
    return {
        "record": step.record_key,
        "saas_user_id": step.saas_user_id,
        "person_id": step.person_id,
        "block": step.block_id,
        "outcome": step.outcome,
        "message": step.message,
        "status_code": step.status_code,
        "at": iso(step.at),
    }
