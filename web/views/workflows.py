"""`/workflows` and `/approvals`: the canvas editor, runs and the approval queue."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.security import requires

bp = Blueprint("workflows", __name__)


@bp.get("/workflows")
@requires("author")
def index() -> str:
    """Workflows with their state."""
    return render_template("placeholder.html", title="Workflows")


@bp.get("/approvals")
@requires("author")
def approvals() -> str:
    """Pending approvals."""
    return render_template("placeholder.html", title="Approvals")
