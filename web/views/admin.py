"""`/admin/accounts` and `/admin/tokens`: accounts, roles and API tokens (admins only).

Every change is a POST with the session's CSRF token, then a redirect back to the list with a
flash message. A new API token is the exception: it is shown once, in the answer to the POST
itself, so it never travels in the session cookie and never appears on any later page.
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inventory.models import Account
from inventory.timeutil import utcnow
from web import accounts as service
from web.errors import AccountError
from web.http import db
from web.security import current_account, requires, sign_in

bp = Blueprint("admin", __name__, url_prefix="/admin")

Page = str | tuple[str, int] | Response


# --- accounts ---------------------------------------------------------------------------------


@bp.get("/accounts")
@requires("admin")
def accounts() -> Page:
    """Accounts and their roles, with the forms that change them."""
    return _accounts_page()


def _accounts_page(error: str | None = None, status: int = 200, **form: str) -> Page:
    """The accounts page, with a refusal and the refused form's fields when there is one."""
    page = render_template(
        "admin/accounts.html",
        accounts=service.list_accounts(db()),
        roles=service.ROLES,
        min_password=service.MIN_PASSWORD,
        error=error,
        form=form,
    )
    return page, status


def _passwords() -> str:
    """The new password from a form that asks for it twice."""
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        raise AccountError("the two passwords differ: type the same password twice")
    return password


def _done(message: str, endpoint: str = "admin.accounts") -> Response:
    """Say what happened and go back to the accounts list (the request commits the change)."""
    flash(message, "success")
    return redirect(url_for(endpoint))


@bp.post("/accounts")
@requires("admin")
def add_account() -> Page:
    """Create an account with a role and a password typed twice."""
    name, role = request.form.get("name", ""), request.form.get("role", "viewer")
    try:
        account = service.add_account(db(), name, _passwords(), role)
    except AccountError as exc:
        return _accounts_page(str(exc), 400, name=name, role=role)
    return _done(f"added {account.role} {account.name!r}")


@bp.post("/accounts/<path:name>/role")
@requires("admin")
def set_role(name: str) -> Page:
    """Change an account's role; the last admin cannot be demoted."""
    try:
        account = service.set_role(db(), name, request.form.get("role", ""))
    except AccountError as exc:
        return _accounts_page(str(exc), 400)
    # An admin who gave up their own admin role can no longer see the accounts page.
    demoted_myself = _is_me(account) and account.role != "admin"
    target = "dashboard.index" if demoted_myself else "admin.accounts"
    return _done(f"{account.name!r} is now {account.role}", target)


@bp.post("/accounts/<path:name>/password")
@requires("admin")
def reset_password(name: str) -> Page:
    """Set a new password; the account's open browser sessions end (but not this one)."""
    try:
        account = service.set_password(db(), name, _passwords())
    except AccountError as exc:
        return _accounts_page(str(exc), 400)
    if _is_me(account):
        sign_in(account)  # the old session ends with the old password; start a fresh one
    return _done(f"password of {account.name!r} changed")


def _is_me(account: Account) -> bool:
    """Whether the account is the signed-in admin's own."""
    me = current_account()
    return me is not None and me.id == account.id


@bp.post("/accounts/<path:name>/disable")
@requires("admin")
def disable(name: str) -> Page:
    """Disable an account: it cannot sign in and its tokens stop working; never the last admin."""
    try:
        account = service.set_disabled(db(), name, True)
    except AccountError as exc:
        return _accounts_page(str(exc), 400)
    return _done(f"{account.name!r} disabled")


@bp.post("/accounts/<path:name>/enable")
@requires("admin")
def enable(name: str) -> Page:
    """Enable a disabled account again."""
    account = service.set_disabled(db(), name, False)
    return _done(f"{account.name!r} enabled")


# --- API tokens -------------------------------------------------------------------------------


@bp.get("/tokens")
@requires("admin")
def tokens() -> Page:
    """API tokens by label, owner and hint (never the token), with the create form."""
    return _tokens_page()


def _tokens_page(new_token: str | None = None, notice: str | None = None) -> Response:
    """The tokens page; a token just made is shown once and the page is not cached."""
    page = render_template(
        "admin/tokens.html",
        tokens=service.list_tokens(db()),
        owners=[a for a in service.list_accounts(db()) if not a.disabled],
        new_token=new_token,
        notice=notice,
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens")
@requires("admin")
def create_token() -> Page:
    """Make a token for an account and show it once, in this answer only."""
    owner, label = request.form.get("account", ""), request.form.get("label") or None
    row, token = service.create_token(db(), owner, label)
    notice = f"token {row.name!r} ({row.hint}) made for {row.account.name!r}"
    return _tokens_page(new_token=token, notice=notice)


@bp.post("/tokens/<int:token_id>/revoke")
@requires("admin")
def revoke_token(token_id: int) -> Response:
    """Revoke a token; it stops working at once."""
    row = service.revoke_token(db(), token_id, now=utcnow())
    flash(f"token {row.name!r} ({row.hint}) revoked", "success")
    return redirect(url_for("admin.tokens"))
