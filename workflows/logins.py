"""Last activity from a file: `invsync saas-users import --app Lever FILE.csv`.

Lever exposes last logins only through an undocumented field and the paid audit-events add-on;
an admin can also export activity and import it here, so workflow criteria such as
``last_login_at older_than_days 365`` have data. Columns: ``email`` (required), ``role`` and
``last_activity`` (ISO-8601 date or time, UTC when no offset is given, or Lever's milliseconds).

Each row updates the SaaS user of the app with that address (case-insensitive): its role when
given, and its last login, which only ever moves forward (an older export never hides a newer
login). A bad row is a per-row error naming its line; the other rows are imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.errors import ConfigError, NotFoundError
from inventory.models import SaasApp, SaasUser
from inventory.records import update_saas_users
from inventory.timeutil import from_ms
from inventory.upsert import email_key

__all__ = ["COLUMNS", "ImportResult", "RowError", "import_activity", "parse_activity"]

COLUMNS = ("email", "role", "last_activity")
CHUNK = 500
MAX_MS = 253_402_300_799_999


@dataclass(frozen=True)
class RowError:
    """One row that was not imported, and why."""

    line: int
    email: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one per-row error."""
        return {"line": self.line, "email": self.email, "message": self.message}


@dataclass
class ImportResult:
    """What an import did: the contract of `invsync saas-users import --format json`."""

    app: str
    rows: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape."""
        return {
            "app": self.app, "rows": self.rows, "updated": self.updated,
            "unchanged": self.unchanged, "errors": len(self.errors),
            "error_rows": [e.to_dict() for e in self.errors],
        }  # fmt: skip


@dataclass(frozen=True)
class _Row:
    """A parsed row: its line, address, role and last activity."""

    line: int
    email: str
    role: str | None
    last_activity: datetime | None


def import_activity(
    session: Session, app_name: str, lines: Iterable[str], now: datetime
) -> ImportResult:
    """Apply a CSV of email, role and last activity to the app's SaaS users; never commits."""
    app = session.scalar(select(SaasApp).where(SaasApp.name == app_name))
    if app is None:
        raise NotFoundError(f"no SaaS app named {app_name!r}: sync its integration first")
    result = ImportResult(app.name)
    rows = list(_parse(csv.DictReader(_without_bom(lines)), result))
    for start in range(0, len(rows), CHUNK):
        _apply(session, app.id, rows[start : start + CHUNK], result, now)
    session.flush()
    result.errors.sort(key=lambda error: error.line)
    return result


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """The lines, with a spreadsheet's byte-order mark dropped from the first."""
    for i, line in enumerate(lines):
        yield line.removeprefix("\ufeff") if i == 0 else line


def _parse(reader: csv.DictReader[str], result: ImportResult) -> Iterator[_Row]:
    """Rows that parse; the others become per-row errors."""
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "email" not in header:
        raise ConfigError(f"the file has no email column (columns: {', '.join(COLUMNS)})")
    reader.fieldnames = header
    for raw in reader:
        result.rows += 1
        try:
            yield _row(reader.line_num, raw)
        except ValueError as exc:
            result.errors.append(RowError(reader.line_num, _text(raw.get("email")), str(exc)))


def _row(line: int, raw: dict[str, Any]) -> _Row:
    """One row's values; ValueError names what is wrong."""
    email = _text(raw.get("email"))
    if email is None or "@" not in email:
        raise ValueError(f"no usable email (got {raw.get('email')!r})")
    activity = _text(raw.get("last_activity"))
    return _Row(line, email, _text(raw.get("role")), parse_activity(activity) if activity else None)


def _text(value: Any) -> str | None:
    """A cell's stripped text, None when empty or absent."""
    return value.strip() or None if isinstance(value, str) else None


def parse_activity(text: str) -> datetime:
    """An ISO-8601 date or time (UTC when no offset), or milliseconds since the epoch."""
    if text.isdigit() and int(text) <= MAX_MS:
        return from_ms(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"last_activity {text!r} is not a date: use ISO-8601 such as 2024-05-01 or "
            "2024-05-01T09:30:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _apply(
    session: Session, app_id: int, rows: Sequence[_Row], result: ImportResult, now: datetime
) -> None:
    """Apply a chunk of rows to the SaaS users with their addresses: one query reads them, one
    logged bulk update changes them."""
    keys = {email_key(row.email) for row in rows}
    found: dict[str | None, list[dict[str, Any]]] = {}
    cols = select(SaasUser.id, SaasUser.email_key, SaasUser.role, SaasUser.last_login_at)
    stmt = cols.where(SaasUser.app_id == app_id, SaasUser.email_key.in_(keys))
    for user in session.execute(stmt).mappings():
        found.setdefault(user["email_key"], []).append(dict(user))
    changes: list[dict[str, Any]] = []
    for row in rows:
        users = found.get(email_key(row.email), [])
        if len(users) != 1:
            result.errors.append(
                RowError(row.line, row.email, _match_problem(len(users), result.app))
            )
        elif change := _update(users[0], row):
            users[0].update(change)
            changes.append({"id": users[0]["id"], **change})
            result.updated += 1
        else:
            result.unchanged += 1
    update_saas_users(session, changes, now)


def _match_problem(count: int, app: str) -> str:
    """Why a row matched no single SaaS user."""
    if count == 0:
        return f"no {app} SaaS user has this email"
    return f"{count} {app} SaaS users have this email: set their last activity by hand"


def _update(user: dict[str, Any], row: _Row) -> dict[str, Any]:
    """The row's changes to a SaaS user: its role, and its last login moved forward."""
    change: dict[str, Any] = {}
    if row.role is not None and user["role"] != row.role:
        change["role"] = row.role
    moment, last = row.last_activity, user["last_login_at"]
    if moment is not None and (last is None or moment > last):
        change["last_login_at"] = moment
    return change
