"""`/integrations`: create, map, schedule, launch and run integrations; run history."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.security import requires

bp = Blueprint("integrations", __name__)


@bp.get("/integrations")
@requires("admin")
def index() -> str:
    """Integrations with their state and schedule."""
    return render_template("placeholder.html", title="Integrations")
