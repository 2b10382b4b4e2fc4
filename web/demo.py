"""`invsync demo`: the one-command tour on the embedded defaults, and serving the web app."""

from __future__ import annotations

import secrets
from functools import partial

import click
from sqlalchemy import select

from connector import integrations
from connector.lever.sim import LeverSimulator, SimulatorServer
from connector.sync import SyncSummary
from inventory.db import init_db
from inventory.errors import ExitCode, NotFoundError
from inventory.models import Integration
from inventory.settings import Settings
from vault.keys import load_keyring
from vault.store import Vault
from web import accounts
from web.context import AppContext
from web.jobs import sync_with_events

DEMO = "lever-demo"
DEMO_ADMIN = "admin"


def run_demo(app: AppContext, *, users: int, serve: bool, port: int) -> int:
    """Simulator → vault → integration → smart map → launch → sync → summary → web page."""
    init_db(app.engine)
    sim = LeverSimulator(users=users, seed=7, rate_limit=True)
    # The simulator keeps running while the web app is served, so "Run now" works there too.
    with SimulatorServer(sim) as server:
        click.echo(f"Lever simulator with {users} users at {server.url}")
        _configure(app, server.url, sim.api_key)
        summary = sync_with_events(app.sessions, app.settings, DEMO, trigger="demo")
        _report(app, summary)
        if serve:
            _print_login(app)
            serve_app(app.settings, "127.0.0.1", port)
    return ExitCode.OK if summary.status != "failed" else ExitCode.FAILED


def _report(app: AppContext, summary: SyncSummary) -> None:
    """What the sync did, in four lines."""
    p, u = summary.people, summary.saas_users
    click.echo(f"synced {summary.fetched} Lever users: {summary.status}")
    click.echo(f"  people:     {p.created} created, {p.updated} updated, {p.unchanged} unchanged")
    click.echo(f"  saas users: {u.created} created, {u.updated} updated, {u.unchanged} unchanged")
    click.echo(f"instance folder: {app.settings.home.resolve()}")


def _print_login(app: AppContext) -> None:
    """Give the demo admin account a fresh password and print how to sign in."""
    password = secrets.token_urlsafe(12)
    with app.transaction() as session:
        try:
            accounts.set_password(session, DEMO_ADMIN, password)
        except NotFoundError:
            accounts.add_account(session, DEMO_ADMIN, password, "admin")
    click.echo(f"sign in as {DEMO_ADMIN!r} with password {password!r} (new each demo run)")


def _configure(app: AppContext, url: str, api_key: str) -> None:
    """Store the simulator's key and (re)point the demo integration at it, smart-mapped, active."""
    with app.transaction() as session:
        Vault(session, load_keyring(app.settings)).add(DEMO, api_key, " ", replace=True)
        integ = session.scalar(select(Integration).where(Integration.name == DEMO))
        if integ is None:
            spec = integrations.NewIntegration(name=DEMO, credential=DEMO, base_url=url)
            integ = integrations.create(session, spec)
        integ.base_url = url
        integrations.apply_smart_mapping(session, integ, None)
        integrations.launch(integ)
    click.echo(f"stored credential {DEMO!r}; integration {DEMO!r} smart-mapped and launched")


def serve_app(settings: Settings, host: str, port: int) -> None:
    """Serve the instance's web app in one worker until Ctrl-C, printing the URL first."""
    from web.app import create_app
    from web.serving import ServeOptions, serve

    # gunicorn's own notices stay out of the tour's output; its warnings and errors still show.
    options = ServeOptions.for_settings(
        settings, host=host, port=port, workers=1, loglevel="warning"
    )
    serve(partial(create_app, settings), options)
