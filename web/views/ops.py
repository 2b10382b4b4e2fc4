"""`/healthz`, `/readyz` and `/metrics`: what a load balancer, an orchestrator and Prometheus ask.

None of them needs a signed-in account and none shows inventory data.
- `GET /healthz` (liveness): 200 `{"status": "ok"}` at once, without touching the database.
- `GET /readyz` (readiness): 200 `{"status": "ready", "checks": {...}}`, or 503
  `{"status": "unready", "checks": {...}}`. The checks are `database` (it answers), `schema` (it
  is at the migration head this invsync needs) and then the app state's `readiness_checks`; each
  says `"ok"` or one line on why not, with the database URL and any password taken out.
- `GET /metrics`: the figures of `web.metrics` in Prometheus text format 0.0.4, when
  `INVSYNC_METRICS_PUBLIC` is true or the request sends `Authorization: Bearer TOKEN` with the
  token in `INVSYNC_METRICS_TOKEN`.

How they refuse: these paths are not under `/api/`, so they do not answer in the API's error
envelope, and machines read them, so they do not answer with the HTML error page either. A
probe reads the status code, with the JSON body above as its detail; a scrape with a wrong or
missing token gets 401 and one plain-text line. With neither metrics setting, `/metrics` answers
the app's ordinary 404, as any unknown path does, so an instance that exports no metrics does not
say that it could.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Iterable
from functools import partial
from typing import Any

from flask import Blueprint, Response, abort, request
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from inventory.db import require_schema
from inventory.errors import DatabaseError, InvsyncError
from inventory.settings import Settings
from web.appstate import AppState, ReadinessCheck, app_state
from web.http import db
from web.metrics import CONTENT_TYPE, Family, collect, exposition, queue_family
from web.security import public

__all__ = ["bp"]

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}
# `scheme://user:password@` in any URL a check's message may quote.
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
TOKEN_NEEDED = "metrics need 'Authorization: Bearer TOKEN' with the token in INVSYNC_METRICS_TOKEN"


@bp.get("/healthz")
@public
def healthz() -> Response:
    """Liveness: the process answers; nothing else is asked."""
    return _json({"status": "ok"}, 200)


@bp.get("/readyz")
@public
def readyz() -> Response:
    """Readiness: every check passes, or 503 with the reason of each one that did not."""
    state = app_state()
    secrets = _secrets(state.settings)
    checks = {name: _outcome(check, secrets) for name, check in _checks(state)}
    ready = all(result == "ok" for result in checks.values())
    body = {"status": "ready" if ready else "unready", "checks": checks}
    return _json(body, 200 if ready else 503)


@bp.get("/metrics")
@public
def metrics() -> Response:
    """The instance's figures for Prometheus, to a caller the metrics settings let in."""
    state = app_state()
    refusal = _refusal(state.settings)
    if refusal is not None:
        return refusal
    body = exposition([*collect(db()), *_queue(state)])
    return Response(body, 200, content_type=CONTENT_TYPE, headers=NO_STORE)


# -- readiness -----------------------------------------------------------------------------


def _checks(state: AppState) -> tuple[tuple[str, ReadinessCheck], ...]:
    """The built-in checks first, then the ones the app state carries."""
    return (
        ("database", partial(_database_answers, state.engine)),
        ("schema", partial(require_schema, state.engine)),
        *state.readiness_checks,
    )


def _database_answers(engine: Engine) -> None:
    """Open a connection and run the smallest query there is."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        said = _first_line(getattr(exc, "orig", None) or exc)
        raise DatabaseError(f"the database does not answer: {said}") from None


def _outcome(check: ReadinessCheck, secrets: Iterable[str]) -> str:
    """ "ok", or one line on why the check failed, without a secret."""
    try:
        check()
    except Exception as exc:
        return _scrub(_reason(exc), secrets)
    return "ok"


def _reason(exc: Exception) -> str:
    """One line on what went wrong: an invsync error's own words, else the type and its first
    line."""
    line = _first_line(exc)
    if isinstance(exc, InvsyncError):
        return line or type(exc).__name__
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def _first_line(value: object) -> str:
    """The first line of an error's text, which is the one that says what went wrong."""
    said = str(value).strip()
    return said.splitlines()[0] if said else ""


def _secrets(settings: Settings) -> tuple[str, ...]:
    """What must never be shown: the database URL with its password, the password alone."""
    url = make_url(settings.db_url)
    found = [url.render_as_string(hide_password=False), url.password]
    return tuple(str(s) for s in found if s)


def _scrub(line: str, secrets: Iterable[str]) -> str:
    """The line with every known secret (longest first) and any URL's credentials as ***."""
    for secret in sorted(secrets, key=len, reverse=True):
        line = line.replace(secret, "***")
    return _URL_CREDENTIALS.sub(r"\1***@", line)


# -- metrics -------------------------------------------------------------------------------


def _refusal(settings: Settings) -> Response | None:
    """None when the caller may read the metrics; 401 for a wrong token; 404 when off."""
    if settings.metrics_public:
        return None
    if not settings.metrics_token:
        abort(404)
    if _bearer_is(settings.metrics_token):
        return None
    headers = {**NO_STORE, "WWW-Authenticate": 'Bearer realm="invsync metrics"'}
    return Response(TOKEN_NEEDED + "\n", 401, mimetype="text/plain", headers=headers)


def _bearer_is(token: str) -> bool:
    """Whether the request carries `Authorization: Bearer` with this token (constant time)."""
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(sent.strip().encode(), token.encode())


def _queue(state: AppState) -> list[Family]:
    """The queue depth family, when a queue hook is installed and answers."""
    if state.queue_depth is None:
        return []
    try:
        depths = state.queue_depth()
    except Exception as exc:
        log.warning("queue depth left out of the metrics: %s", type(exc).__name__)
        return []
    return [queue_family(depths)]


def _json(body: dict[str, Any], status: int) -> Response:
    """A JSON answer that no cache keeps, its keys in the order given (checks in run order)."""
    return Response(json.dumps(body), status, mimetype="application/json", headers=NO_STORE)
