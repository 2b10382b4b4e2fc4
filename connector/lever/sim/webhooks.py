"""Lever's webhooks as the simulator sends them: signed JSON POSTs from one background daemon
thread, in order per webhook, a failed try (non-2xx or no answer) retried with exponential
backoff up to `MAX_TRIES` tries in all, then dropped.

The thread starts with the first delivery and ends when nothing is left to send, so a simulator
without webhooks never has one. The `User-Agent` is assumed (Lever does not document it)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

from connector.hires.signature import sign
from connector.lever.sim.responses import to_json

__all__ = ["EVENTS", "MAX_TRIES", "WebhookSender", "sign"]

EVENTS = (
    "applicationCreated", "candidateHired", "candidateStageChange", "candidateArchiveChange",
    "candidateDeleted",
)  # fmt: skip
MAX_TRIES = 5
TIMEOUT = 5.0
HEADERS = {"Content-Type": "application/json", "User-Agent": "Lever-Webhooks/1.0"}


@dataclass
class _Delivery:
    """One event on its way to one webhook: the body (the same on every try) and its tries."""

    event: str
    token: str
    body: bytes
    tries: int = 0
    due: float = 0.0


@dataclass
class _Webhook:
    """A configured receiver, the events it wants and its deliveries still to make, in order."""

    url: str
    events: frozenset[str]
    signature_token: str
    queue: deque[_Delivery] = field(default_factory=deque)


class WebhookSender:
    """Every configured webhook and the thread delivering to them; thread-safe."""

    def __init__(self, backoff: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff = backoff
        self._clock = clock
        self._hooks: list[_Webhook] = []
        self._log: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._running = self._stopped = False

    def add(self, url: str, events: Iterable[str] | None, signature_token: str) -> None:
        """Configure one more webhook (all events when none are named); re-arms after stop."""
        wanted = frozenset(EVENTS if events is None else events)
        unknown = wanted - set(EVENTS)
        if unknown:
            raise ValueError(f"unknown webhook events {sorted(unknown)}; expected some of {EVENTS}")
        with self._cond:
            self._hooks.append(_Webhook(url, wanted, signature_token))
            self._stopped = False

    def publish(self, event: str, data: dict[str, Any], triggered_at: int) -> None:
        """Queue an event for every webhook that wants it, each delivery with its own token."""
        with self._cond:
            hooks = [h for h in self._hooks if event in h.events and not self._stopped]
            for hook in hooks:
                token = secrets.token_hex(16)
                body = {"triggeredAt": triggered_at, "event": event,
                        "signature": sign(hook.signature_token, token, triggered_at),
                        "token": token, "data": data}  # fmt: skip
                hook.queue.append(_Delivery(event, token, to_json(body), due=self._clock()))
            if hooks:
                self._start()
                self._cond.notify_all()

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every try made so far: event, url, attempt, status, error and token."""
        with self._cond:
            return [dict(entry) for entry in self._log]

    def wait(self, timeout: float) -> bool:
        """Whether every queued delivery was made (or given up) within the timeout."""
        with self._cond:
            return self._cond.wait_for(self._idle, timeout)

    def stop(self) -> None:
        """Drop what is still queued and wait for the thread to end (idempotent)."""
        with self._cond:
            self._stopped = True
            for hook in self._hooks:
                hook.queue.clear()
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join()

    # -- the delivery thread -----------------------------------------------------------------

    def _idle(self) -> bool:
        """Whether nothing is queued or waiting for a retry."""
        return not any(hook.queue for hook in self._hooks)

    def _start(self) -> None:
        """Start the delivery thread unless one is running (the lock is held)."""
        if self._running:
            return
        self._running = True
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._run, name="lever-sim-webhooks", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self) -> None:
        """Make deliveries, never holding the lock while sending, until nothing is left."""
        while (job := self._next()) is not None:
            hook, delivery = job
            status, error = _post(hook.url, delivery.body)
            self._settle(hook, delivery, status, error)

    def _next(self) -> tuple[_Webhook, _Delivery] | None:
        """The delivery due first, once it is due; None (and the thread ends) when idle."""
        with self._cond:
            while not self._stopped and not self._idle():
                hook = min((h for h in self._hooks if h.queue), key=lambda h: h.queue[0].due)
                wait = hook.queue[0].due - self._clock()
                if wait <= 0:
                    return hook, hook.queue[0]
                self._cond.wait(wait)
            self._running = False
            return None

    def _settle(
        self, hook: _Webhook, delivery: _Delivery, status: int | None, error: str | None
    ) -> None:
        """Log a try; then done (2xx, or out of tries) or due again after the backoff."""
        with self._cond:
            delivery.tries += 1
            entry = {"event": delivery.event, "url": hook.url, "attempt": delivery.tries}
            self._log.append({**entry, "status": status, "error": error, "token": delivery.token})
            if self._stopped:
                return
            if (status is not None and 200 <= status < 300) or delivery.tries >= MAX_TRIES:
                hook.queue.popleft()
            else:
                delivery.due = self._clock() + self.backoff * 2 ** (delivery.tries - 1)
            self._cond.notify_all()


def _post(url: str, body: bytes) -> tuple[int | None, str | None]:
    """POST one body: the status and, when it is not a 2xx or nothing came back, why."""
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(url, data=body, headers=HEADERS, timeout=TIMEOUT)
            response.close()
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"
    ok = 200 <= response.status_code < 300
    return response.status_code, None if ok else f"HTTP {response.status_code}"
