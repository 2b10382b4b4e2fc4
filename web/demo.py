"""`invsync demo`: the one-command tour on the embedded defaults, and serving the web app."""

from __future__ import annotations

import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import integrations
from connector.lever.sim import LeverSimulator, SimulatorServer
from connector.sync import SyncSummary
from inventory.db import init_db
from inventory.errors import ExitCode, NotFoundError
from inventory.models import Integration, Person
from inventory.settings import Settings
from inventory.timeutil import utcnow
from vault.keys import load_keyring
from vault.store import Vault
from web import accounts
from web.context import AppContext
from web.jobs import sync_with_events

DEMO = "lever-demo"
DEMO_ADMIN = "admin"
DEMO_HIRES = "lever-demo-hires"
DEMO_WEBHOOK = "lever-demo-webhook"
DEMO_POSTING = {"department": "Engineering", "team": "Platform", "location": "Berlin"}


def run_demo(app: AppContext, *, users: int, serve: bool, port: int) -> int:
    """Simulator → vault → integration → smart map → launch → sync → summary → a new hire
    polled from Lever → web page, where a second hire arrives by signed webhook."""
    init_db(app.engine)
    sim = LeverSimulator(users=users, seed=7, rate_limit=True)
    # The simulator keeps running while the web app is served, so "Run now" works there too.
    with SimulatorServer(sim) as server:
        click.echo(f"Lever simulator with {users} users at {server.url}")
        _configure(app, server.url, sim.api_key)
        summary = sync_with_events(app.sessions, app.settings, DEMO, trigger="demo")
        _report(app, summary)
        hires = _hire_demo(app, sim, server.url)
        if serve:
            port = port or _free_port()
            _webhook_later(sim, port, hires)
            _print_login(app)
            serve_app(app.settings, "127.0.0.1", port)
    return ExitCode.OK if summary.status != "failed" else ExitCode.FAILED


def _hire_demo(app: AppContext, sim: LeverSimulator, url: str) -> DemoHires:
    """Set up the hires integration, hire a candidate in Lever and poll it in: one pre-start
    person, printed."""
    hires = _configure_hires(app, sim, url)
    opportunity = _hire(sim, hires, "Zoë Ångström", days=14)
    polled = sync_with_events(app.sessions, app.settings, DEMO_HIRES, trigger="demo")
    click.echo(f"polled hires from Lever: {polled.status}")
    with app.transaction() as session:
        person = session.scalars(select(Person).where(Person.opportunity_id == opportunity)).one()
        click.echo(f"  new hire:   {_hire_line(session, person)}")
    return hires


@dataclass(frozen=True)
class DemoHires:
    """The demo's hires integration: the webhook's signature token, a posting, a manager."""

    signature_token: str
    posting_id: str
    manager_id: str | None


def _configure_hires(app: AppContext, sim: LeverSimulator, url: str) -> DemoHires:
    """The demo's `lever-hires` integration on the simulator: webhooks and polling on."""
    token = secrets.token_hex(16)
    with app.transaction() as session:
        Vault(session, load_keyring(app.settings)).add(DEMO_WEBHOOK, token, " ", replace=True)
        integ = session.scalar(select(Integration).where(Integration.name == DEMO_HIRES))
        if integ is None:
            integ = integrations.create(session, integrations.NewIntegration(
                name=DEMO_HIRES, credential=DEMO, base_url=url, connector=integrations.HIRES,
                email_format="{first}.{last}@example.com", webhook_secret=DEMO_WEBHOOK,
            ))  # fmt: skip
        integ.base_url = url
        integrations.apply_smart_mapping(session, integ, None)
        integrations.launch(integ)
    posting = sim.add_posting(text="Backend Engineer", categories=DEMO_POSTING)
    manager = next((u["id"] for u in sim.users if u["deactivatedAt"] is None), None)
    click.echo(f"integration {DEMO_HIRES!r} (new hires from Lever) smart-mapped and launched")
    return DemoHires(token, posting["id"], manager)


def _hire(sim: LeverSimulator, hires: DemoHires, name: str, days: int) -> str:
    """A candidate applies, signs an offer starting in `days` days, and is hired."""
    opportunity = str(sim.add_candidate(name, posting_id=hires.posting_id)["id"])
    start = utcnow().date() + timedelta(days=days)
    sim.add_offer(opportunity, start_date=start, direct_manager=hires.manager_id)
    sim.hire(opportunity)
    return opportunity


def _hire_line(session: Session, person: Person) -> str:
    """A pre-start person in one line: name, work email, start date, where, manager."""
    manager = session.get(Person, person.manager_id) if person.manager_id else None
    return (
        f"{person.full_name}, {person.status} as {person.email}, starting "
        f"{person.start_date}, {person.department}, {person.location}, manager "
        f"{manager.email if manager else '-'}"
    )


def _webhook_later(sim: LeverSimulator, port: int, hires: DemoHires) -> None:
    """Once the web app is up, hire one more candidate: Lever's signed webhook brings them (the
    simulator retries until the app answers)."""
    sim.set_webhook(
        f"http://127.0.0.1:{port}/hooks/lever/{DEMO_HIRES}", signature_token=hires.signature_token
    )
    later = threading.Timer(3.0, _hire, args=(sim, hires, "Grace Hopper", 21))
    later.daemon = True
    later.start()
    click.echo(
        f"in a few seconds Grace Hopper is hired in Lever: the signed webhook brings her in "
        f"(Integrations › {DEMO_HIRES} › Hires & webhook)"
    )


def _free_port() -> int:
    """A loopback port free now, so the webhook URL is known before the web app listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
