"""The JSON API under /api/v1: bearer tokens, one error envelope, an OpenAPI 3 document.

Each area's endpoints live in a module of this package and attach to `bp`; `web.app` registers it.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, Response, request
from marshmallow import ValidationError

from web.api.envelope import error_response
from web.api.spec import check_text

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _storable_text() -> None:
    """Path and query values must be text the database can hold (checked after sign-in)."""
    check_text(dict(request.view_args or {}))
    check_text([value for pair in request.args.items(multi=True) for value in pair])


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    """A request body or query string the schemas refuse: 422, marshmallow's messages as details."""
    return error_response(422, "the request is invalid: see details", exc.messages)


# Modules that add endpoints to `bp` when imported, in the order the OpenAPI document lists them.
AREAS = (
    "web.api.me",
    "web.api.inventory",
    "web.api.credentials",
    "web.api.integrations",
    "web.api.runs",
    "web.api.workflows",
    "web.api.changes",
    "web.api.openapi",
)

for _name in AREAS:
    importlib.import_module(_name)
