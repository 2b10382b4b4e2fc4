"""`invsync worker`: execute queued syncs and workflow runs from PostgreSQL's task queue.

Run as many workers as needed, on as many machines: the database hands each job to one worker,
and the locks keep one run per integration across all of them. A worker first recovers what
dead workers left (see `web.tasks.recover`), then takes jobs until SIGTERM or Ctrl-C. It stops
taking jobs then and lets the current ones finish; with `--graceful-timeout`, jobs still going
after that many seconds are aborted. A run whose worker died is closed as failed by the next
recovery.
"""

from __future__ import annotations

import asyncio

import click
from procrastinate.app import WorkerOptions

from connector.ledger import owner_id
from inventory.errors import ConfigError
from web.commands.common import pass_ctx
from web.context import AppContext
from web.tasks import QUEUES, Runtime, engine_name, procrastinate_app, recover


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs this worker runs at once.")  # fmt: skip
@click.option("--queues", default=",".join(QUEUES), show_default=True,
              help="Comma-separated queues to take jobs from.")  # fmt: skip
@click.option("--graceful-timeout", type=click.FloatRange(min=0), default=None,
              help="On SIGTERM, abort jobs still going after N seconds.")  # fmt: skip
@pass_ctx
def worker(app: AppContext, concurrency: int, queues: str, graceful_timeout: float | None) -> None:
    """Run a worker: take queued syncs and workflow runs from the database (PostgreSQL)."""
    if engine_name(app.settings) != "procrastinate":
        raise ConfigError(
            "workers take jobs from the PostgreSQL task queue; this instance runs tasks in "
            "`invsync serve` itself (SQLite, or INVSYNC_TASK_ENGINE=local): no worker is needed"
        )
    chosen = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown or not chosen:
        raise ConfigError(
            f"unknown queue(s) {', '.join(unknown) or '(none)'}: use {', '.join(QUEUES)}"
        )
    runtime = Runtime(app.sessions, app.settings)
    asyncio.run(_work(runtime, chosen, concurrency, graceful_timeout))
    click.echo("worker stopped")


async def _work(
    runtime: Runtime, queues: list[str], concurrency: int, graceful_timeout: float | None
) -> None:
    """Recover, then run Procrastinate's worker until a stop signal."""
    tasks = procrastinate_app(runtime.settings)
    async with tasks.open_async():
        await recover(tasks, runtime)
        click.echo(
            f"worker {owner_id()} ready: queues {', '.join(queues)}, concurrency {concurrency}"
        )
        options: WorkerOptions = {
            "queues": queues,
            "concurrency": concurrency,
            "name": owner_id(),
            "additional_context": {"runtime": runtime},
            "install_signal_handlers": True,
        }
        if graceful_timeout is not None:  # none: wait for running jobs however long they take
            options["shutdown_graceful_timeout"] = graceful_timeout
        await tasks.run_worker_async(**options)


COMMANDS = [worker]
