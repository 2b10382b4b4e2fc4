"""`/credentials`: the vault, write-only."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.security import requires

bp = Blueprint("credentials", __name__)


@bp.get("/credentials")
@requires("admin")
def index() -> str:
    """Stored credentials with their masked hints."""
    return render_template("placeholder.html", title="Credentials")
