"""What every command module shares: the instance context decorator, formats and failing."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from inventory.errors import ExitCode
from web.context import AppContext

pass_ctx = click.make_pass_decorator(AppContext)
FORMAT = click.Choice(["table", "json", "csv"])
TABLE_OR_JSON = click.Choice(["table", "json"])


def fail(message: str, code: int = ExitCode.USAGE) -> NoReturn:
    """Print one error line and exit with the given code."""
    click.echo(f"invsync: error: {message}", err=True)
    sys.exit(code)
