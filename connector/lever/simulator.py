"""A faithful local Lever users API, for demos, end-to-end tests and benchmarks.

`LeverSimulator` holds the state and answers parsed requests (no sockets), `SimulatorServer`
serves it over HTTP/1.1 keep-alive on loopback, and `serve_forever` runs it from the command
line. Behaviour follows Lever's documented API; assumed behaviour is switchable.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import math
import random
import re
import secrets
import signal
import socket
import sys
import threading
import time
import uuid
from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

from connector.lever.simdata import blank_user, generate_users, seeded_uuid, username_for

__all__ = [
    "ALL_SCOPES",
    "FAULT_KINDS",
    "ApiError",
    "Fault",
    "LeverSimulator",
    "SimResponse",
    "SimulatorServer",
    "decode_offset",
    "encode_offset",
    "format_start_line",
    "serve_forever",
]

JSON_TYPE = "application/json; charset=utf-8"
FAULT_KINDS = frozenset({"503", "500", "502", "429", "garbage", "drop", "slow"})
ALL_SCOPES = frozenset({"users:read:admin", "users:write:admin", "audit_events:read:admin"})
WRITABLE_FIELDS = ("name", "email", "accessRole", "jobTitle", "managerId", "externalDirectoryId")
LOGIN_EVENT = "user.authentication:succeeded"
_AUDIT_NAMESPACE = uuid.UUID("6f2b8c3e-4d1a-4e0b-9a57-3c1d2e4f5a6b")
_BAD_OFFSET = "Invalid offset token: Offset token is invalid for sort"
_FORBIDDEN = "This API key is not allowed to do that. Talk to a Super Admin about its permissions."
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_GARBAGE = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"

Key = tuple[int, str]
Query = dict[str, list[str]]
User = dict[str, Any]


@dataclass
class SimResponse:
    """What the server should send back (or, for faults, not send)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    drop: bool = False
    delay: float = 0.0


class ApiError(Exception):
    """An error answer in Lever's shape: an HTTP status and a {code, message} body."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> SimResponse:
        """This error as a JSON response."""
        return SimResponse(
            self.status, _json({"code": self.code, "message": self.message}), self.headers
        )


def _bad_request(message: str) -> ApiError:
    """A 400 in Lever's shape."""
    return ApiError(400, "BadRequestError", message)


def _not_found(message: str = "User not found", code: str = "ResourceNotFound") -> ApiError:
    """A 404 in Lever's shape."""
    return ApiError(404, code, message)


@dataclass
class Fault:
    """An injected failure waiting for the next `remaining` requests under `path_prefix`."""

    kind: str
    remaining: int
    path_prefix: str
    retry_after: str | None = None
    delay: float = 2.0


@dataclass(frozen=True)
class _Route:
    """One endpoint: method, path pattern, handler name and the scope it needs."""

    method: str
    pattern: re.Pattern[str]
    name: str
    scope: str


_USERS, _ONE_USER = "/v1/users", r"/v1/users/(?P<uid>[^/]+)"
_READ, _WRITE = "users:read:admin", "users:write:admin"
_ROUTES = (
    _Route("GET", re.compile(_USERS), "list_users", _READ),
    _Route("POST", re.compile(_USERS), "create_user", _WRITE),
    _Route("GET", re.compile(_ONE_USER), "get_user", _READ),
    _Route("PUT", re.compile(_ONE_USER), "update_user", _WRITE),
    _Route("POST", re.compile(_ONE_USER + "/deactivate"), "deactivate_user", _WRITE),
    _Route("POST", re.compile(_ONE_USER + "/reactivate"), "reactivate_user", _WRITE),
    _Route("GET", re.compile("/v1/audit_events"), "audit_events", "audit_events:read:admin"),
)


def _json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (as Lever sends it)."""
    return _ENCODER.encode(payload).encode("utf-8")


def encode_offset(key: Key) -> str:
    """Lever's page token: a percent-encoded JSON array [createdAtMs, "id"]."""
    return quote(json.dumps(list(key), separators=(",", ":")), safe="")


def decode_offset(token: str) -> Key:
    """The (createdAt, id) a token points after, whether it arrives raw, once or twice encoded."""
    text = token
    for _ in range(3):
        if text.startswith("["):
            break
        text = unquote(text)
    try:
        value = json.loads(text)
    except ValueError:
        raise _bad_request(_BAD_OFFSET) from None
    if not (isinstance(value, list) and len(value) == 2 and type(value[0]) is int):
        raise _bad_request(_BAD_OFFSET)
    if not isinstance(value[1], str):
        raise _bad_request(_BAD_OFFSET)
    return value[0], value[1]


def _sort_key(uid: str, user: Mapping[str, Any]) -> Key:
    """Where a user sorts; records with a malformed createdAt sort first."""
    created = user.get("createdAt")
    ms = created if type(created) is int else 0
    return ms, uid


def _is_active(user: Mapping[str, Any]) -> bool:
    """Lever's notion of active: no deactivation time."""
    return user.get("deactivatedAt") is None


def _canonical_email(value: Any) -> str | None:
    """The form emails are compared in (trimmed, lower case), or None for a non-string."""
    return value.strip().lower() if isinstance(value, str) else None


def _first(query: Query, name: str) -> str | None:
    """The first value of a query parameter, if given."""
    values = query.get(name)
    return values[0] if values else None


def _flag(query: Query, name: str) -> bool:
    """A boolean parameter, read the way clients in the wild send it (true/True/1)."""
    value = _first(query, name)
    if value is None or value.lower() in ("", "false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise _bad_request(f"Invalid value for {name}: expected true or false")


def _limit(query: Query) -> int:
    """The page size: 1-100, 100 when absent."""
    value = _first(query, "limit")
    if value is None:
        return 100
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise _bad_request("Invalid limit: must be an integer between 1 and 100")
    return int(value)


def _offset(query: Query) -> Key | None:
    """The position after which the page starts, or None for the first page."""
    token = _first(query, "offset")
    return decode_offset(token) if token else None


def _multi(query: Query, *names: str) -> list[str]:
    """All values of a repeatable parameter, also accepting comma-separated lists."""
    return [v for n in names for raw in query.get(n, []) for v in raw.split(",") if v]


def _ms_param(query: Query, name: str) -> int | None:
    """An optional millisecond timestamp parameter."""
    value = _first(query, name)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise _bad_request(f"Invalid {name}: expected milliseconds since the epoch")
    return int(value)


def _project(record: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    """`include=`: only the asked fields, plus id."""
    if not fields:
        return dict(record)
    return {"id": record.get("id"), **{f: record[f] for f in fields if f in record}}


def _envelope(records: list[bytes], has_next: bool, last: Key | None) -> bytes:
    """The list envelope around encoded records; `next` is left out on the last page."""
    tail = b""
    if has_next and last is not None:
        tail = b',"next":' + _json(encode_offset(last))
    flag = b"true" if has_next else b"false"
    return b'{"data":[' + b",".join(records) + b'],"hasNext":' + flag + tail + b"}"


def _json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad_request("Request body must be valid JSON") from None
    if not isinstance(value, dict):
        raise _bad_request("Request body must be a JSON object")
    return value


def _required_text(body: Mapping[str, Any], name: str) -> str:
    """A required, non-empty string field of a request body."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _bad_request(f"Missing required field: {name}")
    return value


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    """An optional string field of a request body (null or absent means none)."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _bad_request(f"Invalid {name}: expected a string")
    return value


def _parse_basic(header: str | None) -> str | None:
    """The username (Lever's API key) of an HTTP Basic header; the password is ignored."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0]


class LeverSimulator:
    """The state of one Lever account's users, answering API requests; thread-safe."""

    def __init__(
        self,
        users: int = 50,
        seed: int = 0,
        api_key: str | None = None,
        rate_limit: bool = True,
        rate: float = 10.0,
        burst: int = 20,
        clock: Callable[[], float] = time.monotonic,
        audit_events: bool = False,
        *,
        deactivate_twice_ok: bool = False,
        retry_after_on_429: bool = False,
        wall_clock: Callable[[], float] = time.time,
        permissions: Iterable[str] = ALL_SCOPES,
        log_size: int = 100_000,
    ) -> None:
        self.key_generated = api_key is None
        self.api_key: str = api_key if api_key is not None else secrets.token_hex(16)
        self.seed = seed
        self.rate_limit, self.rate, self.burst = rate_limit, rate, burst
        self.audit_events = audit_events
        self.deactivate_twice_ok = deactivate_twice_ok
        self.retry_after_on_429 = retry_after_on_429
        self.permissions: set[str] = set(permissions)
        self.faults: deque[Fault] = deque()
        self.requests: deque[tuple[str, str, Query]] = deque(maxlen=log_size)
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self._clock, self._wall_clock = clock, wall_clock
        self._lock = threading.RLock()
        self._rng = random.Random(f"lever-sim-added-{seed}")
        self._buckets: dict[str, tuple[float, float]] = {}
        self._events: tuple[list[Key], list[dict[str, Any]]] | None = None
        self._json_cache: dict[str, bytes] = {}
        self._load(generate_users(users, seed))

    # -- state -------------------------------------------------------------------------------

    def _load(self, users: list[User]) -> None:
        """Index an already sorted population in one pass."""
        self._by_id: dict[str, User] = {u["id"]: u for u in users}
        self._keys: dict[str, Key] = {u["id"]: _sort_key(u["id"], u) for u in users}
        self._all: list[Key] = [self._keys[u["id"]] for u in users]
        self._active: list[Key] = [self._keys[u["id"]] for u in users if _is_active(u)]
        self._emails: defaultdict[str, set[str]] = defaultdict(set)
        for u in users:
            self._emails[u["email"].strip().lower()].add(u["id"])

    def _insert(self, uid: str, user: User) -> None:
        """Store a record under an internal id and index it."""
        if uid in self._by_id:
            self._unindex(uid)
        key = _sort_key(uid, user)
        self._by_id[uid], self._keys[uid] = user, key
        insort(self._all, key)
        if _is_active(user):
            insort(self._active, key)
        email = _canonical_email(user.get("email"))
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
        email = _canonical_email(user.get("email"))
        if email is not None:
            self._emails[email].discard(uid)
        self._changed(uid)
        return user

    def _changed(self, uid: str) -> None:
        """Drop what was derived from a user that changed."""
        self._json_cache.pop(uid, None)
        self._events = None

    def _now_ms(self) -> int:
        """The wall-clock time in Lever's milliseconds."""
        return int(self._wall_clock() * 1000)

    def _user(self, uid: str) -> User:
        """A stored user, or Lever's 404."""
        user = self._by_id.get(uid)
        if user is None:
            raise _not_found(f"User {uid} not found")
        return user

    def _email_taken(self, email: str, by_other_than: str | None = None) -> bool:
        """Whether another user already has this address (compared case-insensitively)."""
        return bool(self._emails.get(email.strip().lower(), set()) - {by_other_than})

    @property
    def users(self) -> list[User]:
        """Copies of all users (deactivated too) in list order: createdAt, then id."""
        with self._lock:
            return [dict(self._by_id[uid]) for _, uid in self._all]

    def get_user(self, uid: str) -> User | None:
        """A copy of one user, or None."""
        with self._lock:
            user = self._by_id.get(uid)
            return dict(user) if user is not None else None

    def add_user(self, **fields: Any) -> User:
        """Add a user with Lever's defaults for whatever is not given (duplicates allowed)."""
        with self._lock:
            uid = fields.get("id") or seeded_uuid(self._rng)
            email = fields.get("email") or f"user-{uid[:8]}@example.com"
            user = blank_user()
            user.update(
                id=uid, name=f"Test User {uid[:8]}", email=email, username=username_for(email),
                accessRole="interviewer", createdAt=self._now_ms(),
            )  # fmt: skip
            user.update(fields)
            self._insert(uid, user)
            return dict(user)

    def set_raw_user(self, raw: Mapping[str, Any]) -> str:
        """Store a record exactly as given, even malformed; returns the id it is kept under."""
        with self._lock:
            uid = raw.get("id")
            if not isinstance(uid, str):
                uid = seeded_uuid(self._rng)
            self._insert(uid, dict(raw))
            return uid

    def update_user(self, uid: str, **fields: Any) -> User:
        """Change stored fields directly (e.g. a rename or deactivation made in Lever's UI)."""
        with self._lock:
            user = {**self._user(uid), **fields}
            self._insert(uid, user)
            return dict(user)

    def remove_user(self, uid: str) -> None:
        """Make a user vanish entirely, so fetching it gives 404."""
        with self._lock:
            self._user(uid)
            self._unindex(uid)

    # -- faults and log ----------------------------------------------------------------------

    def inject(
        self,
        kind: str,
        count: int = 1,
        path_prefix: str = "/v1/users",
        *,
        retry_after: str | float | None = None,
        delay: float = 2.0,
    ) -> None:
        """Make the next `count` requests under `path_prefix` fail in the given way."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        after = None if retry_after is None else str(retry_after)
        with self._lock:
            self.faults.append(Fault(kind, count, path_prefix, after, delay))

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self.faults.clear()

    def calls(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many logged requests match a method and path prefix."""
        with self._lock:
            return sum(
                1
                for m, p, _ in self.requests
                if (method is None or m == method) and p.startswith(path_prefix)
            )

    def _take_fault(self, path: str) -> Fault | None:
        """Consume one use of the first pending fault that applies to this path."""
        for fault in self.faults:
            if path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- request handling --------------------------------------------------------------------

    def handle(
        self, method: str, target: str, authorization: str | None = None, body: bytes = b""
    ) -> SimResponse:
        """Answer one request (method, path with query string, Authorization header, body)."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        with self._lock:
            self.requests.append((method, path, query))
            fault = self._take_fault(path)
            response = self._faulty(fault) if fault else None
            if response is None:
                response = self._answer(method, path, query, authorization, body)
            if fault is not None and fault.kind == "slow":
                response.delay = fault.delay
            self.statuses[0 if response.drop else response.status] += 1
            return response

    def _faulty(self, fault: Fault) -> SimResponse | None:
        """The response an injected fault stands for (None: answer normally, later)."""
        if fault.kind == "slow":
            return None
        if fault.kind == "drop":
            return SimResponse(0, drop=True)
        if fault.kind == "garbage":
            return SimResponse(200, _GARBAGE, content_type="text/html; charset=utf-8")
        return _fault_error(fault).response()

    def _answer(
        self, method: str, path: str, query: Query, authorization: str | None, body: bytes
    ) -> SimResponse:
        """Authenticate, throttle, route and run a request, mapping errors to responses."""
        try:
            key = self._authenticate(authorization)
            self._throttle(key)
            route, params = self._route(method, path)
            self.counts[route.name] += 1
            if route.scope not in self.permissions:
                raise ApiError(403, "ForbiddenError", _FORBIDDEN)
            handler: Callable[..., SimResponse] = getattr(self, f"_{route.name}")
            return handler(query=query, body=body, **params)
        except ApiError as error:
            return error.response()

    def _authenticate(self, authorization: str | None) -> str:
        """The API key of a valid Basic header, or Lever's 401."""
        key = _parse_basic(authorization)
        if key is None or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise ApiError(401, "UnauthorizedError", "Invalid API key")
        return key

    def _throttle(self, key: str) -> None:
        """Lever's token bucket per API key: `rate` per second, bursts up to `burst`."""
        if not self.rate_limit:
            return
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            raise self._rate_limited(tokens)
        self._buckets[key] = (tokens - 1, now)

    def _rate_limited(self, tokens: float) -> ApiError:
        """The 429 answer, with Retry-After only when that option is on."""
        headers = {}
        if self.retry_after_on_429:
            headers["Retry-After"] = str(max(1, math.ceil((1 - tokens) / self.rate)))
        return ApiError(429, "TooManyRequestsError", "Rate limit exceeded", headers)

    def _route(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        """The endpoint for a request, or 404 (unknown path) / 405 (known path, other method)."""
        path_known = False
        for route in _ROUTES:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method == method:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
            path_known = True
        if path_known:
            raise ApiError(405, "MethodNotAllowedError", f"Method {method} not allowed on {path}")
        raise _not_found(f"No such endpoint: {path}", code="NotFoundError")

    # -- endpoints ---------------------------------------------------------------------------

    def _list_users(self, query: Query, body: bytes) -> SimResponse:
        """GET /users: a stable page in (createdAt, id) order, active only unless asked."""
        include_deactivated = _flag(query, "includeDeactivated")
        limit, after = _limit(query), _offset(query)
        emails = [e for e in map(_canonical_email, _multi(query, "email")) if e]
        keys = self._all if include_deactivated else self._active
        if emails:
            keys = self._keys_for_emails(emails, include_deactivated)
        found = self._scan(keys, after, limit, self._user_filter(query))
        page = found[:limit]
        fields = _multi(query, "include")
        records = [self._encoded(uid, fields) for _, uid in page]
        return SimResponse(200, _envelope(records, len(found) > limit, page[-1] if page else None))

    def _encoded(self, uid: str, fields: list[str]) -> bytes:
        """A user's JSON, cached when whole, so a page costs no re-encoding."""
        if fields:
            return _json(_project(self._by_id[uid], fields))
        encoded = self._json_cache.get(uid)
        if encoded is None:
            encoded = self._json_cache[uid] = _json(self._by_id[uid])
        return encoded

    def _keys_for_emails(self, emails: list[str], include_deactivated: bool) -> list[Key]:
        """Sorted keys of the users holding any of these addresses."""
        ids = set().union(*(self._emails.get(e, set()) for e in emails))
        keys = (self._keys[uid] for uid in ids)
        return sorted(k for k in keys if include_deactivated or _is_active(self._by_id[k[1]]))

    def _user_filter(self, query: Query) -> Callable[[User], bool] | None:
        """The accessRole / external_directory_id filter of a list request, if any."""
        roles = {r.lower() for r in _multi(query, "accessRole", "accessRole[]")}
        directory_ids = set(_multi(query, "external_directory_id"))
        if not roles and not directory_ids:
            return None

        def keep(user: User) -> bool:
            """Whether a user passes every given filter."""
            role = user.get("accessRole")
            if roles and not (isinstance(role, str) and role.lower() in roles):
                return False
            return not directory_ids or user.get("externalDirectoryId") in directory_ids

        return keep

    def _scan(
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

    def _get_user(self, query: Query, body: bytes, uid: str) -> SimResponse:
        """GET /users/{id}: one user, deactivated ones too."""
        user = self._user(uid)
        return SimResponse(200, _json({"data": _project(user, _multi(query, "include"))}))

    def _create_user(self, query: Query, body: bytes) -> SimResponse:
        """POST /users: name and email required, accessRole defaults to interviewer."""
        data = _json_object(body)
        fields = self._writable(data, role_required=False)
        if self._email_taken(fields["email"]):
            raise _bad_request("A user with this email already exists")
        uid = seeded_uuid(self._rng)
        user = blank_user()
        user.update(fields, id=uid, username=username_for(fields["email"]))
        user["createdAt"] = self._now_ms()
        self._insert(uid, user)
        return SimResponse(201, _json({"data": user}))

    def _update_user(self, query: Query, body: bytes, uid: str) -> SimResponse:
        """PUT /users/{id}: full replacement; writable fields left out are wiped."""
        current = self._user(uid)
        fields = self._writable(_json_object(body), role_required=True)
        if self._email_taken(fields["email"], by_other_than=uid):
            raise _bad_request("A user with this email already exists")
        user = {**current, **fields, "username": username_for(fields["email"])}
        self._insert(uid, user)
        return SimResponse(200, _json({"data": user}))

    def _writable(self, data: Mapping[str, Any], role_required: bool) -> dict[str, Any]:
        """The writable fields of a create/replace body, validated; absent optional ones null."""
        fields: dict[str, Any] = {f: _optional_text(data, f) for f in WRITABLE_FIELDS}
        fields["name"], fields["email"] = (
            _required_text(data, "name"),
            _required_text(data, "email"),
        )
        if "@" not in fields["email"]:
            raise _bad_request("Invalid email")
        if role_required:
            fields["accessRole"] = _required_text(data, "accessRole")
        fields["accessRole"] = fields["accessRole"] or "interviewer"
        if fields["managerId"] is not None and fields["managerId"] not in self._by_id:
            raise _bad_request("Invalid managerId: no such user")
        return fields

    def _deactivate_user(self, query: Query, body: bytes, uid: str) -> SimResponse:
        """POST /users/{id}/deactivate: set deactivatedAt (twice is a 400 unless allowed)."""
        user = self._user(uid)
        if not _is_active(user):
            if not self.deactivate_twice_ok:
                raise _bad_request("User is already deactivated")
            return SimResponse(200, _json({"data": user}))
        created = user.get("createdAt")
        floor = created + 1 if type(created) is int else 0
        return self._set_deactivated(uid, max(self._now_ms(), floor))

    def _reactivate_user(self, query: Query, body: bytes, uid: str) -> SimResponse:
        """POST /users/{id}/reactivate: clear deactivatedAt."""
        self._user(uid)
        return self._set_deactivated(uid, None)

    def _set_deactivated(self, uid: str, when: int | None) -> SimResponse:
        """Store a new deactivation time and answer with the user."""
        user = {**self._by_id[uid], "deactivatedAt": when}
        self._insert(uid, user)
        return SimResponse(200, _json({"data": user}))

    def _audit_events(self, query: Query, body: bytes) -> SimResponse:
        """GET /audit_events (add-on): login events, newest first, same envelope."""
        if not self.audit_events:
            raise ApiError(403, "ForbiddenError", "Audit events add-on not enabled")
        limit, before = _limit(query), _offset(query)
        keep = _event_filter(query)
        keys, events = self._login_events()
        end = bisect_left(keys, before) if before is not None else len(keys)
        found: list[int] = []
        for i in range(end - 1, -1, -1):
            if keep(events[i]):
                found.append(i)
                if len(found) > limit:
                    break
        page = found[:limit]
        last = keys[page[-1]] if page else None
        records = [_json(events[i]) for i in page]
        return SimResponse(200, _envelope(records, len(found) > limit, last))

    def _login_events(self) -> tuple[list[Key], list[dict[str, Any]]]:
        """One sign-in event per user at its lastLoggedInAt, oldest first (cached)."""
        if self._events is None:
            events = sorted(
                (_login_event(uid, u) for uid, u in self._by_id.items()
                 if type(u.get("lastLoggedInAt")) is int),
                key=lambda e: (e["createdAt"], e["id"]),
            )  # fmt: skip
            self._events = ([(e["createdAt"], e["id"]) for e in events], events)
        return self._events


def _islice_from(keys: list[Key], start: int) -> Iterator[Key]:
    """Keys from an index on, without copying the list."""
    for i in range(start, len(keys)):
        yield keys[i]


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
    types, users = set(_multi(query, "type")), set(_multi(query, "user_id"))
    target_types, target_ids = set(_multi(query, "target_type")), set(_multi(query, "target_id"))
    start, end = _ms_param(query, "created_at_start"), _ms_param(query, "created_at_end")

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


def _fault_error(fault: Fault) -> ApiError:
    """The error answer for an injected 5xx or 429."""
    if fault.kind == "429":
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        return ApiError(429, "TooManyRequestsError", "Rate limit exceeded", headers)
    messages = {
        "500": ("InternalServerError", "Something went wrong"),
        "502": ("BadGatewayError", "Bad gateway"),
        "503": ("ServiceUnavailableError", "Lever is down for maintenance"),
    }
    code, message = messages[fault.kind]
    return ApiError(int(fault.kind), code, message)


# -- HTTP ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP/1.1 keep-alive requests into simulator calls."""

    protocol_version = "HTTP/1.1"
    server_version = "LeverSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    server: SimulatorServer

    def setup(self) -> None:
        """Register the connection so stopping the server can close it."""
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        """Forget the connection."""
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing per request (the console stays quiet and no key can leak)."""

    def _serve(self) -> None:
        """Answer any method through the simulator."""
        body = self._read_body()
        try:
            response = self.server.sim.handle(
                self.command, self.path, self.headers.get("Authorization"), body
            )
        except Exception:
            response = ApiError(500, "InternalServerError", "Simulator error").response()
        if response.delay and self.server.stopping.wait(response.delay):
            response.drop = True
        if response.drop:
            self.close_connection = True
            return
        self._write(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        """The request body by Content-Length (none when absent or invalid)."""
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            self.close_connection = True
            return b""
        return self.rfile.read(int(length)) if int(length) else b""

    def _write(self, response: SimResponse) -> None:
        """Send status, headers and body; a client that went away is not an error."""
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            self.close_connection = True


class SimulatorServer(ThreadingHTTPServer):
    """The simulator over HTTP/1.1 keep-alive, served from a daemon thread."""

    daemon_threads = True
    block_on_close = True
    request_queue_size = 128

    def __init__(self, sim: LeverSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.connections_accepted = 0
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup HTTPServer does (it can stall for seconds)."""
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def url(self) -> str:
        """The API base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://{self.server_name}:{self.server_port}/v1"

    def start(self) -> SimulatorServer:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever, kwargs={"poll_interval": 0.05},
                name="lever-simulator", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and wait for handler threads."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self._close_connections()
        self.server_close()

    def _close_connections(self) -> None:
        """Wake every handler blocked on an idle keep-alive connection."""
        with self._connections_lock:
            self.stopping.set()
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)

    def track(self, connection: socket.socket) -> None:
        """Remember a live connection (or end it at once when stopping)."""
        with self._connections_lock:
            self.connections_accepted += 1
            if not self.stopping.is_set():
                self._connections.add(connection)
                return
        _shut(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a finished connection."""
        with self._connections_lock:
            self._connections.discard(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection resets are routine for a test server; keep stderr quiet."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def __enter__(self) -> SimulatorServer:
        """Start serving for the duration of a with-block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving and release every socket and thread."""
        self.stop()


def _shut(connection: socket.socket) -> None:
    """Shut a socket down both ways, ignoring one that is already gone."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


# -- command line ----------------------------------------------------------------------------


def format_start_line(url: str, users: int, generated_key: str | None) -> str:
    """The start-up line: URL, and the API key only when it was generated here."""
    key = f"API key {generated_key} (any password)" if generated_key else "using the given API key"
    return f"Lever simulator with {users} users at {url} - {key} - Ctrl-C to stop"


@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """Turn SIGTERM into a clean stop while serving (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_forever(
    port: int,
    users: int,
    seed: int,
    api_key: str | None,
    rate_limit: bool,
    host: str = "127.0.0.1",
    out: TextIO = sys.stdout,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Run a simulator until Ctrl-C, SIGTERM or `stop` is set, then shut down cleanly."""
    stop = stop or threading.Event()
    sim = LeverSimulator(users=users, seed=seed, api_key=api_key, rate_limit=rate_limit)
    with SimulatorServer(sim, host, port) as server, _stop_on_sigterm(stop):
        generated = sim.api_key if sim.key_generated else None
        print(format_start_line(server.url, users, generated), file=out, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.25):
                pass
