"""`invsync sync`: run one sync of an integration now."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from connector.sync import SyncSummary
from inventory.db import read_only
from inventory.errors import ExitCode
from inventory.statuses import SyncRunStatus
from web.commands.common import TABLE_OR_JSON, fail, pass_ctx
from web.context import AppContext
from web.jobs import sync_with_events
from web.output import write_json


@click.command()
@click.argument("name")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@click.option(
    "--dry-run", is_flag=True, help="Show what a sync would do; change and record nothing."
)
@pass_ctx
def sync(app: AppContext, name: str, fmt: str, dry_run: bool) -> None:
    """Run one sync of an integration now.

    Exit codes: 0 succeeded; 1 the run failed, or was cancelled (`invsync runs cancel`); 2 usage
    or configuration error; 3 finished with per-record errors; 4 the integration is already
    running (the line names the run). `--dry-run` records no run and works on a draft too.
    """
    if dry_run:
        _dry_run(app, name, fmt)
        return
    with _progress() as progress:
        summary = sync_with_events(app.sessions, app.settings, name, progress=progress)
    if fmt == "json":
        write_json(summary.to_dict(), sys.stdout)
    else:
        _print_summary(summary)
    _exit_for(summary, name)


def _exit_for(summary: SyncSummary, name: str) -> None:
    """Leave with the exit code the run's outcome calls for."""
    if summary.status == SyncRunStatus.FAILED:
        fail(f"sync of {name!r} failed: {summary.message}", ExitCode.FAILED)
    if summary.status == SyncRunStatus.CANCELLED:
        fail(f"run {summary.run_id} was cancelled", ExitCode.FAILED)
    if summary.status == SyncRunStatus.HELD:
        click.echo(f"invsync: run {summary.run_id} is held: {summary.message}; approve it with "
                   f"`invsync runs approve {summary.run_id}`", err=True)  # fmt: skip
    if summary.errors:
        sys.exit(ExitCode.RECORD_ERRORS)


def _dry_run(app: AppContext, name: str, fmt: str) -> None:
    """Print what a sync would do, without recording a run."""
    from connector.dryrun import dry_run

    with read_only(app.sessions) as session:
        report = dry_run(session, app.settings, name)
    if fmt == "json":
        write_json(report, sys.stdout)
        return
    for key, value in report.items():
        click.echo(f"{key}: {_short(value)}")


def _short(value: Any) -> str:
    """One table cell for a value of a dry-run report."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return f"{len(value)} item" + ("" if len(value) == 1 else "s")
    return "-" if value is None else str(value)


def _print_summary(s: SyncSummary) -> None:
    """A short human summary of a run."""
    p, u = s.people, s.saas_users
    click.echo(f"run {s.run_id} of {s.integration!r}: {s.status}; fetched {s.fetched}, "
               f"errors {s.errors}, skipped {s.skipped}")  # fmt: skip
    click.echo(f"  people:     {p.created} created, {p.updated} updated, {p.unchanged} unchanged")
    click.echo(f"  saas users: {u.created} created, {u.updated} updated, {u.unchanged} unchanged")
    for key, message in s.error_samples[:5]:
        click.echo(f"  error: {key}: {message}")
    if s.errors > 5:
        click.echo(f"  … and {s.errors - 5} more per-record errors")


@contextmanager
def _progress() -> Iterator[Callable[[int], None] | None]:
    """A progress line on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task("reading Lever…", total=None)
        yield lambda n: bar.update(task, description=f"synced {n} Lever users")


COMMANDS = [sync]
