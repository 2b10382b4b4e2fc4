"""The `invsync` command line: init, vault, integration, sync, lists, simulator, demo, serve.

Exit codes (`inventory.errors.ExitCode`): 0 success; 1 the job failed; 2 usage or configuration
error; 3 finished with per-record errors; 4 the integration is already running; an invsync error
exits with its class's `exit_code`. Errors are one line on stderr naming what to fix, never a
traceback for a user's mistake, and never a secret.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from inventory.db import init_db
from inventory.errors import ExitCode, InvsyncError
from inventory.settings import Settings
from web.commands.common import fail, pass_ctx
from web.context import AppContext
from web.logs import configure_logging

# Each top-level command and the modules that build it: the first defines it (in its COMMANDS),
# the others add subcommands to it. A command's modules are imported only when it runs, so a
# command starts without loading the scheduler, the workflow engine or the migrations it does
# not use.
LAZY_COMMANDS: dict[str, tuple[str, ...]] = {
    "vault": ("web.commands.vault",),
    "integration": ("web.commands.integration", "web.commands.schedule"),
    "sync": ("web.commands.sync",),
    "people": ("web.commands.lists",),
    "saas-users": ("web.commands.lists", "web.commands.imports"),
    "runs": ("web.commands.runs",),
    "hires": ("web.commands.hires",),
    "changes": ("web.commands.changes",),
    "scheduler": ("web.commands.schedule",),
    "workflow": ("web.commands.workflow",),
    "approvals": ("web.commands.workflow",),
    "user": ("web.commands.accounts",),
    "token": ("web.commands.accounts",),
    "lever-sim": ("web.commands.tools",),
    "demo": ("web.commands.tools",),
    "serve": ("web.commands.tools",),
    "worker": ("web.commands.worker",),
}


class LazyGroup(click.Group):
    """The root group: lists every command, imports a command's modules only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, built in or lazy."""
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its modules on first use."""
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(load_command(cmd_name))
        return super().get_command(ctx, cmd_name)


def load_command(name: str) -> click.Command:
    """Import a lazy command's modules and return the command its first module defines."""
    modules = [importlib.import_module(m) for m in LAZY_COMMANDS[name]]
    for command in getattr(modules[0], "COMMANDS", ()):
        if command.name == name:
            return command
    raise LookupError(f"{modules[0].__name__} defines no command {name!r}")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), help="Instance folder (INVSYNC_HOME).")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """invsync keeps an IT inventory of people and SaaS users in step with Lever."""
    app = AppContext(Settings.load(home=home))
    configure_logging(app.settings)
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn expected errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="invsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        fail("aborted", ExitCode.FAILED)
    except click.ClickException as exc:
        fail(_one_line(exc.format_message()) + _usage_hint(exc), exc.exit_code)
    except InvsyncError as exc:
        fail(_one_line(str(exc)), exc.exit_code)
    except SQLAlchemyError as exc:
        fail(f"database error: {_one_line(str(getattr(exc, 'orig', exc)))}", ExitCode.FAILED)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED)


def _one_line(text: str) -> str:
    """Fold any message onto one line."""
    return " ".join(text.split())


def _usage_hint(exc: click.ClickException) -> str:
    """Point at the command's help for usage mistakes."""
    ctx = getattr(exc, "ctx", None)
    return f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
