"""Client-side pacing so the connector stays under Lever's per-key rate limit without 429s."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """A token bucket: holds up to `burst` tokens, refilled at `rate` tokens per second.

    It starts full, and `acquire()` takes one token, sleeping (through the injected `sleep`)
    until one is there. Guarantee: in any time window of length W there are at most
    `burst + rate * W` acquisitions (at most `burst + rate` in any one second), and over a long
    run the average stays at or under `rate`. With the client's defaults (rate 10, burst 10)
    no one-second window ever holds more than 20 requests, Lever's burst ceiling.
    `rate=0` turns pacing off: `acquire()` returns at once.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 0 or burst < 1:
            raise ValueError(f"need rate >= 0 and burst >= 1, got rate={rate}, burst={burst}")
        self._rate = float(rate)
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._burst
        self._stamp = clock()

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self._rate:g}, burst={self._burst:g})"

    def acquire(self) -> None:
        """Take one token, waiting until the bucket holds one."""
        if self._rate == 0:
            return
        self._refill()
        if self._tokens < 1:
            self._wait_for_token()
        self._tokens -= 1

    def _refill(self) -> None:
        """Add the tokens earned since the last look, up to the bucket's size."""
        now = self._clock()
        earned = max(0.0, now - self._stamp) * self._rate
        self._tokens = min(self._burst, self._tokens + earned)
        self._stamp = max(self._stamp, now)

    def _wait_for_token(self) -> None:
        """Sleep until exactly one token is due, and book it as of that moment.

        Booking by arithmetic instead of re-reading the clock avoids both a busy loop on
        float round-off and letting an early wake-up sneak in an extra request.
        """
        delay = (1 - self._tokens) / self._rate
        self._sleep(delay)
        self._tokens = 1.0
        self._stamp += delay
