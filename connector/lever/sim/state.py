"""The users of one simulated Lever account, indexed in Lever's list order, and their changes."""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Callable, ItemsView, Iterator, Mapping
from typing import Any, Protocol

from connector.lever.sim.data import blank_user, seeded_uuid, username_for
from connector.lever.sim.paging import Key
from connector.lever.sim.params import project
from connector.lever.sim.responses import not_found, to_json

User = dict[str, Any]
Events = tuple[list[Key], list[dict[str, Any]]]


def sort_key(uid: str, user: Mapping[str, Any]) -> Key:
    """Where a user sorts; records with a malformed createdAt sort first."""
    created = user.get("createdAt")
    ms = created if type(created) is int else 0
    return ms, uid


def is_active(user: Mapping[str, Any]) -> bool:
    """Lever's notion of active: no deactivation time."""
    return user.get("deactivatedAt") is None


def canonical_email(value: Any) -> str | None:
    """The form emails are compared in (trimmed, lower case), or None for a non-string."""
    return value.strip().lower() if isinstance(value, str) else None


class UserStore:
    """Every user (deactivated too) with its indexes and caches; callers hold the lock."""

    def __init__(
        self, users: list[User], rng: random.Random, wall_clock: Callable[[], float]
    ) -> None:
        self._rng, self._wall_clock = rng, wall_clock
        self._json_cache: dict[str, bytes] = {}
        self.events: Events | None = None
        self._load(users)

    def _load(self, users: list[User]) -> None:
        """Index an already sorted population in one pass."""
        self._by_id: dict[str, User] = {u["id"]: u for u in users}
        self._keys: dict[str, Key] = {u["id"]: sort_key(u["id"], u) for u in users}
        self._all: list[Key] = [self._keys[u["id"]] for u in users]
        self._active: list[Key] = [self._keys[u["id"]] for u in users if is_active(u)]
        self._emails: defaultdict[str, set[str]] = defaultdict(set)
        for u in users:
            self._emails[u["email"].strip().lower()].add(u["id"])

    # -- reading ------------------------------------------------------------------------------

    def __contains__(self, uid: object) -> bool:
        """Whether a user is stored under this id."""
        return uid in self._by_id

    def get(self, uid: str) -> User | None:
        """The stored record (not a copy), or None."""
        return self._by_id.get(uid)

    def require(self, uid: str) -> User:
        """The stored record (not a copy), or Lever's 404."""
        user = self._by_id.get(uid)
        if user is None:
            raise not_found(f"User {uid} not found")
        return user

    def items(self) -> ItemsView[str, User]:
        """Every (id, record) pair, in no particular order."""
        return self._by_id.items()

    def ordered(self) -> list[User]:
        """Copies of all users in list order: createdAt, then id."""
        return [dict(self._by_id[uid]) for _, uid in self._all]

    def email_taken(self, email: str, by_other_than: str | None = None) -> bool:
        """Whether another user already has this address (compared case-insensitively)."""
        return bool(self._emails.get(email.strip().lower(), set()) - {by_other_than})

    def now_ms(self) -> int:
        """The wall-clock time in Lever's milliseconds."""
        return int(self._wall_clock() * 1000)

    def new_id(self) -> str:
        """A fresh user id, repeating with the simulator's seed."""
        return seeded_uuid(self._rng)

    # -- listing ------------------------------------------------------------------------------

    def listing(self, include_deactivated: bool) -> list[Key]:
        """The sorted keys a list request walks: every user, or the active ones."""
        return self._all if include_deactivated else self._active

    def keys_for_emails(self, emails: list[str], include_deactivated: bool) -> list[Key]:
        """Sorted keys of the users holding any of these addresses."""
        ids = set().union(*(self._emails.get(e, set()) for e in emails))
        keys = (self._keys[uid] for uid in ids)
        return sorted(k for k in keys if include_deactivated or is_active(self._by_id[k[1]]))

    def scan(
        self, keys: list[Key], after: Key | None, limit: int, keep: Callable[[User], bool] | None
    ) -> list[Key]:
        """Up to limit + 1 matching keys after a position (the extra one tells hasNext)."""
        start = bisect_right(keys, after) if after is not None else 0
        if keep is None:
            return keys[start : start + limit + 1]
        found: list[Key] = []
        for key in _islice_from(keys, start):
            if keep(self._by_id[key[1]]):
                found.append(key)
                if len(found) > limit:
                    break
        return found

    def encoded(self, uid: str, fields: list[str]) -> bytes:
        """A user's JSON, cached when whole, so a page costs no re-encoding."""
        if fields:
            return to_json(project(self._by_id[uid], fields))
        encoded = self._json_cache.get(uid)
        if encoded is None:
            encoded = self._json_cache[uid] = to_json(self._by_id[uid])
        return encoded

    # -- changing -----------------------------------------------------------------------------

    def put(self, uid: str, user: User) -> None:
        """Store a record under an internal id and index it."""
        if uid in self._by_id:
            self._unindex(uid)
        key = sort_key(uid, user)
        self._by_id[uid], self._keys[uid] = user, key
        insort(self._all, key)
        if is_active(user):
            insort(self._active, key)
        email = canonical_email(user.get("email"))
        if email is not None:
            self._emails[email].add(uid)
        self._changed(uid)

    def _unindex(self, uid: str) -> User:
        """Forget a record everywhere; returns it."""
        user, key = self._by_id.pop(uid), self._keys.pop(uid)
        for keys in (self._all, self._active):
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                del keys[i]
        email = canonical_email(user.get("email"))
        if email is not None:
            self._emails[email].discard(uid)
        self._changed(uid)
        return user

    def _changed(self, uid: str) -> None:
        """Drop what was derived from a user that changed."""
        self._json_cache.pop(uid, None)
        self.events = None

    def add(self, fields: Mapping[str, Any]) -> User:
        """Add a user with Lever's defaults for whatever is not given (duplicates allowed)."""
        uid = fields.get("id") or self.new_id()
        email = fields.get("email") or f"user-{uid[:8]}@example.com"
        user = blank_user()
        user.update(
            id=uid, name=f"Test User {uid[:8]}", email=email, username=username_for(email),
            accessRole="interviewer", createdAt=self.now_ms(),
        )  # fmt: skip
        user.update(fields)
        self.put(uid, user)
        return user

    def set_raw(self, raw: Mapping[str, Any]) -> str:
        """Store a record exactly as given, even malformed; returns the id it is kept under."""
        uid = raw.get("id")
        if not isinstance(uid, str):
            uid = self.new_id()
        self.put(uid, dict(raw))
        return uid

    def update(self, uid: str, fields: Mapping[str, Any]) -> User:
        """Change stored fields of an existing user (404 when there is none)."""
        user = {**self.require(uid), **fields}
        self.put(uid, user)
        return user

    def remove(self, uid: str) -> None:
        """Make a user vanish entirely, so fetching it gives 404."""
        self.require(uid)
        self._unindex(uid)


class Account(Protocol):
    """What an endpoint acts on: the account's users and its switchable behaviour."""

    store: UserStore
    audit_events: bool
    deactivate_twice_ok: bool


def _islice_from(keys: list[Key], start: int) -> Iterator[Key]:
    """Keys from an index on, without copying the list."""
    for i in range(start, len(keys)):
        yield keys[i]
