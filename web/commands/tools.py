"""`invsync lever-sim`, `demo` and `serve`: the simulator, the tour and the web app."""

from __future__ import annotations

import sys
from functools import partial

import click

from web.commands.common import pass_ctx
from web.context import AppContext


@click.command("lever-sim")
@click.option("--port", type=int, required=True)
@click.option("--users", type=click.IntRange(0, 1_000_000), default=50, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--api-key", default=None, help="Key to accept (default: make one and print it).")
@click.option("--no-rate-limit", is_flag=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def lever_sim(
    port: int, users: int, seed: int, api_key: str | None, no_rate_limit: bool, host: str
) -> None:
    """Serve a faithful local Lever users API under /v1."""
    from connector.lever.sim import serve_forever

    serve_forever(port, users, seed, api_key, not no_rate_limit, host=host)


@click.command()
@click.option("--users", type=click.IntRange(1, 1_000_000), default=150, show_default=True)
@click.option("--no-serve", is_flag=True, help="Stop after the sync.")
@click.option("--port", type=int, default=0, help="Web port (default: a free one).")
@pass_ctx
def demo(app: AppContext, users: int, no_serve: bool, port: int) -> None:
    """Tour: simulator → vault → integration → smart map → launch → sync → web page."""
    from web.demo import run_demo

    sys.exit(run_demo(app, users=users, serve=not no_serve, port=port))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Worker processes (default: 1 on SQLite, 2 on PostgreSQL).",
)  # fmt: skip
@click.option(
    "--threads", type=click.IntRange(min=1), default=None,
    help="Threads per worker (default: 4).",
)  # fmt: skip
@pass_ctx
def serve(app: AppContext, host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve the web app on gunicorn, with one scheduler beside it (standing by if another one
    acts)."""
    from inventory.db import require_schema
    from web.app import create_app
    from web.commands.schedule import interrupt, on_sigterm, scheduler_in_background
    from web.serving import ServeOptions
    from web.serving import serve as serve_web

    options = ServeOptions.for_settings(
        app.settings, host=host, port=port, workers=workers, threads=threads
    )
    # Each worker builds the app itself; an old schema is one line here, before anything
    # listens, and this process keeps no connection open while it forks the workers.
    require_schema(app.engine)
    app.engine.dispose()
    # The scheduler runs in the arbiter (this process), never in a worker; until the arbiter
    # takes SIGTERM over, and on waitress, SIGTERM stops the server the way Ctrl-C does.
    with on_sigterm(interrupt):
        serve_web(
            partial(create_app, app.settings), options,
            beside=partial(scheduler_in_background, app),
        )  # fmt: skip


COMMANDS = [lever_sim, demo, serve]
