"""`LeverSimulator`: one simulated Lever account answering parsed requests, with no sockets."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.lever.sim.auth import authenticate, check_scope
from connector.lever.sim.data import generate_users
from connector.lever.sim.faults import Fault, TokenBuckets, fault_response, new_fault, take_fault
from connector.lever.sim.hiring import Events, HiringStore, Obj
from connector.lever.sim.offers import IN_30_DAYS, OfferTerms, StartDate, add_offer
from connector.lever.sim.params import Query
from connector.lever.sim.responses import ApiError, SimResponse
from connector.lever.sim.routes import ALL_SCOPES, find_route
from connector.lever.sim.state import User, UserStore
from connector.lever.sim.webhooks import WebhookSender


class LeverSimulator:
    """The state of one Lever account (users and hiring), answering API requests and sending
    webhooks; thread-safe."""

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
        candidates: int = 0,
        webhook_backoff: float = 1.0,
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
        self.hiring = HiringStore(self.store, candidates, seed)
        self.webhook_backoff = webhook_backoff
        self._webhooks = WebhookSender(webhook_backoff)

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

    # -- hiring ------------------------------------------------------------------------------

    @property
    def postings(self) -> list[Obj]:
        """Copies of all postings in list order: createdAt, then id."""
        with self._lock:
            postings = self.hiring.postings.values()
            return deepcopy(sorted(postings, key=lambda p: (p["createdAt"], p["id"])))

    @property
    def archive_reasons(self) -> list[Obj]:
        """Copies of the archive reasons (Hired first)."""
        with self._lock:
            return deepcopy(self.hiring.reasons)

    @property
    def stages(self) -> list[Obj]:
        """Copies of the pipeline's stages, in order."""
        with self._lock:
            return deepcopy(self.hiring.stages)

    @property
    def opportunities(self) -> list[Obj]:
        """Copies of all opportunities in list order (ids not expanded)."""
        with self._lock:
            return deepcopy(list(self.hiring.ordered()))

    def get_opportunity(self, opportunity_id: str) -> Obj | None:
        """A copy of one opportunity, or None."""
        with self._lock:
            return deepcopy(self.hiring.opportunities.get(opportunity_id))

    def offers(self, opportunity_id: str) -> list[Obj]:
        """Copies of an opportunity's offers, oldest first."""
        with self._lock:
            return deepcopy(self.hiring.offers.get(opportunity_id, []))

    def add_posting(self, **fields: Any) -> Obj:
        """Add a posting with defaults for whatever is not given (`categories` merged)."""
        with self._lock:
            return deepcopy(self.hiring.add_posting(fields))

    def add_candidate(
        self,
        name: str,
        email: str | None = None,
        *,
        posting_id: str | None = None,
        confidential: bool = False,
        phone: str | None = None,
        location: str | None = None,
    ) -> Obj:
        """A new applicant (email by default from the name, at mail.example); fires
        applicationCreated. Without a posting the application is one a user added."""
        with self._lock:
            opportunity, events = self.hiring.add_candidate(
                name, email, posting_id, confidential, phone, location
            )
            self._fire(events)
            return deepcopy(opportunity)

    def add_offer(
        self,
        opportunity_id: str,
        *,
        status: str = "signed",
        start_date: date | str | int | StartDate | None = IN_30_DAYS,
        job_title: str | None = None,
        candidate_name: str | None = None,
        hiring_manager: str | None = None,
        direct_manager: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Obj:
        """An offer on an opportunity; `start_date` None leaves the field out, and `fields`
        adds or overrides fields by identifier (a None value removes one)."""
        terms = OfferTerms(start_date, job_title, candidate_name, hiring_manager,
                           direct_manager, dict(fields or {}))  # fmt: skip
        with self._lock:
            return deepcopy(add_offer(self.hiring, opportunity_id, status, terms))

    def hire(self, opportunity_id: str, *, at_ms: int | None = None) -> Obj:
        """Move to "Offer" and archive as Hired; fires candidateArchiveChange, candidateHired."""
        with self._lock:
            return self._change(opportunity_id, self.hiring.hire(opportunity_id, at_ms))

    def archive(self, opportunity_id: str, reason: str = "Withdrew") -> Obj:
        """Archive with a reason (text or id); fires candidateArchiveChange."""
        with self._lock:
            return self._change(opportunity_id, self.hiring.archive(opportunity_id, reason))

    def unarchive(self, opportunity_id: str) -> Obj:
        """Bring an archived opportunity back; fires candidateArchiveChange."""
        with self._lock:
            return self._change(opportunity_id, self.hiring.unarchive(opportunity_id))

    def change_stage(self, opportunity_id: str, stage: str) -> Obj:
        """Move to a stage (text or id); fires candidateStageChange."""
        with self._lock:
            return self._change(opportunity_id, self.hiring.change_stage(opportunity_id, stage))

    def delete_candidate(self, opportunity_id: str) -> None:
        """Remove an opportunity entirely (fetching it gives 404); fires candidateDeleted."""
        with self._lock:
            self._fire(self.hiring.delete(opportunity_id))

    def _change(self, opportunity_id: str, events: Events) -> Obj:
        """Send a change's webhooks and answer with a copy of the opportunity."""
        self._fire(events)
        return deepcopy(self.hiring.require(opportunity_id))

    # -- webhooks ----------------------------------------------------------------------------

    def set_webhook(
        self, url: str, *, events: Iterable[str] | None = None, signature_token: str | None = None
    ) -> str:
        """Send these events (all when None) to a URL too; returns the signature token."""
        token = signature_token if signature_token is not None else secrets.token_hex(16)
        self._webhooks.add(url, events, token)
        return token

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery try: event, url, attempt, status, error and token."""
        return self._webhooks.deliveries

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Whether every webhook was delivered or given up on (no retry pending) in time."""
        return self._webhooks.wait(timeout)

    def stop_webhooks(self) -> None:
        """Stop the delivery thread, dropping what is queued (idempotent)."""
        self._webhooks.stop()

    def _fire(self, events: Events) -> None:
        """Queue a change's webhooks, triggered now (they are sent outside the lock)."""
        now = self.store.now_ms()
        for event, data in events:
            self._webhooks.publish(event, data, now)

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
