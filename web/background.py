"""Syncs started from a browser or the API: run in a background thread, answered with the run id.

The request returns as soon as the run is recorded (or with the reason it cannot start: not
launched, already running, no credential); the run goes on in the `invsync serve` process and
its progress and result are in the run ledger like any other run.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from inventory.errors import InvsyncError
from inventory.settings import Settings
from web.jobs import sync_with_events

__all__ = ["START_WAIT", "start_sync"]

log = logging.getLogger("invsync.web")
START_WAIT = 30.0


def start_sync(
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    *,
    trigger: str = "web",
    wait: float = START_WAIT,
    **options: Any,
) -> int:
    """Start a sync of the named integration in a thread and return its run id once recorded."""
    started: queue.Queue[int | BaseException] = queue.Queue()

    def work() -> None:
        try:
            sync_with_events(
                factory, settings, name, trigger=trigger, on_start=started.put, **options
            )
        except BaseException as exc:  # before the start the caller re-raises it; after, logged
            started.put(exc)
            log.warning("sync of %s ended with an error: %s", name, _line(exc))

    threading.Thread(target=work, name=f"invsync-sync-{name}", daemon=True).start()
    first = started.get(timeout=wait)
    if isinstance(first, BaseException):
        raise first
    return first


def _line(exc: BaseException) -> str:
    """A safe one-line description of what stopped a background sync."""
    return " ".join(str(exc).split()) if isinstance(exc, InvsyncError) else type(exc).__name__
