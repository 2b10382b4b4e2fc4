"""`invsync runs`: the run ledger: list and show runs, cancel a running one, approve a held one."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click

from connector import ledger
from inventory.statuses import SyncRunStatus
from inventory.timeutil import utcnow
from web.commands.common import TABLE_OR_JSON, pass_ctx
from web.context import AppContext
from web.output import write_json, write_json_list, write_table

LIST_TABLE = [
    "run_id", "integration", "trigger", "status", "started_at", "finished_at", "fetched",
    "errors", "skipped",
]  # fmt: skip


@click.group()
def runs() -> None:
    """Sync runs: when each ran, how it ended, what it counted, which records failed."""


@runs.command("list")
@click.argument("name", required=False)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def runs_list(app: AppContext, name: str | None, fmt: str) -> None:
    """List runs, newest first, of one integration or of all."""
    with app.transaction() as session:
        rows = (ledger.run_dict(run) for run in ledger.iter_runs(session, name))
        if fmt == "json":
            write_json_list(rows, sys.stdout)
        else:
            write_table(rows, LIST_TABLE, sys.stdout)


@runs.command("show")
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def runs_show(app: AppContext, run_id: int, fmt: str) -> None:
    """Show one run with every per-record error (JSON: the list shape, `errors` being the list)."""
    with app.transaction() as session:
        detail = ledger.run_detail(session, ledger.get_run(session, run_id))
    if fmt == "json":
        write_json(detail, sys.stdout)
    else:
        _print_detail(detail)


def _print_detail(d: dict[str, Any]) -> None:
    """A run as readable lines."""
    click.echo(f"run {d['run_id']} of {d['integration']!r} ({d['trigger']}): {d['status']}")
    click.echo(f"  started {d['started_at']}, finished {d['finished_at'] or '-'}")
    click.echo(f"  fetched {d['fetched']}, errors {d['error_count']}, skipped {d['skipped']}")
    for label, key in (("people:    ", "people"), ("saas users:", "saas_users")):
        c = d[key]
        click.echo(f"  {label} {c['created']} created, {c['updated']} updated, "
                   f"{c['unchanged']} unchanged, {c['skipped']} skipped")  # fmt: skip
    if d["message"]:
        click.echo(f"  message: {d['message']}")
    for error in d["errors"]:
        click.echo(f"  error: {error['record']}: {error['message']}")


@runs.command("cancel")
@click.argument("run_id", type=int)
@pass_ctx
def runs_cancel(app: AppContext, run_id: int) -> None:
    """Ask a running run to stop after the page it is reading; it ends `cancelled`, with no
    reconciliation. A queued run, or one whose process is gone, is closed as `cancelled` at
    once. Exit code 2 when the run is neither running nor queued."""
    with app.transaction() as session:
        run = ledger.get_run(session, run_id)
        waiting = run.status == SyncRunStatus.QUEUED
        closed = ledger.request_cancel(session, run, utcnow())
    if closed:
        why = "it had not started" if waiting else "the process running it is gone"
        click.echo(f"run {run_id} closed as cancelled: {why}")
    else:
        click.echo(f"cancel requested: run {run_id} stops after the page it is reading")


@runs.command("approve")
@click.argument("run_id", type=int)
@click.option("--by", "approver", default=None, help="Who approves (default: the login name).")
@pass_ctx
def runs_approve(app: AppContext, run_id: int, approver: str | None) -> None:
    """Approve a held run, so the changes it holds back are applied. Exit code 2 when the run
    is not held."""
    from connector.reconcile import approve

    who = approver or _login_name()
    with app.transaction() as session:
        run = ledger.get_run(session, run_id)
        ledger.require_held(run)
        approve(session, run, approver=who, now=utcnow())
        status = run.status
    click.echo(f"run {run_id} approved by {who}: {status}")


def _login_name() -> str:
    """The user running the command, as far as the system knows."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


COMMANDS = [runs]
