"""The Flask app factory: per-request sessions and a plain page of People and Lever users."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.db import make_engine, make_sessionmaker, require_schema
from inventory.errors import ConfigError
from inventory.models import Person, SaasApp, SaasUser
from inventory.queries import list_people, list_saas_users
from inventory.settings import Settings
from inventory.timeutil import utcnow

PAGE_SIZE = 100


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app for one instance; nothing global happens at import time."""
    settings = settings or Settings.load()
    app = Flask(__name__)
    engine = make_engine(settings)
    require_schema(engine)
    app.extensions["invsync.engine"] = engine
    app.extensions["invsync.sessions"] = make_sessionmaker(engine)
    app.teardown_appcontext(_close_session)
    app.add_url_rule("/", "index", index)
    app.register_error_handler(ConfigError, _bad_request)
    return app


def db() -> Session:
    """This request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        from flask import current_app

        g.db = current_app.extensions["invsync.sessions"]()
    return g.db


def _close_session(_exc: BaseException | None) -> None:
    """Close the request's session, if one was opened."""
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _bad_request(exc: ConfigError) -> tuple[str, int]:
    """A user's mistake in the query string is a 400 with its one-line message."""
    return render_template("error.html", message=str(exc)), 400


def index() -> str:
    """People and Lever users, a page of each, with keyset links to the next page."""
    session = db()
    q = request.args.get("q") or None
    now = utcnow()
    people = list_people(
        session, q=q, after=request.args.get("people_after"), limit=PAGE_SIZE, now=now
    )
    lever = list_saas_users(
        session, app="Lever", q=q, after=request.args.get("users_after"), limit=PAGE_SIZE, now=now
    )
    return render_template(
        "index.html", people=people, lever=lever, q=q or "", counts=_counts(session)
    )


def _counts(session: Session) -> dict[str, Any]:
    """Totals shown above the lists."""
    lever = select(func.count()).select_from(SaasUser).join(SaasApp).where(SaasApp.name == "Lever")
    active = lever.where(SaasUser.status == "active")
    return {
        "people": session.scalar(select(func.count()).select_from(Person)),
        "lever": session.scalar(lever),
        "lever_active": session.scalar(active),
    }
