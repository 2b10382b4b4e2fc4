"""How errors reach a browser or an API client: a status, one clear line, never internals.

Known errors carry a message written for users and the HTTP status their class declares
(`http_status`, beside `exit_code`, in each package's errors module); anything else is logged
with its traceback on the server and shown as a bare "internal error", so nothing internal or
secret leaks.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from inventory.errors import InvsyncError
from web.api.envelope import error_response

__all__ = ["init_app", "status_of"]

log = logging.getLogger(__name__)


def status_of(exc: InvsyncError) -> int:
    """The HTTP status of an invsync error: the one its class declares in its errors module."""
    return exc.http_status


def init_app(app: Flask) -> None:
    """Register the handlers for invsync errors, HTTP errors and anything unexpected."""
    app.register_error_handler(InvsyncError, _invsync_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _respond(status: int, message: str, details: object = None) -> Response | tuple[str, int]:
    """The error as the API envelope or as a page, depending on where the request went."""
    if request.path.startswith(("/api/", "/hooks/")):
        return error_response(status, message, details)
    return render_template("error.html", status=status, message=message), status


def _invsync_error(exc: InvsyncError) -> Response | tuple[str, int]:
    """A known error: its own one-line message."""
    details = getattr(exc, "problems", None)
    return _respond(status_of(exc), " ".join(str(exc).split()), details)


def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
    """404, 405 and friends, in the same shape as every other error."""
    status = exc.code or 500
    return _respond(status, exc.description or exc.name)


def _unexpected(exc: Exception) -> Response | tuple[str, int]:
    """A bug: logged in full on the server, a bare line for the client."""
    log.exception("unexpected error on %s %s", request.method, request.path)
    return _respond(500, "internal error: the server log has the details")
