"""`/reports`: the lists as CSV and JSON downloads, streamed so memory stays flat.

Each report is a stream of JSON-shaped records from the same services the command line uses,
and the columns its CSV has. The JSON download is an array written an item at a time; the CSV
download has a header row and flattens nested values (custom fields, counts, before/after).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import ledger
from inventory.changelog import list_changes
from inventory.models import CustomField
from inventory.queries import iter_people, iter_saas_users
from inventory.timeutil import utcnow
from web import csvout
from web.appstate import app_state
from web.commands.lists import PERSON_COLUMNS, SAAS_COLUMNS
from web.output import flatten
from web.security import requires

bp = Blueprint("reports", __name__)

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
_COUNTS = ("created", "updated", "unchanged", "skipped")
RUN_COLUMNS = [
    "run_id", "integration", "trigger", "status", "started_at", "finished_at", "fetched",
    "errors", "skipped", *(f"{kind}.{n}" for kind in ("people", "saas_users") for n in _COUNTS),
    "message",
]  # fmt: skip
CHANGE_COLUMNS = [
    "id", "at", "actor_kind", "actor_name", "run_id", "action", "object_type", "object_id",
    "object_key", "before", "after",
]  # fmt: skip


@dataclass(frozen=True)
class Report:
    """One download: its title, file name, records and CSV columns (with any CSV reshaping)."""

    slug: str
    title: str
    description: str
    rows: Callable[[Session], Iterator[dict[str, Any]]]
    columns: Callable[[Session], list[str]]
    csv_row: Callable[[dict[str, Any]], dict[str, Any]] = flatten


def _people(session: Session) -> Iterator[dict[str, Any]]:
    """Every person, by email."""
    return iter_people(session, now=utcnow())


def _people_columns(session: Session) -> list[str]:
    """The People columns and one per custom field."""
    custom = session.scalars(select(CustomField.name).order_by(CustomField.name))
    return PERSON_COLUMNS + [f"custom.{name}" for name in custom]


def _lever_users(session: Session) -> Iterator[dict[str, Any]]:
    """Every Lever user, by email."""
    return iter_saas_users(session, app="Lever", now=utcnow())


def _runs(session: Session) -> Iterator[dict[str, Any]]:
    """Every sync run, newest first."""
    return (ledger.run_dict(run) for run in ledger.iter_runs(session))


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    """A run with its people and SaaS-user counts as `people.created`-style columns."""
    flat = {k: v for k, v in run.items() if k not in ("people", "saas_users")}
    for kind in ("people", "saas_users"):
        flat |= {f"{kind}.{n}": run[kind].get(n) for n in _COUNTS}
    return flat


def _changes(session: Session) -> Iterator[dict[str, Any]]:
    """Every change-log row, newest first, in the shape of `invsync changes list`."""
    return list_changes(session)


def _change_row(change: dict[str, Any]) -> dict[str, Any]:
    """A change with actor and object split into columns and before/after as JSON text."""
    actor, obj = change["actor"], change["object"]
    return {
        "id": change["id"], "at": change["at"], "actor_kind": actor["kind"],
        "actor_name": actor["name"], "run_id": change["run_id"], "action": change["action"],
        "object_type": obj["type"], "object_id": obj["id"], "object_key": obj["key"],
        "before": _json_text(change["before"]), "after": _json_text(change["after"]),
    }  # fmt: skip


def _json_text(value: Any) -> str | None:
    """A JSON value as compact text in one CSV cell (None stays an empty cell)."""
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


REPORTS = {
    report.slug: report
    for report in (
        Report("people", "People", "Every People record, with its custom fields.",
               _people, _people_columns),
        Report("lever-users", "Lever users", "Every Lever account: role, status, sign-ins.",
               _lever_users, lambda _: list(SAAS_COLUMNS)),
        Report("sync-runs", "Sync runs", "Every sync run, newest first, with its counts.",
               _runs, lambda _: list(RUN_COLUMNS), _run_row),
        Report("changes", "Change log", "Every change to people and SaaS users, newest first.",
               _changes, lambda _: list(CHANGE_COLUMNS), _change_row),
    )
}  # fmt: skip


@bp.get("/reports")
@requires("viewer")
def index() -> str:
    """The downloads on offer."""
    links = [
        (report, {fmt: url_for(f"reports.{_endpoint(report.slug, fmt)}") for fmt in FORMATS})
        for report in REPORTS.values()
    ]
    return render_template("reports/index.html", reports=links)


def download(report: str, fmt: str) -> Response:
    """One report as a CSV or JSON file, streamed."""
    chosen = REPORTS[report]
    body = _stream(app_state().sessions, chosen, fmt)
    response = Response(body, content_type=FORMATS[fmt])
    response.headers["Content-Disposition"] = f"attachment; filename={chosen.slug}.{fmt}"
    return response


def _endpoint(slug: str, fmt: str) -> str:
    """The endpoint name of one download, such as `reports.lever_users_csv`."""
    return f"{slug.replace('-', '_')}_{fmt}"


def _download_view(slug: str, fmt: str) -> Callable[[], Response]:
    """The view of one download: a plain URL without arguments, open to viewers."""

    @requires("viewer")
    def view() -> Response:
        """One report in one format."""
        return download(slug, fmt)

    return view


for _slug in REPORTS:
    for _fmt in FORMATS:
        bp.add_url_rule(
            f"/reports/{_slug}.{_fmt}", _endpoint(_slug, _fmt), _download_view(_slug, _fmt)
        )


def _stream(factory: sessionmaker[Session], report: Report, fmt: str) -> Iterator[str]:
    """The file's text, read in a session of its own that lives exactly as long as the stream.

    The request's session closes when the view returns, before the body is sent, so a stream
    cannot use it; this one closes when the last piece is sent or the client goes away.
    """
    with factory() as session:
        rows = report.rows(session)
        try:
            yield from _csv(report, rows, session) if fmt == "csv" else _json(rows)
        finally:
            _close(rows)  # a client that went away leaves the rows unread: release their cursor


def _close(rows: Iterator[dict[str, Any]]) -> None:
    """Close a record stream that can be closed (generators can)."""
    close = getattr(rows, "close", None)
    if close is not None:
        close()


def _json(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array, an item at a time, in the layout of `--format json`."""
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + "\n  " + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


def _csv(report: Report, rows: Iterator[dict[str, Any]], session: Session) -> Iterator[str]:
    """CSV with a header row, handed out a few hundred rows at a time."""
    columns = report.columns(session)
    flat = (report.csv_row(row) for row in rows)
    return csvout.lines(columns, ([values.get(c) for c in columns] for values in flat))
