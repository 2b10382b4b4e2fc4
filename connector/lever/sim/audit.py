"""Lever's audit events add-on, as far as the connector reads it: users' sign-in events."""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

from connector.lever.sim.paging import envelope, page_limit, page_offset
from connector.lever.sim.params import Query, ms_param, multi
from connector.lever.sim.responses import ApiError, SimResponse, to_json
from connector.lever.sim.state import Account, Events, UserStore

LOGIN_EVENT = "user.authentication:succeeded"
_AUDIT_NAMESPACE = uuid.UUID("6f2b8c3e-4d1a-4e0b-9a57-3c1d2e4f5a6b")


def audit_events(account: Account, query: Query, body: bytes) -> SimResponse:
    """GET /audit_events (add-on): login events, newest first, same envelope."""
    if not account.audit_events:
        raise ApiError(403, "ForbiddenError", "Audit events add-on not enabled")
    limit, before = page_limit(query), page_offset(query)
    keep = _event_filter(query)
    keys, events = _login_events(account.store)
    end = bisect_left(keys, before) if before is not None else len(keys)
    found = _newest_first(events, end, limit, keep)
    page = found[:limit]
    last = keys[page[-1]] if page else None
    records = [to_json(events[i]) for i in page]
    return SimResponse(200, envelope(records, len(found) > limit, last))


def _newest_first(
    events: list[dict[str, Any]], end: int, limit: int, keep: Callable[[dict[str, Any]], bool]
) -> list[int]:
    """Indexes of up to limit + 1 kept events before `end`, newest first (the extra: hasNext)."""
    found: list[int] = []
    for i in range(end - 1, -1, -1):
        if keep(events[i]):
            found.append(i)
            if len(found) > limit:
                break
    return found


def _login_events(store: UserStore) -> Events:
    """One sign-in event per user at its lastLoggedInAt, oldest first (cached in the store)."""
    if store.events is None:
        events = sorted(
            (_login_event(uid, u) for uid, u in store.items()
             if type(u.get("lastLoggedInAt")) is int),
            key=lambda e: (e["createdAt"], e["id"]),
        )  # fmt: skip
        store.events = ([(e["createdAt"], e["id"]) for e in events], events)
    return store.events


def _login_event(uid: str, user: Mapping[str, Any]) -> dict[str, Any]:
    """An audit event for a user's last sign-in."""
    ms = user["lastLoggedInAt"]
    actor = {"id": uid, "type": "user", "name": user.get("name"), "email": user.get("email")}
    return {
        "id": str(uuid.uuid5(_AUDIT_NAMESPACE, f"{uid}:{ms}")),
        "type": LOGIN_EVENT,
        "createdAt": ms,
        "actor": actor,
        "target": {"id": uid, "type": "user"},
        "metadata": {},
    }


def _event_filter(query: Query) -> Callable[[dict[str, Any]], bool]:
    """The type / user / target / time-window filter of an audit events request."""
    types, users = set(multi(query, "type")), set(multi(query, "user_id"))
    target_types, target_ids = set(multi(query, "target_type")), set(multi(query, "target_id"))
    start, end = ms_param(query, "created_at_start"), ms_param(query, "created_at_end")

    def keep(event: dict[str, Any]) -> bool:
        """Whether an event passes every given filter."""
        checks = (
            not types or event["type"] in types,
            not users or event["actor"]["id"] in users,
            not target_types or event["target"]["type"] in target_types,
            not target_ids or event["target"]["id"] in target_ids,
            start is None or event["createdAt"] >= start,
            end is None or event["createdAt"] <= end,
        )
        return all(checks)

    return keep
