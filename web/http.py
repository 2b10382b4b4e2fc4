"""Per-request helpers the views share: the request's database session and the instance settings."""

from __future__ import annotations

from flask import g
from sqlalchemy.orm import Session

from inventory.settings import Settings
from web.appstate import app_state

__all__ = ["close_session", "db", "instance_settings"]


def db() -> Session:
    """This request's session, opened on first use and closed at teardown; views commit it."""
    if "db" not in g:
        g.db = app_state().sessions()
    return g.db


def close_session(_exc: BaseException | None) -> None:
    """Close the request's session, if one was opened (anything uncommitted rolls back)."""
    session = g.pop("db", None)
    if session is not None:
        session.close()


def instance_settings() -> Settings:
    """The settings the app was built with."""
    return app_state().settings
