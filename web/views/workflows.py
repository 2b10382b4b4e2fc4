"""`/workflows` and `/approvals`: the canvas editor, runs and the approval queue.

The editor speaks JSON with the views below (`POST /workflows/validate`,
`/workflows/new/definition`, `/workflows/<name>/definition`, `…/dry-run`, `…/activate`,
`…/deactivate`), which answer
`{ok, name, state, version, problems: [{block, message}]}`; each problem names the block it is
about when it is about one. Every action also works without JavaScript, through plain forms: the
editor's JSON textarea and the buttons of the workflow page.

A new workflow is over SaaS users or over people (`/workflows/new?object=people`); the editor
offers what fits the object chosen: its triggers, fields, run modes and blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from inventory.errors import InvsyncError, NotFoundError
from inventory.models import Workflow, WorkflowVersion
from inventory.statuses import ApprovalStatus, WorkflowRunStatus
from inventory.timeutil import iso
from web.appstate import app_state
from web.background import start_approval, start_workflow
from web.failures import status_of
from web.http import db
from web.security import current_account, requires
from workflows import approvals as approvals_service
from workflows import definition, history, store
from workflows.blocks.api import METHODS
from workflows.blocks.update import FIELDS
from workflows.errors import WorkflowInvalid, WorkflowNotFound
from workflows.objects import OBJECTS, PEOPLE, SAAS_USERS, rule_fields
from workflows.registry import Registry
from workflows.runner import RunOptions

bp = Blueprint("workflows", __name__)

Page = str | tuple[str, int]
Answer = Response | tuple[Response, int]
REPORT_RECORDS = 200  # records shown in a dry-run report; the run page has every step
RUN_STEPS = 2000  # steps shown on a run page
UNFINISHED = (WorkflowRunStatus.QUEUED, WorkflowRunStatus.RUNNING)  # a run page follows these
STARTER: dict[str, Any] = {
    "name": "",
    "description": "",
    "object": SAAS_USERS,
    "trigger": {"type": "manual"},
    "criteria": {"all": [{"field": "app", "op": "eq", "value": "Lever"}]},
    "run_mode": "autopilot",
    "blocks": [{"id": "begin", "type": "begin"}, {"id": "end", "type": "end"}],
    "edges": [{"from": "begin", "to": "end", "on": "success"}],
}
# What a new workflow starts from, per object type.
STARTERS: dict[str, dict[str, Any]] = {
    SAAS_USERS: STARTER,
    PEOPLE: {**STARTER, "object": PEOPLE, "trigger": {"type": "person_hired"},
             "criteria": {"field": "status", "op": "eq", "value": "pre_start"}},
}  # fmt: skip
OBJECT_TITLES = {SAAS_USERS: "SaaS users", PEOPLE: "People"}
_BLOCK = re.compile(r"block '([A-Za-z0-9_.-]+)': ")
_INDEXED = re.compile(r"(blocks|edges)\[(\d+)\]: ")
_BEGIN_SECTIONS = ("trigger:", "criteria:", "run_mode:")  # set in the begin block's settings


# -- shared helpers --------------------------------------------------------------------------


def _registry() -> Registry:
    """The app's block registry (built-ins and installed extensions, loaded with the app)."""
    return app_state().registry


def _run_options() -> RunOptions:
    """How runs started from the web reach the world: the app's registry, default clients."""
    return RunOptions(registry=_registry())


def _me() -> str:
    """The signed-in account's name, for approvals."""
    account = current_account()
    return account.name if account is not None else "web"


def _wants_json() -> bool:
    """Whether the caller is the editor's script (JSON) rather than a plain form."""
    return request.is_json or "application/json" in request.headers.get("Accept", "")


def _line(exc: InvsyncError) -> str:
    """An error's message on one line."""
    return " ".join(str(exc).split())


def structured_problems(problems: list[str], doc: Any) -> list[dict[str, Any]]:
    """Problem lines as `{block, message}`, `block` being the id of the block each is about."""
    return [{"block": _block_of(problem, doc), "message": problem} for problem in problems]


def _block_of(problem: str, doc: Any) -> str | None:
    """The id of the block a problem line is about, or None for the whole workflow."""
    named = _BLOCK.match(problem)
    if named:
        return named.group(1)
    indexed = _INDEXED.match(problem)
    if indexed:
        return _indexed_block(doc, indexed.group(1), int(indexed.group(2)))
    if problem.startswith(_BEGIN_SECTIONS):
        return _begin_of(doc)
    return None


def _indexed_block(doc: Any, section: str, index: int) -> str | None:
    """The block at `blocks[i]`, or the block an edge `edges[i]` leaves from."""
    items = doc.get(section) if isinstance(doc, Mapping) else None
    if not isinstance(items, list) or index >= len(items) or not isinstance(items[index], Mapping):
        return None
    found = items[index].get("id" if section == "blocks" else "from")
    return found if isinstance(found, str) and found in _block_ids(doc) else None


def _block_ids(doc: Any) -> set[str]:
    """The ids of a document's blocks."""
    blocks = doc.get("blocks") if isinstance(doc, Mapping) else None
    items = blocks if isinstance(blocks, list) else []
    return {b["id"] for b in items if isinstance(b, Mapping) and isinstance(b.get("id"), str)}


def _begin_of(doc: Any) -> str | None:
    """The id of a document's begin block."""
    blocks = doc.get("blocks") if isinstance(doc, Mapping) else None
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, Mapping) and block.get("type") == "begin":
            found = block.get("id")
            return found if isinstance(found, str) else None
    return None


def trigger_text(trigger: Any) -> str:
    """A trigger in words, such as `schedule: daily 03:00 UTC`."""
    if not isinstance(trigger, Mapping):
        return "—"
    kind = str(trigger.get("type", "—"))
    for key in definition.SCHEDULE_KINDS:
        if key in trigger:
            return f"{kind}: {key} {trigger[key]} {trigger.get('tz', 'UTC')}"
    return kind


def _state_body(workflow: Workflow, result: str) -> dict[str, Any]:
    """What the editor learns after a change: the workflow's name, state and version."""
    return {
        "ok": True,
        "result": result,
        "name": workflow.name,
        "state": workflow.state,
        "version": workflow.version,
        "url": url_for("workflows.show", name=workflow.name),
        "edit_url": url_for("workflows.edit", name=workflow.name),
        "problems": [],
    }


def _json_failure(exc: InvsyncError, doc: Any) -> tuple[Response, int]:
    """An error as the editor's JSON answer: its problems, each tied to a block when it can be."""
    problems = getattr(exc, "problems", None) or [_line(exc)]
    body = {"ok": False, "problems": structured_problems(list(problems), doc)}
    return jsonify(body), status_of(exc)


def _stored_doc(name: str) -> Any:
    """A stored workflow's definition, or None when there is no such workflow."""
    found = db().scalar(select(Workflow).where(Workflow.name == name))
    return found.definition if found is not None else None


# -- the list --------------------------------------------------------------------------------


@bp.get("/workflows")
@requires("author")
def index() -> str:
    """Workflows with their state, version, trigger and last run."""
    rows = [_list_row(workflow) for workflow in store.list_all(db())]
    return render_template("workflows/index.html", rows=rows)


def _list_row(workflow: Workflow) -> dict[str, Any]:
    """One row of the list."""
    row = store.workflow_to_dict(workflow)
    runs = history.list_runs(db(), workflow.name, limit=1)
    row["trigger_text"] = trigger_text(row["trigger"])
    row["last_run"] = runs[0] if runs else None
    return row


# -- the editor ------------------------------------------------------------------------------


def editor_config(
    registry: Registry, credentials: list[str], custom_fields: frozenset[str] | None = None
) -> dict[str, Any]:
    """What the editor's script needs: block types with their exits, presets and the objects
    they fit, the vault's credential names (never a secret) and the choices of each setting,
    per object type where they differ (triggers, rule fields, run modes)."""
    return {
        "blocks": [_block_entry(registry, kind) for kind in _palette_order(registry)],
        "credentials": credentials,
        "methods": list(METHODS),
        "update_fields": list(FIELDS),
        "objects": [{"name": obj, "title": OBJECT_TITLES[obj]} for obj in OBJECTS],
        "triggers": list(definition.TRIGGERS),
        "object_triggers": {obj: list(definition.triggers_for(obj)) for obj in OBJECTS},
        "fields": {obj: list(rule_fields(obj, custom_fields or ())) for obj in OBJECTS},
        "schedule_kinds": list(definition.SCHEDULE_KINDS),
        "run_modes": list(definition.RUN_MODES),
        "object_run_modes": {obj: list(definition.run_modes_for(obj)) for obj in OBJECTS},
    }


def _palette_order(registry: Registry) -> list[str]:
    """Block types in palette order: begin and end first, then the others as registered."""
    first = [kind for kind in ("begin", "end") if kind in registry.blocks]
    return first + [kind for kind in registry.blocks if kind not in first]


def _block_entry(registry: Registry, kind: str) -> dict[str, Any]:
    """One block type for the palette and settings panel."""
    cls = registry.blocks[kind]
    presets = [registry.presets[name] for name in registry.presets_for(kind)]
    return {
        "type": kind,
        "title": kind.replace("_", " ").title().replace("Saas", "SaaS").replace("Api", "API"),
        "description": (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
        "exits": list(cls.exits),
        "keys": sorted(cls.keys),
        "objects": [obj for obj in OBJECTS if obj in cls.objects],
        "preset_required": bool(getattr(cls, "preset_required", False)),
        "presets": [
            {"name": p.name, "description": p.description, "defaults": dict(p.defaults),
             "objects": [obj for obj in OBJECTS if obj in p.objects]}
            for p in presets
        ],
    }  # fmt: skip


def _editor_config() -> dict[str, Any]:
    """The editor's configuration for this instance: its registry, credentials, custom fields."""
    env = store.check_env(db(), _registry())
    return editor_config(_registry(), sorted(env.credentials or ()), env.custom_fields)


def _editor(
    doc: Any,
    workflow: Workflow | None,
    *,
    text: str | None = None,
    problems: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> Page:
    """The editor page on a definition (`text` keeps what the JSON form sent as it was)."""
    shown = doc if isinstance(doc, Mapping) else (workflow.definition if workflow else _starter())
    page = render_template(
        "workflows/editor.html",
        workflow=workflow,
        definition=shown,
        definition_text=text if text is not None else json.dumps(shown, indent=2),
        config=_editor_config(),
        problems=problems or [],
        form_action=url_for("workflows.edit", name=workflow.name)
        if workflow
        else url_for("workflows.new"),
    )
    return page, status


@bp.get("/workflows/new")
@requires("author")
def new() -> Page:
    """The canvas editor on a new workflow (over SaaS users, or `?object=people`): begin
    connected to end."""
    return _editor(_starter(), None)


def _starter() -> dict[str, Any]:
    """The definition a new workflow starts from, for the object the query asks for."""
    return STARTERS.get(request.args.get("object", SAAS_USERS), STARTER)


@bp.get("/workflows/<name>/edit")
@requires("author")
def edit(name: str) -> Page:
    """The canvas editor on a stored workflow."""
    workflow = store.get(db(), name)
    return _editor(workflow.definition, workflow)


def _form_doc() -> tuple[Any, str, list[dict[str, Any]]]:
    """The definition the JSON form sent, its text, and a problem when it is not JSON."""
    text = request.form.get("definition", "")
    try:
        return json.loads(text), text, []
    except json.JSONDecodeError as exc:
        return None, text, [{"block": None, "message": f"workflow: not valid JSON ({exc})"}]


@bp.post("/workflows/new")
@requires("author")
def create_form() -> Page | Response:
    """Create a workflow from the JSON form; back to the editor listing problems if invalid."""
    doc, text, problems = _form_doc()
    if problems:
        return _editor(None, None, text=text, problems=problems, status=400)
    try:
        workflow = store.create(db(), doc, _registry())
    except InvsyncError as exc:
        db().rollback()
        return _editor_failure(exc, doc, text, None)
    flash(f"Workflow {workflow.name!r} created as a draft (version 1).", "success")
    return redirect(url_for("workflows.show", name=workflow.name))


@bp.post("/workflows/<name>/edit")
@requires("author")
def update_form(name: str) -> Page | Response:
    """Replace a workflow's definition from the JSON form."""
    workflow = store.get(db(), name)
    doc, text, problems = _form_doc()
    if problems:
        return _editor(None, workflow, text=text, problems=problems, status=400)
    try:
        _require_name(doc, name)
        workflow, result = store.update(db(), doc, _registry())
    except InvsyncError as exc:
        db().rollback()
        return _editor_failure(exc, doc, text, store.get(db(), name))
    flash(f"Workflow {name!r}: {result.replace('_', ' ')} (version {workflow.version}).", "success")
    return redirect(url_for("workflows.show", name=name))


def _editor_failure(exc: InvsyncError, doc: Any, text: str, workflow: Workflow | None) -> Page:
    """The editor again, with the problems of a refused definition."""
    problems = getattr(exc, "problems", None) or [_line(exc)]
    listed = structured_problems(list(problems), doc)
    return _editor(doc, workflow, text=text, problems=listed, status=status_of(exc))


def _require_name(doc: Any, name: str) -> None:
    """A definition sent for a workflow must keep its name (renaming is not supported)."""
    if isinstance(doc, Mapping) and doc.get("name") != name:
        raise WorkflowInvalid(
            [f"name: must stay {name!r} (to rename, create a new workflow from this one)"]
        )


# -- the editor's JSON calls -----------------------------------------------------------------


def _json_doc() -> Any:
    """The definition in a JSON request body (None when the body is not JSON)."""
    return request.get_json(silent=True)


@bp.post("/workflows/validate")
@requires("author")
def validate_json() -> Answer:
    """Check a definition without storing it."""
    doc = _json_doc()
    problems = definition.check(doc, store.check_env(db(), _registry()))
    return jsonify({"ok": not problems, "problems": structured_problems(problems, doc)})


@bp.post("/workflows/new/definition")
@requires("author")
def create_json() -> Answer:
    """Store a new workflow as a draft."""
    doc = _json_doc()
    return _json_change(doc, lambda: (store.create(db(), doc, _registry()), "created"))


@bp.post("/workflows/<name>/definition")
@requires("author")
def update_json(name: str) -> Answer:
    """Replace a stored workflow's definition: `edited`, `new_version` or `unchanged`."""
    doc = _json_doc()

    def change() -> tuple[Workflow, str]:
        store.get(db(), name)
        _require_name(doc, name)
        return store.update(db(), doc, _registry())

    return _json_change(doc, change)


def _json_change(doc: Any, change: Callable[[], tuple[Workflow, str]]) -> Answer:
    """Make a change, commit it and answer with the workflow's state, or answer the problems."""
    try:
        workflow, result = change()
    except InvsyncError as exc:
        db().rollback()
        return _json_failure(exc, doc)
    return jsonify(_state_body(workflow, result))


# -- state changes (JSON for the editor, forms for the workflow page) -------------------------


@bp.post("/workflows/<name>/activate")
@requires("author")
def activate(name: str) -> Answer:
    """Check a workflow again and make it active."""
    return _state_change(name, lambda: store.activate(db(), name, _registry()), "activated")


@bp.post("/workflows/<name>/deactivate")
@requires("author")
def deactivate(name: str) -> Answer:
    """Stop a workflow from running on its trigger."""
    return _state_change(name, lambda: store.deactivate(db(), name), "deactivated")


def _state_change(name: str, change: Callable[[], Workflow], result: str) -> Answer:
    """Activate or deactivate; answer the editor in JSON or send the form back to the page."""
    try:
        workflow = change()
    except InvsyncError as exc:
        db().rollback()
        return _refused(exc, name)
    if _wants_json():
        return jsonify(_state_body(workflow, result))
    flash(f"Workflow {name!r} is {workflow.state} (version {workflow.version}).", "success")
    return redirect(url_for("workflows.show", name=name))


def _refused(exc: InvsyncError, name: str) -> Answer:
    """A refused change: JSON problems for the editor, flashed lines for the workflow page."""
    if _wants_json():
        return _json_failure(exc, _stored_doc(name))
    if isinstance(exc, NotFoundError):
        raise exc
    for problem in getattr(exc, "problems", None) or [_line(exc)]:
        flash(problem, "error")
    return redirect(url_for("workflows.show", name=name))


# -- runs ------------------------------------------------------------------------------------


@bp.post("/workflows/<name>/dry-run")
@requires("author")
def dry_run(name: str) -> Answer:
    """Try the stored workflow on the records its criteria select, changing nothing."""
    return _start_run(name, dry_run=True)


@bp.post("/workflows/<name>/run")
@requires("author")
def run_now(name: str) -> Answer:
    """Run an active workflow now (a manual run)."""
    return _start_run(name, dry_run=False)


def _start_run(name: str, *, dry_run: bool) -> Answer:
    """Queue the run for a worker and answer at once: for the editor's script, the queued run
    and where to follow it (it asks again until the run is done); for a form, the run page,
    which shows the run live."""
    db().rollback()  # the run is queued in a transaction of its own, before a worker takes it
    try:
        run_id = start_workflow(name, dry_run=dry_run)
    except InvsyncError as exc:
        return _refused(exc, name)
    if _wants_json():
        return jsonify(_report(history.run_detail(db(), run_id))), 202
    return redirect(url_for("workflows.run", name=name, run_id=run_id))


def _report(detail: dict[str, Any]) -> dict[str, Any]:
    """A run (as `history.run_detail` reads it) as the editor shows it: its counts and, per
    record, each block's outcome."""
    records = _by_record(detail["steps"])
    shown = records[:REPORT_RECORDS]
    detail = {k: v for k, v in detail.items() if k != "steps"}
    url = url_for("workflows.run", name=detail["workflow"], run_id=detail["run_id"])
    ok = detail["status"] != WorkflowRunStatus.FAILED
    done = detail["status"] not in UNFINISHED
    return {**detail, "ok": ok, "done": done, "url": url, "problems": [],
            "records": shown, "more_records": len(records) - len(shown)}  # fmt: skip


def _by_record(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps grouped by record, in the order the records were walked."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        grouped.setdefault(step["record"] or "—", []).append(
            {"block": step["block"], "outcome": step["outcome"], "message": step["message"]}
        )
    return [{"record": record, "steps": found} for record, found in grouped.items()]


# -- the workflow and its runs ---------------------------------------------------------------


@bp.get("/workflows/<name>")
@requires("author")
def show(name: str) -> str:
    """A workflow: its state, trigger, versions and runs, with Run now and Dry run."""
    workflow = store.get(db(), name)
    summary = store.workflow_to_dict(workflow)
    return render_template(
        "workflows/show.html",
        workflow=workflow,
        summary=summary,
        trigger=trigger_text(summary["trigger"]),
        versions=_versions(workflow),
        runs=history.list_runs(db(), name, limit=50),
        definition_text=json.dumps(workflow.definition, indent=2),
    )


def _versions(workflow: Workflow) -> list[dict[str, Any]]:
    """A workflow's versions, newest first: number, when saved, how many blocks."""
    stmt = (
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow.id)
        .order_by(WorkflowVersion.version.desc())
    )
    return [
        {"version": v.version, "created_at": iso(v.created_at),
         "blocks": len(v.definition.get("blocks") or [])}
        for v in db().scalars(stmt)
    ]  # fmt: skip


@bp.get("/workflows/<name>/runs/<int:run_id>")
@requires("author")
def run(name: str, run_id: int) -> Answer | str:
    """One run with its steps: record, block, outcome and message; live while it waits or goes.
    Asked for JSON (the editor following a dry run), the run's report."""
    detail = history.run_detail(db(), run_id)
    if detail["workflow"] != name:
        raise WorkflowNotFound(f"workflow {name!r} has no run {run_id}")
    if _wants_json():
        return jsonify(_report(detail))
    steps = detail.pop("steps")
    return render_template(
        "workflows/run.html",
        name=name,
        run=detail,
        live=detail["status"] in UNFINISHED,
        worker=history.run_owner(db(), run_id),  # which process walked it (hostname:pid)
        steps=steps[:RUN_STEPS],
        more_steps=max(0, len(steps) - RUN_STEPS),
    )


# -- approvals -------------------------------------------------------------------------------


@bp.get("/approvals")
@requires("author")
def approvals() -> str:
    """Changes to Lever waiting for a decision, and the ones decided."""
    everything = approvals_service.list_approvals(db(), None)
    pending = [a for a in everything if a["status"] == ApprovalStatus.PENDING]
    decided = [a for a in reversed(everything) if a["status"] != ApprovalStatus.PENDING]
    return render_template("workflows/approvals.html", pending=pending, decided=decided)


@bp.post("/approvals/<int:approval_id>/approve")
@requires("author")
def approve(approval_id: int) -> Response:
    """Approve a held change: a worker sends it to Lever for its record and walks the record
    on; the queue shows the approval as `approving` until then."""
    db().rollback()  # the decision is recorded in a transaction of its own, before the hand-over
    return _decide(lambda: start_approval(approval_id, decided_by=_me()))


@bp.post("/approvals/<int:approval_id>/reject")
@requires("author")
def reject(approval_id: int) -> Response:
    """Reject a held change: nothing is sent, and the record's path ends."""
    return _decide(
        lambda: approvals_service.reject(
            db(), approval_id, decided_by=_me(), options=_run_options()
        )
    )


def _decided(done: approvals_service.Decision) -> str:
    """What a decision did, for the flash line."""
    if done.status == ApprovalStatus.APPROVING:
        return f"Approval {done.approval_id} approved: it is being sent to Lever."
    return f"Approval {done.approval_id} {done.status}: {done.outcome}: {done.message}"


def _decide(decision: Callable[[], approvals_service.Decision]) -> Response:
    """Decide an approval in the request's transaction and go back to the queue with what
    happened (a refused decision changes nothing)."""
    try:
        done = decision()
    except InvsyncError as exc:
        db().rollback()
        flash(_line(exc), "error")
    else:
        flash(_decided(done), "success")
    return redirect(url_for("workflows.approvals"))
