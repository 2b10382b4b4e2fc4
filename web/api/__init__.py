"""The JSON API under /api/v1: bearer tokens, one error envelope, an OpenAPI 3 document.

Each area's endpoints live in a module of this package and attach to `bp`; `web.app` registers it.
"""

from __future__ import annotations

import importlib

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Modules that add endpoints to `bp` when imported, in the order the OpenAPI document lists them.
AREAS = ("web.api.me",)

for _name in AREAS:
    importlib.import_module(_name)
