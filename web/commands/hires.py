"""`invsync hires`: the hiring events a `lever-hires` integration received or found, and reruns.

`hires list` prints the events newest first (JSON: `id`, `received_at`, `event`,
`opportunity_id`, `status`, `error`, and more keys beside them). `hires rerun EVENT_ID` queues a
finished event again and processes it in this shell at once (a worker would take it the same
way), printing what it did; it exits 1 when the event fails again.
"""

from __future__ import annotations

import sys

import click

from connector import integrations
from connector.hires.events import event_dict, get_event, integration_name, list_events, rerun
from connector.hires.process import run_event
from connector.jobs import lever_client
from connector.ledger import owner_id
from inventory.errors import ExitCode
from inventory.statuses import HireEventStatus
from web.commands.common import TABLE_OR_JSON, fail, pass_ctx
from web.context import AppContext
from web.output import write_json, write_json_list, write_table

LIST_TABLE = ["id", "integration", "received_at", "event", "opportunity_id", "status", "outcome",
              "error"]  # fmt: skip


@click.group()
def hires() -> None:
    """Hiring events from Lever: webhooks received, hires found by polling, and reruns."""


@hires.command("list")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def hires_list(app: AppContext, name: str | None, limit: int, fmt: str) -> None:
    """List hiring events, newest first, of one integration or of all."""
    with app.transaction() as session:
        integ = integrations.get(session, name) if name else None
        rows = [event_dict(event, owner) for event, owner in list_events(session, integ, limit)]
    if fmt == "json":
        write_json_list(rows, sys.stdout)
    else:
        write_table(rows, LIST_TABLE, sys.stdout)


@hires.command("rerun")
@click.argument("event_id", type=int)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def hires_rerun(app: AppContext, event_id: int, fmt: str) -> None:
    """Process a finished event again, after fixing its cause in Lever."""
    with app.transaction() as session:
        rerun(session, event_id)
    run_event(app.sessions, app.settings, event_id, lever_client, owner_id())
    with app.transaction() as session:
        event = get_event(session, event_id)
        shown = event_dict(event, integration_name(session, event))
    if fmt == "json":
        write_json(shown, sys.stdout)
    elif shown["status"] != HireEventStatus.FAILED:
        note = f" ({shown['message']})" if shown["message"] else ""
        click.echo(f"hiring event {event_id}: {shown['outcome']}{note}")
    if shown["status"] == HireEventStatus.FAILED:
        fail(f"hiring event {event_id} failed again: {shown['error']}", ExitCode.FAILED)


COMMANDS = [hires]
