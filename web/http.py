"""Per-request helpers the views share: the request's database session, its transaction and the
instance settings.

One transaction per request, settled once when the answer is ready (the rule of pyramid_tm's
commit veto): a change request (POST, PUT, PATCH, DELETE) that answers below 400 commits its
work; a refusal (4xx), an error (5xx) or an exception rolls it back, so a view never commits by
hand and a refused form leaves nothing half-written. A read (GET, HEAD) never commits: its
session closes, and rolls back, at teardown.
Commands get the same rule from `AppContext.transaction()`.
"""

from __future__ import annotations

from flask import Flask, g, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from inventory.settings import Settings
from web.appstate import app_state

__all__ = ["close_session", "db", "init_app", "instance_settings", "keep_despite_refusal"]

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def db() -> Session:
    """This request's session, opened on first use; its work is settled when the answer is."""
    if "db" not in g:
        g.db = app_state().sessions()
    return g.db


def keep_despite_refusal() -> None:
    """Commit this request's work although it answers with a refusal (a failed sign-in still
    counts towards the throttle)."""
    g.keep_refused = True


def settle(response: Response) -> Response:
    """Commit the request's work if it asked for a change and succeeded, else roll it back."""
    session: Session | None = g.get("db")
    if session is None or request.method not in _CHANGES:
        return response  # a read leaves its session to close (and roll back) at teardown
    if response.status_code < 400 or g.get("keep_refused", False):
        session.commit()
    else:
        session.rollback()
    return response


def close_session(_exc: BaseException | None) -> None:
    """Close the request's session, if one was opened (anything unsettled rolls back)."""
    session = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Settle each request's transaction with its answer and close its session afterwards."""
    app.after_request(settle)
    app.teardown_appcontext(close_session)


def instance_settings() -> Settings:
    """The settings the app was built with."""
    return app_state().settings
