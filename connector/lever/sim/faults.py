"""Misbehaving on purpose: injected faults and Lever's per-key rate limit, to test retries."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from connector.lever.sim.responses import ApiError, SimResponse

FAULT_KINDS = frozenset({"503", "500", "502", "429", "garbage", "drop", "slow"})
_GARBAGE = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
_SERVER_ERRORS = {
    "500": ("InternalServerError", "Something went wrong"),
    "502": ("BadGatewayError", "Bad gateway"),
    "503": ("ServiceUnavailableError", "Lever is down for maintenance"),
}


@dataclass
class Fault:
    """An injected failure waiting for the next `remaining` requests under `path_prefix`."""

    kind: str
    remaining: int
    path_prefix: str
    retry_after: str | None = None
    delay: float = 2.0


def new_fault(
    kind: str, count: int, path_prefix: str, retry_after: str | float | None, delay: float
) -> Fault:
    """A validated fault for the next `count` requests under `path_prefix`."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
    if count < 1:
        raise ValueError("count must be at least 1")
    after = None if retry_after is None else str(retry_after)
    return Fault(kind, count, path_prefix, after, delay)


def take_fault(faults: deque[Fault], path: str) -> Fault | None:
    """Consume one use of the first pending fault that applies to this path."""
    for fault in faults:
        if path.startswith(fault.path_prefix):
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
            return fault
    return None


def fault_response(fault: Fault) -> SimResponse | None:
    """The response an injected fault stands for (None: answer normally, later)."""
    if fault.kind == "slow":
        return None
    if fault.kind == "drop":
        return SimResponse(0, drop=True)
    if fault.kind == "garbage":
        return SimResponse(200, _GARBAGE, content_type="text/html; charset=utf-8")
    return _fault_error(fault).response()


def _fault_error(fault: Fault) -> ApiError:
    """The error answer for an injected 5xx or 429."""
    if fault.kind == "429":
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        return ApiError(429, "TooManyRequestsError", "Rate limit exceeded", headers)
    code, message = _SERVER_ERRORS[fault.kind]
    return ApiError(int(fault.kind), code, message)


class TokenBuckets:
    """Lever's rate limit: one token bucket per API key, refilled by a monotonic clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: float, burst: int, *, retry_after: bool) -> None:
        """Spend a token of the key's bucket (`rate` a second, up to `burst`), or raise a 429."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            raise _rate_limited(tokens, rate, retry_after)
        self._buckets[key] = (tokens - 1, now)


def _rate_limited(tokens: float, rate: float, retry_after: bool) -> ApiError:
    """The 429 answer, with Retry-After (whole seconds to the next token) only when asked."""
    headers = {}
    if retry_after:
        headers["Retry-After"] = str(max(1, math.ceil((1 - tokens) / rate)))
    return ApiError(429, "TooManyRequestsError", "Rate limit exceeded", headers)
