"""`/reports`: the lists as CSV and JSON downloads."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.security import requires

bp = Blueprint("reports", __name__)


@bp.get("/reports")
@requires("viewer")
def index() -> str:
    """The downloads on offer."""
    return render_template("placeholder.html", title="Reports")
