"""What `create_app` builds once per app, and the one accessor views and the API reach it by.

Settings, the engine, the session factory and the workflow block registry are made when the app
is made (not on first use, not looked up by string in each view), so every request of an app
sees the same objects and a test can reach them through the app it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from inventory.settings import Settings
from workflows.registry import Registry

__all__ = ["AppState", "app_state", "install"]

_KEY = "invsync"


@dataclass(frozen=True)
class AppState:
    """One app's instance settings, database engine, session factory and block registry."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: Registry


def install(app: Flask, state: AppState) -> None:
    """Attach the state to the app it was built for."""
    app.extensions[_KEY] = state


def app_state(app: Flask | None = None) -> AppState:
    """The state of the given app, or of the app handling the current request."""
    found = (app or current_app).extensions[_KEY]
    assert isinstance(found, AppState)
    return found
