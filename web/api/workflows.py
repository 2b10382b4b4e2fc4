"""`/api/v1/workflows` and `/api/v1/approvals`: build, check, try, activate and read workflows,
and decide the changes supervised workflows hold for approval."""

from __future__ import annotations

from typing import Any

from flask import url_for

from inventory.errors import ConfigError
from inventory.models import Workflow
from web.api import bp, schemas
from web.api.spec import body, operation, query
from web.appstate import app_state
from web.background import start_approval, start_workflow
from web.http import db
from web.security import current_account, requires
from workflows import approvals, definition, history, store


def _detail(workflow: Workflow, **extra: Any) -> dict[str, Any]:
    """A workflow with its definition (and any extra keys, such as how a save went)."""
    return {**store.workflow_to_dict(workflow), "definition": workflow.definition, **extra}


def _decider() -> str:
    """Who decides an approval: the caller's account name."""
    account = current_account()
    assert account is not None
    return account.name


@bp.get("/workflows")
@requires("viewer")
@operation("workflows", schemas.WorkflowList)
def list_workflows() -> dict[str, Any]:
    """List workflows with their state, version and trigger."""
    items = [store.workflow_to_dict(w) for w in store.list_all(db())]
    return dict(schemas.WorkflowList().dump({"items": items}))


@bp.post("/workflows")
@requires("author")
@operation(
    "workflows", schemas.WorkflowDetail, status=201, body=schemas.WorkflowDefinition,
    errors=(409,), headers={201: ("Location",)},
)  # fmt: skip
def create_workflow() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Store a definition as a draft (400 listing every problem if it is invalid)."""
    doc = body(schemas.WorkflowDefinition())
    workflow = store.create(db(), doc, app_state().registry)
    where = url_for("api.get_workflow", name=workflow.name)
    return schemas.WorkflowDetail().dump(_detail(workflow)), 201, {"Location": where}


@bp.get("/workflows/<name>")
@requires("viewer")
@operation("workflows", schemas.WorkflowDetail)
def get_workflow(name: str) -> dict[str, Any]:
    """Show a workflow with its current definition."""
    return dict(schemas.WorkflowDetail().dump(_detail(store.get(db(), name))))


@bp.put("/workflows/<name>")
@requires("author")
@operation("workflows", schemas.WorkflowSaved, body=schemas.WorkflowReplace)
def replace_workflow(name: str) -> dict[str, Any]:
    """Replace a workflow's definition; a live or run one gets a new version."""
    doc = body(schemas.WorkflowReplace())
    if doc.setdefault("name", name) != name:
        raise ConfigError(f"the definition is named {doc['name']!r}, not {name!r} as in the URL")
    store.get(db(), name)
    workflow, result = store.update(db(), doc, app_state().registry)
    return dict(schemas.WorkflowSaved().dump(_detail(workflow, result=result)))


@bp.post("/workflows/<name>/validate")
@requires("author")
@operation("workflows", schemas.WorkflowCheck)
def validate_workflow(name: str) -> dict[str, Any]:
    """Check a stored workflow against the blocks and credentials there are now."""
    doc = store.get(db(), name).definition
    problems = definition.check(doc, store.check_env(db(), app_state().registry))
    return dict(schemas.WorkflowCheck().dump({"valid": not problems, "problems": problems}))


@bp.post("/workflows/<name>/dry-run")
@requires("author")
@operation("workflows", schemas.WorkflowRun, status=202, headers={202: ("Location",)})
def dry_run_workflow(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Queue a dry run for a worker (202, the queued run and its Location): it reports what the
    workflow would do and changes nothing in Lever."""
    return _queued(start_workflow(name, dry_run=True))


@bp.post("/workflows/<name>/runs")
@requires("author")
@operation("workflows", schemas.WorkflowRun, status=202, headers={202: ("Location",)})
def run_workflow_now(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Queue a run of an active workflow for a worker (a manual run): 202, the queued run and
    its Location."""
    return _queued(start_workflow(name, dry_run=False))


@bp.get("/workflow-runs/<int(max=2147483647):id>")
@requires("viewer")
@operation("workflows", schemas.WorkflowRun)
def get_workflow_run(id: int) -> dict[str, Any]:
    """Show a workflow run: its status, counts and outcomes by block."""
    return dict(schemas.WorkflowRun().dump(history.get_run(db(), id)))


def _queued(run_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The answer to a queued run: 202, the run as it waits, and where to follow it."""
    db().expire_all()  # the run was recorded in a session of its own
    run = schemas.WorkflowRun().dump(history.get_run(db(), run_id))
    return run, 202, {"Location": url_for("api.get_workflow_run", id=run_id)}


@bp.post("/workflows/<name>/activate")
@requires("author")
@operation("workflows", schemas.Workflow)
def activate_workflow(name: str) -> dict[str, Any]:
    """Check a workflow again and make it active, so its trigger runs it."""
    workflow = store.activate(db(), name, app_state().registry)
    return dict(schemas.Workflow().dump(store.workflow_to_dict(workflow)))


@bp.post("/workflows/<name>/deactivate")
@requires("author")
@operation("workflows", schemas.Workflow)
def deactivate_workflow(name: str) -> dict[str, Any]:
    """Stop a workflow from running; its runs and versions are kept."""
    workflow = store.deactivate(db(), name)
    return dict(schemas.Workflow().dump(store.workflow_to_dict(workflow)))


@bp.get("/workflows/<name>/runs")
@requires("viewer")
@operation("workflows", schemas.WorkflowRunList, query=schemas.LimitQuery)
def list_workflow_runs(name: str) -> dict[str, Any]:
    """List a workflow's runs, newest first."""
    limit = query(schemas.LimitQuery())["limit"]
    items = history.list_runs(db(), name, limit)
    return dict(schemas.WorkflowRunList().dump({"items": items}))


@bp.get("/approvals")
@requires("author")
@operation("approvals", schemas.ApprovalList, query=schemas.ApprovalQuery)
def list_approvals() -> dict[str, Any]:
    """List approvals (pending ones unless `status` says otherwise), oldest first."""
    status = query(schemas.ApprovalQuery())["status"]
    items = approvals.list_approvals(db(), None if status == "all" else status)
    return dict(schemas.ApprovalList().dump({"items": items}))


@bp.post("/approvals/<int(max=2147483647):id>/approve")
@requires("author")
@operation("approvals", schemas.Decision, status=202, headers={202: ("Location",)})
def approve_change(id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Approve a held change: 202 with the decision (`approving`); a worker sends it to Lever
    and walks the record on, and the Location (its workflow run) shows how it went."""
    decision = start_approval(id, decided_by=_decider())
    db().expire_all()  # the decision was recorded in a session of its own
    run_id = approvals.approval_run(db(), id)
    location = url_for("api.get_workflow_run", id=run_id)
    return dict(schemas.Decision().dump(decision.to_dict())), 202, {"Location": location}


@bp.post("/approvals/<int(max=2147483647):id>/reject")
@requires("author")
@operation("approvals", schemas.Decision)
def reject_change(id: int) -> dict[str, Any]:
    """Reject a held change: nothing is sent, and the record's path ends."""
    decision = approvals.reject(db(), id, decided_by=_decider())
    return dict(schemas.Decision().dump(decision.to_dict()))
