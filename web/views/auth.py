"""`/login` and `/logout`: sign-in with a name and password, throttled per name."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inventory.timeutil import utcnow
from web.accounts import authenticate
from web.errors import AuthError
from web.http import db, keep_despite_refusal
from web.security import current_account, public, sign_in, sign_out

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    parts = urlsplit(target)
    return target if not parts.netloc and not parts.scheme else url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | tuple[str, int] | str:
    """The sign-in form; a wrong name or password says so without saying which."""
    next_url = request.args.get("next")
    if request.method == "GET":
        if current_account() is not None:
            return redirect(_safe_next(next_url))
        return render_template("auth/login.html", next=next_url, name="", error=None)
    name = request.form.get("name", "")
    try:
        account = authenticate(db(), name, request.form.get("password", ""), now=utcnow())
    except AuthError as exc:
        keep_despite_refusal()  # the failure counts towards the throttle
        page = render_template("auth/login.html", next=next_url, name=name, error=str(exc))
        return page, exc.http_status
    sign_in(account)
    return redirect(_safe_next(next_url))


@bp.post("/logout")
@public
def logout() -> Response:
    """Sign out and go back to the sign-in page."""
    sign_out()
    return redirect(url_for("auth.login"))
