"""`/admin/accounts` and `/admin/tokens`: accounts, roles and API tokens (admins only)."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.security import requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/accounts")
@requires("admin")
def accounts() -> str:
    """Accounts and their roles."""
    return render_template("placeholder.html", title="Accounts")
