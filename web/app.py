"""The Flask app factory: sessions per request, security, error pages and every blueprint.

Nothing global happens at import time: `create_app(settings)` builds the engine, the session
factory and the app. The scheduler runs beside it in `invsync serve`, not inside the factory.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

from flask import Flask

from inventory.db import make_engine, make_sessionmaker, require_schema
from inventory.settings import Settings
from web import failures, http, security
from web.appstate import AppState, install
from web.tasks import Runtime, build_engine
from workflows.registry import load_registry

__all__ = ["BLUEPRINTS", "create_app"]

# The HTML areas and the operations endpoints, one blueprint module each under web/views/, and
# the JSON API under /api/v1.
BLUEPRINTS = (
    "web.views.auth",
    "web.views.dashboard",
    "web.views.lists",
    "web.views.credentials",
    "web.views.integrations",
    "web.views.hires",
    "web.views.workflows",
    "web.views.reports",
    "web.views.admin",
    "web.views.ops",
    "web.views.hooks",
    "web.api",
)
MAX_UPLOAD = 5 * 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app for one instance."""
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=security.load_secret_key(settings),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=MAX_UPLOAD,
        JSON_SORT_KEYS=False,
    )
    engine = make_engine(settings)
    require_schema(engine)
    sessions = make_sessionmaker(engine)
    tasks = build_engine(Runtime(sessions, settings))
    install(
        app,
        AppState(
            settings, engine, sessions, load_registry(),
            readiness_checks=(("queue", tasks.check),), queue_depth=tasks.depth, tasks=tasks,
        ),
    )  # fmt: skip
    http.init_app(app)
    security.init_app(app, settings)
    failures.init_app(app)
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
    return app
