"""What `create_app` builds once per app, and the one accessor views and the API reach it by.

Settings, the engine, the session factory and the workflow block registry are made when the app
is made (not on first use, not looked up by string in each view), so every request of an app
sees the same objects and a test can reach them through the app it holds.

Two extension points serve `/readyz` and `/metrics`: `readiness_checks`, extra named checks run
after the built-in database and schema checks (each a callable that returns when ready and
raises an exception whose message says why not), and `queue_depth`, a callable returning the
number of waiting tasks by queue name (none: the metric is left out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from inventory.settings import Settings
from workflows.registry import Registry

if TYPE_CHECKING:
    from web.tasks import TaskEngine

__all__ = ["AppState", "QueueDepth", "ReadinessCheck", "app_state", "install"]

_KEY = "invsync"

# Returns when the part it checks is ready; raises an exception saying why when it is not.
ReadinessCheck = Callable[[], object]
# The number of tasks waiting in each queue, by queue name.
QueueDepth = Callable[[], Mapping[str, int]]


@dataclass(frozen=True)
class AppState:
    """One app's instance settings, database engine, session factory and block registry, and
    what the operations endpoints ask beyond the database."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: Registry
    readiness_checks: tuple[tuple[str, ReadinessCheck], ...] = ()
    queue_depth: QueueDepth | None = None
    tasks: TaskEngine | None = None


def install(app: Flask, state: AppState) -> None:
    """Attach the state to the app it was built for."""
    app.extensions[_KEY] = state


def app_state(app: Flask | None = None) -> AppState:
    """The state of the given app, or of the app handling the current request."""
    found = (app or current_app).extensions[_KEY]
    assert isinstance(found, AppState)
    return found
