"""Syncs started from a browser or the API: queued for the task engine, answered with the run id.

The request returns as soon as the run is recorded as `queued` (or with the reason it cannot
start: not launched, already running, no credential); a worker, or on SQLite the serving
process's own small pool (`web.tasks`), starts it, and its progress and result are in the run
ledger like any other run. A second request while a run waits is answered with that run.
"""

from __future__ import annotations

from web.appstate import app_state
from web.tasks import Runtime, queue_sync

__all__ = ["start_sync"]


def start_sync(name: str, *, trigger: str = "web") -> int:
    """Queue a sync of the named integration on the app's task engine; the waiting run's id."""
    state = app_state()
    assert state.tasks is not None, "the app was built without a task engine"
    return queue_sync(Runtime(state.sessions, state.settings), state.tasks, name, trigger)
