"""`/people` and `/saas/<app>/users`: the inventory lists and detail pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.security import requires

bp = Blueprint("lists", __name__)


@bp.get("/people")
@requires("viewer")
def people() -> str:
    """The People list."""
    return render_template("placeholder.html", title="People")


@bp.get("/saas/<app>/users")
@requires("viewer")
def saas_users(app: str) -> str:
    """The users of one SaaS app (Lever)."""
    return render_template("placeholder.html", title=f"{app} users")
