"""Lever's users endpoints: list, get, create, replace, deactivate and reactivate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connector.lever.sim.data import blank_user, username_for
from connector.lever.sim.paging import envelope, page_limit, page_offset
from connector.lever.sim.params import (
    Query,
    flag,
    json_object,
    multi,
    optional_text,
    project,
    required_text,
)
from connector.lever.sim.responses import SimResponse, bad_request, to_json
from connector.lever.sim.state import Account, User, UserStore, canonical_email, is_active

WRITABLE_FIELDS = ("name", "email", "accessRole", "jobTitle", "managerId", "externalDirectoryId")
_EMAIL_TAKEN = "A user with this email already exists"


def list_users(account: Account, query: Query, body: bytes) -> SimResponse:
    """GET /users: a stable page in (createdAt, id) order, active only unless asked."""
    store = account.store
    include_deactivated = flag(query, "includeDeactivated")
    limit, after = page_limit(query), page_offset(query)
    emails = [e for e in map(canonical_email, multi(query, "email")) if e]
    keys = store.listing(include_deactivated)
    if emails:
        keys = store.keys_for_emails(emails, include_deactivated)
    found = store.scan(keys, after, limit, _user_filter(query))
    page = found[:limit]
    fields = multi(query, "include")
    records = [store.encoded(uid, fields) for _, uid in page]
    return SimResponse(200, envelope(records, len(found) > limit, page[-1] if page else None))


def _user_filter(query: Query) -> Callable[[User], bool] | None:
    """The accessRole / external_directory_id filter of a list request, if any."""
    roles = {r.lower() for r in multi(query, "accessRole", "accessRole[]")}
    directory_ids = set(multi(query, "external_directory_id"))
    if not roles and not directory_ids:
        return None

    def keep(user: User) -> bool:
        """Whether a user passes every given filter."""
        role = user.get("accessRole")
        if roles and not (isinstance(role, str) and role.lower() in roles):
            return False
        return not directory_ids or user.get("externalDirectoryId") in directory_ids

    return keep


def get_user(account: Account, query: Query, body: bytes, uid: str) -> SimResponse:
    """GET /users/{id}: one user, deactivated ones too."""
    user = account.store.require(uid)
    return SimResponse(200, to_json({"data": project(user, multi(query, "include"))}))


def create_user(account: Account, query: Query, body: bytes) -> SimResponse:
    """POST /users: name and email required, accessRole defaults to interviewer."""
    store = account.store
    fields = _writable(store, json_object(body), role_required=False)
    if store.email_taken(fields["email"]):
        raise bad_request(_EMAIL_TAKEN)
    uid = store.new_id()
    user = blank_user()
    user.update(fields, id=uid, username=username_for(fields["email"]))
    user["createdAt"] = store.now_ms()
    store.put(uid, user)
    return SimResponse(201, to_json({"data": user}))


def update_user(account: Account, query: Query, body: bytes, uid: str) -> SimResponse:
    """PUT /users/{id}: full replacement; writable fields left out are wiped."""
    store = account.store
    current = store.require(uid)
    fields = _writable(store, json_object(body), role_required=True)
    if store.email_taken(fields["email"], by_other_than=uid):
        raise bad_request(_EMAIL_TAKEN)
    user = {**current, **fields, "username": username_for(fields["email"])}
    store.put(uid, user)
    return SimResponse(200, to_json({"data": user}))


def _writable(store: UserStore, data: Mapping[str, Any], role_required: bool) -> dict[str, Any]:
    """The writable fields of a create/replace body, validated; absent optional ones null."""
    fields: dict[str, Any] = {f: optional_text(data, f) for f in WRITABLE_FIELDS}
    fields["name"], fields["email"] = (
        required_text(data, "name"),
        required_text(data, "email"),
    )
    if "@" not in fields["email"]:
        raise bad_request("Invalid email")
    if role_required:
        fields["accessRole"] = required_text(data, "accessRole")
    fields["accessRole"] = fields["accessRole"] or "interviewer"
    if fields["managerId"] is not None and fields["managerId"] not in store:
        raise bad_request("Invalid managerId: no such user")
    return fields


def deactivate_user(account: Account, query: Query, body: bytes, uid: str) -> SimResponse:
    """POST /users/{id}/deactivate: set deactivatedAt (twice is a 400 unless allowed)."""
    store = account.store
    user = store.require(uid)
    if not is_active(user):
        if not account.deactivate_twice_ok:
            raise bad_request("User is already deactivated")
        return SimResponse(200, to_json({"data": user}))
    created = user.get("createdAt")
    floor = created + 1 if type(created) is int else 0
    return _set_deactivated(store, uid, max(store.now_ms(), floor))


def reactivate_user(account: Account, query: Query, body: bytes, uid: str) -> SimResponse:
    """POST /users/{id}/reactivate: clear deactivatedAt."""
    return _set_deactivated(account.store, uid, None)


def _set_deactivated(store: UserStore, uid: str, when: int | None) -> SimResponse:
    """Store a new deactivation time and answer with the user."""
    user = store.update(uid, {"deactivatedAt": when})
    return SimResponse(200, to_json({"data": user}))
