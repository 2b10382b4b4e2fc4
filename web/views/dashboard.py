"""`/`: the dashboard."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.security import requires

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@requires("viewer")
def index() -> str:
    """Counts and charts of the inventory and its runs."""
    return render_template("placeholder.html", title="Dashboard")
