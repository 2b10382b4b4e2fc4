"""`LeverSimulator`: one simulated Lever account answering parsed requests, with no sockets."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.lever.sim.auth import authenticate, check_scope
from connector.lever.sim.data import generate_users
from connector.lever.sim.faults import Fault, TokenBuckets, fault_response, new_fault, take_fault
from connector.lever.sim.params import Query
from connector.lever.sim.responses import ApiError, SimResponse
from connector.lever.sim.routes import ALL_SCOPES, find_route
from connector.lever.sim.state import User, UserStore


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
        self._lock = threading.RLock()
        self._buckets = TokenBuckets(clock)
        rng = random.Random(f"lever-sim-added-{seed}")
        self.store = UserStore(generate_users(users, seed), rng, wall_clock)

    # -- state -------------------------------------------------------------------------------

    @property
    def users(self) -> list[User]:
        """Copies of all users (deactivated too) in list order: createdAt, then id."""
        with self._lock:
            return self.store.ordered()

    def get_user(self, uid: str) -> User | None:
        """A copy of one user, or None."""
        with self._lock:
            user = self.store.get(uid)
            return dict(user) if user is not None else None

    def add_user(self, **fields: Any) -> User:
        """Add a user with Lever's defaults for whatever is not given (duplicates allowed)."""
        with self._lock:
            return dict(self.store.add(fields))

    def set_raw_user(self, raw: Mapping[str, Any]) -> str:
        """Store a record exactly as given, even malformed; returns the id it is kept under."""
        with self._lock:
            return self.store.set_raw(raw)

    def update_user(self, uid: str, **fields: Any) -> User:
        """Change stored fields directly (e.g. a rename or deactivation made in Lever's UI)."""
        with self._lock:
            return dict(self.store.update(uid, fields))

    def remove_user(self, uid: str) -> None:
        """Make a user vanish entirely, so fetching it gives 404."""
        with self._lock:
            self.store.remove(uid)

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
        fault = new_fault(kind, count, path_prefix, retry_after, delay)
        with self._lock:
            self.faults.append(fault)

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
            fault = take_fault(self.faults, path)
            response = fault_response(fault) if fault else None
            if response is None:
                response = self._answer(method, path, query, authorization, body)
            if fault is not None and fault.kind == "slow":
                response.delay = fault.delay
            self.statuses[0 if response.drop else response.status] += 1
            return response

    def _answer(
        self, method: str, path: str, query: Query, authorization: str | None, body: bytes
    ) -> SimResponse:
        """Authenticate, throttle, route and run a request, mapping errors to responses."""
        try:
            key = authenticate(authorization, self.api_key)
            self._throttle(key)
            route, params = find_route(method, path)
            self.counts[route.name] += 1
            check_scope(route.scope, self.permissions)
            return route.handler(self, query, body, **params)
        except ApiError as error:
            return error.response()

    def _throttle(self, key: str) -> None:
        """Lever's token bucket per API key, when the rate limit is on."""
        if self.rate_limit:
            self._buckets.take(key, self.rate, self.burst, retry_after=self.retry_after_on_429)
