"""The `invsync` command line: init, vault, integration, sync, lists, simulator, demo, serve.

Exit codes: 0 success; 1 the job failed; 2 usage or configuration error; 3 finished with
per-record errors; 4 the integration is already running. Errors are one line on stderr naming
what to fix, never a traceback for a user's mistake, and never a secret.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from inventory.db import init_db
from inventory.errors import InvsyncError
from inventory.settings import Settings
from web import commands
from web.commands.common import fail, pass_ctx
from web.context import AppContext


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), help="Instance folder (INVSYNC_HOME).")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """invsync keeps an IT inventory of people and SaaS users in step with Lever."""
    logging.basicConfig(level=logging.WARNING, format="invsync: %(levelname)s: %(message)s")
    app = AppContext(Settings.load(home=home))
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.command()
@pass_ctx
def init(app: AppContext) -> None:
    """Create or upgrade the database in the instance folder."""
    init_db(app.engine)
    click.echo(f"database ready: {_safe_url(app.settings.db_url)}")


def _safe_url(url: str) -> str:
    """A database URL with any password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _register_commands() -> None:
    """Add every command module's COMMANDS to the root group (modules in web/commands/)."""
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn expected errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="invsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        fail(_one_line(exc.format_message()) + _usage_hint(exc), exc.exit_code)
    except InvsyncError as exc:
        fail(_one_line(str(exc)), exc.exit_code)
    except SQLAlchemyError as exc:
        fail(f"database error: {_one_line(str(getattr(exc, 'orig', exc)))}", 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def _one_line(text: str) -> str:
    """Fold any message onto one line."""
    return " ".join(text.split())


def _usage_hint(exc: click.ClickException) -> str:
    """Point at the command's help for usage mistakes."""
    ctx = getattr(exc, "ctx", None)
    return f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
