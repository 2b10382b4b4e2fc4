"""`invsync workflow` and `invsync approvals`: build, check, activate and run workflows.

Exit codes: 0 success (a block leaving by its failure exit is a normal outcome, so a run whose
records took failure exits still exits 0: read `outcomes`); 1 the run failed (a refused key, no
permission: it could not go on for any record); 2 usage or configuration error, with one line
per problem for an invalid definition. There is no exit code 3 for workflows.

`workflow runs NAME` lists runs; `workflow runs show RUN_ID` (or `workflow run-show RUN_ID`)
shows one run with its steps.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from inventory.errors import ExitCode
from inventory.statuses import WorkflowRunStatus
from web.commands.common import TABLE_OR_JSON, fail, pass_ctx
from web.context import AppContext
from web.output import write_json, write_json_list, write_table
from workflows import approvals as approvals_service
from workflows import definition, history, store
from workflows.errors import WorkflowInvalid
from workflows.registry import load_registry
from workflows.runner import RunSummary, run_workflow

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
APPROVAL_CHOICES = click.Choice([*approvals_service.APPROVAL_STATUSES, "all"])
LIST_COLUMNS = ["name", "object", "state", "version", "trigger", "run_mode", "updated_at"]
RUN_COLUMNS = [
    "run_id",
    "status",
    "trigger",
    "dry_run",
    "matched",
    "pending_approvals",
    "started_at",
]
STEP_COLUMNS = ["record", "block", "outcome", "status_code", "message"]
APPROVAL_COLUMNS = ["id", "workflow", "block_id", "record", "status", "action"]


def read_definition(path: Path) -> Any:
    """The JSON document in a definition file; a file that is not JSON is a usage error."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"{path} is not a JSON definition: {exc}", ExitCode.USAGE)


def report_problems(problems: list[str]) -> NoReturn:
    """One line per problem on stderr, then exit 2."""
    for problem in problems:
        click.echo(f"invsync: error: {problem}", err=True)
    sys.exit(ExitCode.USAGE)


def _user() -> str:
    """Who decides an approval, when --by is not given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@click.group()
def workflow() -> None:
    """Workflows over SaaS users or people: create, validate, activate, run, and read their runs.

    Exit codes: 0 success (records that left a block by its failure exit are a normal outcome:
    read `outcomes`); 1 the run failed (a refused key, no permission); 2 usage or configuration
    error, with one line per problem for an invalid definition.
    """


@workflow.command("create")
@click.option("--file", "path", type=FILE, required=True, help="A JSON definition.")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def create(app: AppContext, path: Path, fmt: str) -> None:
    """Store a workflow as a draft; prints its name (exit 2 listing problems if invalid)."""
    doc = read_definition(path)
    try:
        with app.transaction() as session:
            created = store.workflow_to_dict(store.create(session, doc, load_registry()))
    except WorkflowInvalid as exc:
        report_problems(exc.problems)
    if fmt == "json":
        write_json(created, sys.stdout)
    else:
        click.echo(created["name"])


@workflow.command("update")
@click.option("--file", "path", type=FILE, required=True, help="A JSON definition.")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def update(app: AppContext, path: Path, fmt: str) -> None:
    """Replace a workflow's definition (found by its name); an active one gets a new version."""
    doc = read_definition(path)
    try:
        with app.transaction() as session:
            changed, result = store.update(session, doc, load_registry())
            shown = {**store.workflow_to_dict(changed), "result": result}
    except WorkflowInvalid as exc:
        report_problems(exc.problems)
    if fmt == "json":
        write_json(shown, sys.stdout)
    else:
        click.echo(f"{shown['name']}: {result.replace('_', ' ')} (version {shown['version']})")


@workflow.command("validate")
@click.argument("name", required=False)
@click.option("--file", "path", type=FILE, help="Check a definition file instead.")
@pass_ctx
def validate(app: AppContext, name: str | None, path: Path | None) -> None:
    """Check a stored workflow or a file: exit 0, or 2 with one line per problem."""
    if (name is None) == (path is None):
        fail("give a workflow NAME or --file FILE", ExitCode.USAGE)
    with app.transaction() as session:
        doc = read_definition(path) if path else store.get(session, str(name)).definition
        problems = definition.check(doc, store.check_env(session, load_registry()))
    if problems:
        report_problems(problems)
    click.echo("valid")


@workflow.command("activate")
@click.argument("name")
@pass_ctx
def activate(app: AppContext, name: str) -> None:
    """Check a workflow again and make it active, so its trigger runs it."""
    try:
        with app.transaction() as session:
            version = store.activate(session, name, load_registry()).version
    except WorkflowInvalid as exc:
        report_problems(exc.problems)
    click.echo(f"{name}: active (version {version})")


@workflow.command("deactivate")
@click.argument("name")
@pass_ctx
def deactivate(app: AppContext, name: str) -> None:
    """Stop a workflow from running; its runs and versions are kept."""
    with app.transaction() as session:
        state = store.deactivate(session, name).state
    click.echo(f"{name}: {state}")


@workflow.command("list")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def list_(app: AppContext, fmt: str) -> None:
    """List workflows with their state, version and trigger."""
    with app.transaction() as session:
        rows = [store.workflow_to_dict(w) for w in store.list_all(session)]
    if fmt == "json":
        write_json_list(rows, sys.stdout)
    else:
        table = [{**r, "trigger": (r["trigger"] or {}).get("type")} for r in rows]
        write_table(table, LIST_COLUMNS, sys.stdout)


@workflow.command("show")
@click.argument("name")
@pass_ctx
def show(app: AppContext, name: str) -> None:
    """Print a workflow's current definition as JSON (the format `create --file` reads)."""
    with app.transaction() as session:
        doc = store.get(session, name).definition
    write_json(doc, sys.stdout)


@workflow.command("blocks")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
def blocks(fmt: str) -> None:
    """List the block types and presets workflows may use, with what each does."""
    registry = load_registry()
    rows = [
        {"kind": "block", "name": name, "block_type": name, "description": _first_line(cls.__doc__)}
        for name, cls in registry.blocks.items()
    ]
    rows += [{"kind": "preset", "name": p.name, "block_type": p.block_type,
              "description": p.description} for p in registry.presets.values()]  # fmt: skip
    if fmt == "json":
        write_json(rows, sys.stdout)
    else:
        write_table(rows, ["kind", "name", "block_type", "description"], sys.stdout)


def _first_line(doc: str | None) -> str:
    """The first line of a docstring."""
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


@workflow.command("run")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Report what would happen; change nothing.")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def run(app: AppContext, name: str, dry_run: bool, fmt: str) -> None:
    """Run a workflow now over the records its criteria select (exit 1 only if the run failed)."""
    summary = run_workflow(app.sessions, app.settings, name, dry_run=dry_run)
    if fmt == "json":
        write_json(summary.to_dict(), sys.stdout)
    else:
        _print_run(summary)
    if summary.status == WorkflowRunStatus.FAILED:
        fail(f"run {summary.run_id} of {name!r} failed: {summary.message}", ExitCode.FAILED)


def _print_run(s: RunSummary) -> None:
    """A short human summary of a run."""
    kind = ", dry run" if s.dry_run else ""
    click.echo(f"run {s.run_id} of {s.workflow!r} (version {s.version}{kind}): {s.status}; "
               f"matched {s.matched}")  # fmt: skip
    for block_id, counts in s.outcomes.items():
        click.echo(f"  {block_id}: {counts['success']} success, {counts['failure']} failure")
    if s.pending_approvals:
        verb = "would wait" if s.dry_run else "wait"
        click.echo(f"  {s.pending_approvals} change(s) {verb} for approval: invsync approvals list")


@workflow.command("runs")
@click.argument("args", nargs=-1, required=True, metavar="NAME | show RUN_ID")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--outcome", default=None, help="With `show`: only steps with this outcome.")
@pass_ctx
def runs(app: AppContext, args: tuple[str, ...], fmt: str, limit: int, outcome: str | None) -> None:
    """`runs NAME` lists a workflow's runs, newest first; `runs show RUN_ID` shows one run with
    its steps."""
    if len(args) == 2 and args[0] == "show":
        _show_run(app, _run_id(args[1]), fmt, outcome)
        return
    if len(args) != 1:
        fail(
            "use `invsync workflow runs NAME` or `invsync workflow runs show RUN_ID`",
            ExitCode.USAGE,
        )
    with app.transaction() as session:
        rows = history.list_runs(session, args[0], limit)
    if fmt == "json":
        write_json_list(rows, sys.stdout)
    else:
        write_table(rows, RUN_COLUMNS, sys.stdout)


@workflow.command("run-show")
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@click.option("--outcome", default=None, help="Only steps with this outcome.")
@pass_ctx
def run_show(app: AppContext, run_id: int, fmt: str, outcome: str | None) -> None:
    """Show one run with its steps (the same as `workflow runs show RUN_ID`)."""
    _show_run(app, run_id, fmt, outcome)


def _run_id(text: str) -> int:
    """A run id given on the command line."""
    if not text.isdigit():
        fail(f"run id must be a number, got {text!r}", ExitCode.USAGE)
    return int(text)


def _show_run(app: AppContext, run_id: int, fmt: str, outcome: str | None) -> None:
    """Print a run and its steps."""
    with app.transaction() as session:
        detail = history.run_detail(session, run_id, outcome)
    if fmt == "json":
        write_json(detail, sys.stdout)
        return
    steps = detail.pop("steps")
    for key in ("run_id", "workflow", "version", "status", "dry_run", "matched", "message"):
        click.echo(f"{key}: {detail[key]}")
    write_table(steps, STEP_COLUMNS, sys.stdout)


# -- approvals -------------------------------------------------------------------------------


@click.group()
def approvals() -> None:
    """Changes to Lever that supervised workflows wait on a person to approve."""


@approvals.command("list")
@click.option("--status", type=APPROVAL_CHOICES, default="pending", show_default=True)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def approvals_list(app: AppContext, status: str, fmt: str) -> None:
    """List approvals (pending ones by default)."""
    with app.transaction() as session:
        rows = approvals_service.list_approvals(session, None if status == "all" else status)
    if fmt == "json":
        write_json_list(rows, sys.stdout)
    else:
        write_table(rows, APPROVAL_COLUMNS, sys.stdout)


@approvals.command("approve")
@click.argument("approval_id", type=int)
@click.option("--by", "decided_by", default=None, help="Who approves (default: this user).")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def approve(app: AppContext, approval_id: int, decided_by: str | None, fmt: str) -> None:
    """Approve a held change: run it, then walk the record on."""
    with app.transaction() as session:
        decision = approvals_service.approve(
            session, app.settings, approval_id, decided_by=decided_by or _user()
        )
    _print_decision(decision.to_dict(), fmt)


@approvals.command("reject")
@click.argument("approval_id", type=int)
@click.option("--by", "decided_by", default=None, help="Who rejects (default: this user).")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def reject(app: AppContext, approval_id: int, decided_by: str | None, fmt: str) -> None:
    """Reject a held change: nothing is sent, and the record's path ends."""
    with app.transaction() as session:
        decision = approvals_service.reject(session, approval_id, decided_by=decided_by or _user())
    _print_decision(decision.to_dict(), fmt)


def _print_decision(decision: dict[str, Any], fmt: str) -> None:
    """Print what deciding an approval did."""
    if fmt == "json":
        write_json(decision, sys.stdout)
    else:
        click.echo(f"approval {decision['id']}: {decision['status']}; "
                   f"{decision['outcome']}: {decision['message']}")  # fmt: skip


COMMANDS = [workflow, approvals]
