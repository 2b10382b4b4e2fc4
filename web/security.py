"""Who may do what in the web app and API: sign-in state, roles on every view, CSRF, cookies.

Every view says the least role it needs with `@requires(role)` (or `@public`); a view that says
nothing needs admin, so a forgotten mark fails closed. Browser requests carry the signed session
cookie and, for anything that changes data, the session's CSRF token (form field `csrf_token` or
header `X-CSRF-Token`); API clients send `Authorization: Bearer TOKEN` instead, which needs no
CSRF token because browsers never send it on their own.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from inventory.models import Account
from inventory.settings import Settings
from inventory.timeutil import utcnow
from web.accounts import account_for_token, role_allows
from web.errors import AuthError, ForbiddenError
from web.http import db

__all__ = [
    "PUBLIC",
    "csrf_token",
    "current_account",
    "init_app",
    "load_secret_key",
    "public",
    "required_role",
    "requires",
    "sign_in",
    "sign_out",
    "signed",
]

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ROLE_ATTR = "invsync_required_role"
_SIGNED_ATTR = "invsync_signed"


def requires(role: str) -> Callable[[F], F]:
    """Mark a view with the least role that may use it: viewer, author or admin."""

    def mark(view: F) -> F:
        setattr(view, _ROLE_ATTR, role)
        return view

    return mark


def public(view: F) -> F:
    """Mark a view anyone may use, signed in or not (the sign-in page, static files)."""
    setattr(view, _ROLE_ATTR, PUBLIC)
    return view


def signed(view: F) -> F:
    """Mark a view that callers reach without an account or a CSRF token because the view
    checks a signature on each request itself (Lever's webhooks)."""
    setattr(view, _ROLE_ATTR, PUBLIC)
    setattr(view, _SIGNED_ATTR, True)
    return view


def required_role(view: Callable[..., Any]) -> str:
    """The role a view needs; unmarked views need admin."""
    return str(getattr(view, _ROLE_ATTR, "admin"))


def load_secret_key(settings: Settings) -> str:
    """The session-signing key: INVSYNC_SECRET_KEY, else a key file made once with mode 0600."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_file
    if not path.exists():
        _create_key_file(path)
    return path.read_text().strip()


def _create_key_file(path: Path) -> None:
    """Write a new random key readable only by its owner; a concurrent creator wins quietly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48) + "\n")


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies get the Secure flag whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure behind HTTPS (directly or, with INVSYNC_BEHIND_PROXY, via the proxy)."""
        return bool(request.is_secure or super().get_cookie_secure(app))


def init_app(app: Flask, settings: Settings) -> None:
    """Install the sign-in, role and CSRF checks and the cookie and header policy."""
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="invsync_session",
    )
    if settings.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.before_request(_guard)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["role_allows"] = role_allows


def current_account() -> Account | None:
    """The signed-in account of this request, if any."""
    return g.get("account")


def csrf_token() -> str:
    """This browser session's CSRF token, made on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def sign_in(account: Account) -> None:
    """Start a fresh session for an account (a new session defeats fixation)."""
    session.clear()
    session["account_id"] = account.id
    session["auth"] = _password_stamp(account)
    session.permanent = True
    csrf_token()


def sign_out() -> None:
    """End the browser session."""
    session.clear()


def _password_stamp(account: Account) -> str:
    """A short digest of the password hash: changing the password ends every old session."""
    return account.password_hash[-16:]


def _guard() -> Response | None:
    """Before every request: who is asking, whether their role allows it, and CSRF."""
    if request.endpoint is None:
        return None
    view = current_app.view_functions[request.endpoint]
    need = PUBLIC if request.endpoint == "static" else required_role(view)
    by_token = _load_account()
    account = current_account()
    if account is None and need != PUBLIC and _is_api():
        raise AuthError("sign in first: send 'Authorization: Bearer TOKEN'")
    if request.method in UNSAFE and not by_token and not getattr(view, _SIGNED_ATTR, False):
        _check_csrf()
    if need == PUBLIC:
        return None
    if account is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
    if not role_allows(account.role, need):
        raise ForbiddenError(f"this needs the {need} role; you are signed in as {account.role}")
    return None


def _is_api() -> bool:
    """Whether the request is for the JSON API (errors there use the JSON envelope)."""
    return request.path.startswith("/api/")


def _load_account() -> bool:
    """Put the caller's account on `g`, from a bearer token or the session; True for a token."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and _is_api():
        g.account = account_for_token(db(), header[7:].strip(), now=utcnow())
        if db().dirty:  # the token's last use is kept even when the call itself is refused
            db().commit()
        return True
    account_id = session.get("account_id")
    if account_id is not None:
        account = db().get(Account, account_id)
        if account is not None and not account.disabled and _stamp_ok(account):
            g.account = account
        else:
            session.clear()
    return False


def _stamp_ok(account: Account) -> bool:
    """The session was made with the account's current password."""
    return hmac.compare_digest(str(session.get("auth", "")), _password_stamp(account))


def _check_csrf() -> None:
    """Changes from a browser must carry this session's CSRF token."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise ForbiddenError("the form's security token is missing or stale: reload the page")


def _headers(response: Response) -> Response:
    """Headers that keep pages from being framed, sniffed or running foreign scripts."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    )
    return response
