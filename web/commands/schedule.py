"""`invsync integration schedule` sets when an integration syncs; `invsync scheduler` runs them.

Only one scheduler acts per database; a second one (another `invsync scheduler`, or the one in
`invsync serve`) stands by and takes over when the active one stops or dies.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations, schedules
from connector.scheduler import RENEW_EVERY, RunSync, SchedulerService
from inventory.errors import ConfigError
from inventory.settings import Settings
from web.commands.common import pass_ctx
from web.commands.integration import integration
from web.context import AppContext
from web.jobs import scheduled_workflows, sync_with_events
from web.logs import configure_logging
from web.tasks import ProcrastinateEngine, Runtime, engine_name, queue_sync

Beat = Callable[[datetime, datetime], object]  # the scheduler's beat: scheduled workflows
LOG_FORMAT = "%(asctime)s invsync: %(levelname)s: %(message)s"


@click.command("schedule")
@click.argument("name")
@click.option("--daily", metavar="HH:MM", help="Run once a day at this local time.")
@click.option("--every", metavar="N{s,m,h,d}", help="Run every interval, e.g. 30m or 6h.")
@click.option("--cron", metavar='"m h dom mon dow"', help="Run on a crontab line.")
@click.option("--tz", metavar="Area/City", help="Time zone of --daily and --cron (default UTC).")
@click.option("--pause", is_flag=True, help="Stop scheduled runs, keeping the schedule.")
@click.option("--resume", is_flag=True, help="Start scheduled runs again.")
@pass_ctx
def schedule_cmd(
    app: AppContext,
    name: str,
    daily: str | None,
    every: str | None,
    cron: str | None,
    tz: str | None,
    pause: bool,
    resume: bool,
) -> None:
    """Set when an integration syncs (with no option: print its schedule)."""
    kind, expression = _chosen(daily=daily, every=every, cron=cron)
    paused = _pause_choice(pause, resume)
    with app.transaction() as session:
        integ = integrations.get(session, name)
        if kind or tz or paused is not None:
            schedules.change(integ, kind=kind, expression=expression, tz=tz, paused=paused)
        click.echo(f"integration {name!r} syncs {schedules.text(integ)}")


def _chosen(**options: str | None) -> tuple[str | None, str | None]:
    """The one schedule kind given, with its expression, or (None, None) when none is."""
    given = [(kind, expr) for kind, expr in options.items() if expr is not None]
    if len(given) > 1:
        raise ConfigError("give one of --daily, --every or --cron, not several")
    return given[0] if given else (None, None)


def _pause_choice(pause: bool, resume: bool) -> bool | None:
    """True for --pause, False for --resume, None for neither."""
    if pause and resume:
        raise ConfigError("give --pause or --resume, not both")
    return True if pause else (False if resume else None)


integration.add_command(schedule_cmd)


@click.command("scheduler")
@click.option(
    "--renew-every", type=click.FloatRange(0.2, 300), default=RENEW_EVERY, show_default=True,
    help="Seconds between lease renewals; a lease lapses after three without one.",
)  # fmt: skip
@pass_ctx
def scheduler_cmd(app: AppContext, renew_every: float) -> None:
    """Run scheduled syncs in the foreground until Ctrl-C (one scheduler acts per database)."""
    log_scheduler_to_stderr(app.settings)
    with scheduler_work(app) as (run, beat):
        service = SchedulerService(
            app.sessions, app.settings, renew_every=renew_every, run=run, on_beat=beat
        )
        # Ctrl-C is the way to stop it; run() has stood down by the time the interrupt arrives.
        with on_sigterm(service.stop), suppress(KeyboardInterrupt):
            service.run()


@contextmanager
def scheduler_in_background(app: AppContext) -> Iterator[SchedulerService]:
    """A scheduler running in a background thread for the length of the block."""
    log_scheduler_to_stderr(app.settings)
    with scheduler_work(app) as (run, beat):
        service = SchedulerService(app.sessions, app.settings, run=run, on_beat=beat)
        service.start()
        try:
            yield service
        finally:
            service.stop()


@contextmanager
def scheduler_work(app: AppContext) -> Iterator[tuple[RunSync, Beat]]:
    """How the scheduler runs due syncs and scheduled workflows: queued for the workers on
    Procrastinate; on the local engine, in the scheduler's own threads, as before (no broker,
    no extra step)."""
    if engine_name(app.settings) != "procrastinate":
        yield sync_with_events, scheduled_workflows(app.sessions, app.settings)
        return
    engine = ProcrastinateEngine(app.settings)

    def queue(
        factory: sessionmaker[Session], settings: Settings, name: str, *, trigger: str
    ) -> int:
        """Queue the due run; the id of the waiting run."""
        return queue_sync(Runtime(factory, settings), engine, name, trigger)

    try:
        yield queue, scheduled_workflows(app.sessions, app.settings, engine.defer_workflow)
    finally:
        engine.close()


def log_scheduler_to_stderr(settings: Settings) -> None:
    """Scheduler and run messages at INFO on stderr, with the time (one JSON object a line
    with INVSYNC_LOG_FORMAT=json)."""
    configure_logging(settings, text_format=LOG_FORMAT)
    logging.getLogger("connector.scheduler").setLevel(logging.INFO)


@contextmanager
def on_sigterm(action: Callable[[], None]) -> Iterator[None]:
    """Call `action` on SIGTERM during the block, then restore the previous handler."""

    def handle(_signum: int, _frame: Any) -> None:
        action()

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupt() -> None:
    """Turn SIGTERM into Ctrl-C, so a server stops the way it does when interrupted."""
    raise KeyboardInterrupt


COMMANDS = [scheduler_cmd]
