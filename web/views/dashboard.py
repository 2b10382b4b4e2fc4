"""`/`: the dashboard, counts, the upcoming starts of pre-start people, and four charts of the
Lever users and the sync runs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from inventory import stats
from inventory.timeutil import utcnow
from web.http import db
from web.security import requires

bp = Blueprint("dashboard", __name__)

NO_ROLE = "(no role)"
OUTCOME_LABELS = {
    "succeeded": "Succeeded",
    "completed_with_errors": "With errors",
    "failed": "Failed",
    "other": "Other (running, held, cancelled)",
}


@bp.get("/")
@requires("viewer")
def index() -> str:
    """Counts, upcoming starts and charts of the inventory and its runs."""
    board = stats.dashboard(db(), utcnow())
    return render_template(
        "dashboard/index.html",
        board=board,
        charts=charts(board),
        no_role=NO_ROLE,
        outcome_labels=OUTCOME_LABELS,
        upcoming_days=stats.UPCOMING_DAYS,
    )


def charts(board: stats.Dashboard) -> dict[str, dict[str, Any]]:
    """Each chart's data, keyed by the id of its JSON block on the page."""
    return {
        "chart-roles": _roles(board),
        "chart-status": _status(board),
        "chart-runs": _runs(board),
        "chart-idle": _idle(board),
    }


def _chart(kind: str, labels: list[str], *datasets: dict[str, Any]) -> dict[str, Any]:
    """A chart as dashboard.js draws it: a kind, the labels and one or more data series."""
    return {"kind": kind, "labels": labels, "datasets": list(datasets)}


def _series(key: str, label: str, data: list[int]) -> dict[str, Any]:
    """One data series; `key` picks its colour."""
    return {"key": key, "label": label, "data": data}


def _roles(board: stats.Dashboard) -> dict[str, Any]:
    """Lever users by role, as a bar chart."""
    labels = [role if role is not None else NO_ROLE for role, _ in board.by_role]
    data = [count for _, count in board.by_role]
    return _chart("bar", labels, _series("users", "Lever users", data))


def _status(board: stats.Dashboard) -> dict[str, Any]:
    """Active against deactivated (and any other status), as a doughnut."""
    users = _series("status", "Lever users", list(board.by_status.values()))
    return _chart("doughnut", list(board.by_status), users)


def _runs(board: stats.Dashboard) -> dict[str, Any]:
    """Sync runs per UTC day, one stacked series per outcome."""
    labels = [day.day.isoformat() for day in board.runs]
    series = [
        _series(outcome, label, [day.outcomes[outcome] for day in board.runs])
        for outcome, label in OUTCOME_LABELS.items()
    ]
    return _chart("stacked", labels, *series)


def _idle(board: stats.Dashboard) -> dict[str, Any]:
    """Active users by time since their last sign-in, as a bar chart."""
    labels = [f"{days}+ days" for days in board.idle.at_least] + ["never"]
    data = [*board.idle.at_least.values(), board.idle.never]
    return _chart("bar", labels, _series("idle", "Active Lever users", data))
