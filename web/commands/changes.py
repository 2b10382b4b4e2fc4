"""`invsync changes`: the change log of people and SaaS users, newest first."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from inventory.changelog import OBJECT_TYPES, list_changes
from web.commands.common import TABLE_OR_JSON, pass_ctx
from web.context import AppContext
from web.output import write_json_list, write_table

TABLE_COLUMNS = ["id", "at", "actor", "run", "action", "object", "key", "fields"]


@click.group()
def changes() -> None:
    """Who created, changed or deactivated which person or SaaS user, and how."""


@changes.command("list")
@click.option("--object", "object_type", type=click.Choice(OBJECT_TYPES), default=None,
              help="Only changes of people or of SaaS users.")  # fmt: skip
@click.option("--run", "run_id", type=int, default=None, help="Only changes made by this run.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def changes_list(
    app: AppContext, object_type: str | None, run_id: int | None, limit: int | None, fmt: str
) -> None:
    """List changes, newest first (table or JSON), streamed."""
    with app.transaction() as session:
        rows = list_changes(session, object_type=object_type, run_id=run_id, limit=limit)
        if fmt == "json":
            write_json_list(rows, sys.stdout)
        else:
            write_table(_table_rows(rows), TABLE_COLUMNS, sys.stdout)


def _table_rows(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Changes flattened to one line each: who, what, and which fields."""
    for row in rows:
        actor, obj = row["actor"], row["object"]
        yield {
            "id": row["id"],
            "at": row["at"],
            "actor": f"{actor['kind']}:{actor['name']}",
            "run": row["run_id"],
            "action": row["action"],
            "object": f"{obj['type']} {obj['id']}",
            "key": obj["key"],
            "fields": ", ".join(row["after"] or row["before"] or {}),
        }


COMMANDS = [changes]
