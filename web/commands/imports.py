"""`invsync saas-users import`: last activity and roles from a CSV file, for workflow criteria.

Exit codes: 0 every row imported; 2 usage error (no such app, no email column); 3 some rows had
errors (each is reported with its line; the other rows were imported), as `sync` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from inventory import changelog
from inventory.errors import ExitCode
from inventory.timeutil import utcnow
from web.commands.common import TABLE_OR_JSON, pass_ctx
from web.commands.lists import saas_users
from web.context import AppContext
from web.output import write_json
from workflows.logins import ImportResult, import_activity


@saas_users.command("import")
@click.argument("path", metavar="FILE.csv", type=click.Path(exists=True, dir_okay=False,
                                                            path_type=Path))  # fmt: skip
@click.option("--app", "app_name", default="Lever", show_default=True)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def import_(app: AppContext, path: Path, app_name: str, fmt: str) -> None:
    """Set roles and last logins of an app's SaaS users from a CSV (email, role, last_activity)."""
    with app.transaction() as session, path.open(encoding="utf-8", newline="") as lines:
        changelog.set_actor(session, "cli", f"saas-users import {path.name}")
        result = import_activity(session, app_name, lines, utcnow())
    if fmt == "json":
        write_json(result.to_dict(), sys.stdout)
    else:
        _print(result)
    if result.errors:
        sys.exit(ExitCode.RECORD_ERRORS)


def _print(result: ImportResult) -> None:
    """A short human summary, then each per-row error."""
    click.echo(f"{result.app}: {result.rows} rows; {result.updated} updated, "
               f"{result.unchanged} unchanged, {len(result.errors)} errors")  # fmt: skip
    for error in result.errors:
        click.echo(f"  line {error.line} ({error.email or 'no email'}): {error.message}")


COMMANDS: list[click.Command] = []
