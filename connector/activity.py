"""Login activity from Lever's Audit Events add-on: the last sign-in of each SaaS user.

Lever's user object may carry an undocumented `lastLoggedInAt`; the paid Audit Events add-on is the
only documented source. Sign-in events since the integration's cursor (or the last 90 days) are
read newest first, the latest per Lever user id is kept, and SaaS users get it as `last_login_at`
when it is newer than what they hold. Everything is read before anything changes, so a failure
part-way changes nothing and leaves the cursor where it was. Without the add-on Lever answers 403:
that is reported, never raised, and the sync still succeeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import ConnectorError, LeverPermissionError
from connector.lever.client import LeverClient
from connector.lever.schemas import MAX_MS
from connector.reconcile import CHUNK, lever_app_id
from inventory.models import Integration, SaasUser
from inventory.records import update_saas_users
from inventory.timeutil import from_ms, to_ms

__all__ = ["LOGIN_EVENT", "NOT_AVAILABLE", "ActivityOutcome", "read_login_activity"]

SOURCE = "audit-events"
LOGIN_EVENT = "user.authentication:succeeded"
LOOKBACK = timedelta(days=90)
NOT_AVAILABLE = (
    "Lever Audit Events add-on not enabled for this key: last logins come from lastLoggedInAt only"
)


@dataclass
class ActivityOutcome:
    """What reading login activity did."""

    status: str  # "done" | "not_available" | "skipped"
    updated: int = 0
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape."""
        return asdict(self)


def read_login_activity(
    session: Session, integ: Integration, client: LeverClient, *, now: datetime
) -> ActivityOutcome:
    """Set `last_login_at` of the integration's SaaS users from sign-in events; move the cursor."""
    reason = _skip_reason(integ)
    if reason is not None:
        return ActivityOutcome("skipped", message=reason)
    since = integ.login_cursor_at or now - LOOKBACK
    try:
        latest = latest_logins(client, since)
    except LeverPermissionError:
        return ActivityOutcome("not_available", message=NOT_AVAILABLE)
    except ConnectorError as exc:
        return ActivityOutcome("skipped", message=f"login activity not read, no change: {exc}")
    updated = _apply(session, integ, latest, now)
    _advance(integ, latest.values())
    return ActivityOutcome("done", updated)


def _skip_reason(integ: Integration) -> str | None:
    """Why login activity is not read for this integration, or None when it is."""
    if integ.login_activity != SOURCE:
        return "login activity is not read for this integration (--login-activity audit-events)"
    if not integ.saas_users:
        return "login activity needs SaaS users, which this integration does not keep"
    return None


def latest_logins(client: LeverClient, since: datetime) -> dict[str, datetime]:
    """The latest sign-in per Lever user id, from events at or after `since`."""
    latest: dict[str, datetime] = {}
    events = client.iter_audit_events(type=LOGIN_EVENT, created_at_start=to_ms(since))
    for event in events:
        login = _login_of(event)
        if login is None:
            continue
        uid, when = login
        if uid not in latest or when > latest[uid]:
            latest[uid] = when
    return latest


def _login_of(event: Any) -> tuple[str, datetime] | None:
    """(Lever user id, time) of a sign-in event, or None for anything else or malformed."""
    if not isinstance(event, dict) or event.get("type") != LOGIN_EVENT:
        return None
    ms, uid = event.get("createdAt"), _user_id(event)
    if type(ms) is not int or not 0 <= ms <= MAX_MS or uid is None:
        return None
    return uid, from_ms(ms)


def _user_id(event: dict[str, Any]) -> str | None:
    """Who signed in: the acting user, else a user target."""
    for part in ("actor", "target"):
        who = event.get(part)
        if isinstance(who, dict) and who.get("type", "user") == "user":
            uid = who.get("id")
            if isinstance(uid, str) and uid.strip():
                return uid
    return None


def _apply(session: Session, integ: Integration, latest: dict[str, datetime], now: datetime) -> int:
    """Give each SaaS user its newer sign-in time (one logged bulk update by primary key); how
    many."""
    app_id = lever_app_id(session)
    if app_id is None or not latest:
        return 0
    changes = [
        {"id": row_id, "last_login_at": latest[ext_id]}
        for row_id, ext_id, stored in _stored(session, integ, app_id, list(latest))
        if stored is None or stored < latest[ext_id]
    ]
    return update_saas_users(session, changes, now)


def _stored(
    session: Session, integ: Integration, app_id: int, ext_ids: list[str]
) -> Iterable[tuple[int, str, datetime | None]]:
    """(id, external id, last_login_at) of the integration's SaaS users with these Lever ids."""
    cols = select(SaasUser.id, SaasUser.external_id, SaasUser.last_login_at)
    mine = (SaasUser.integration_id == integ.id) & (SaasUser.app_id == app_id)
    for start in range(0, len(ext_ids), CHUNK):
        chunk = ext_ids[start : start + CHUNK]
        rows = session.execute(cols.where(mine & SaasUser.external_id.in_(chunk)))
        yield from ((r[0], r[1], r[2]) for r in rows)


def _advance(integ: Integration, seen: Iterable[datetime]) -> None:
    """Move the cursor to the newest event read; the next read starts there (inclusive)."""
    newest = max(seen, default=None)
    if newest is not None and (integ.login_cursor_at is None or newest > integ.login_cursor_at):
        integ.login_cursor_at = newest
