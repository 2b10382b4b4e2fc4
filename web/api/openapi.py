"""`GET /api/v1/openapi.json`: the OpenAPI 3.0 document, built from the views' `@operation` marks.

Every route of the API blueprint becomes an operation: its path parameters come from the URL
rule, its query parameters, body and answers from the marshmallow schemas, and every error it
may answer is described by the one error envelope. Bearer tokens secure all but this document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app
from werkzeug.routing import Rule

from web.api import bp, schemas
from web.api.envelope import CODES
from web.api.spec import Answers, Operation, operation, operation_of
from web.security import public, required_role

__all__ = ["build_document"]

PREFIX = "/api/v1"
TITLE = "invsync API"
VERSION = "1"
_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_STRING = {"type": "string"}
_TYPES = {"int": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
_WHY = {
    400: "The request cannot be used as sent (bad JSON, a bad filter, a state that forbids it).",
    401: "No valid bearer token or session.",
    403: "The account's role does not allow this.",
    404: "No such object.",
    409: "The name is taken, or the integration is already running.",
    415: "The body is not application/json.",
    422: "The body or query string does not fit the schema; details name each field.",
    502: "Lever refused or could not be reached.",
}
_SUCCESS = {200: "OK", 201: "Created", 202: "Accepted: the run goes on in the background.",
            204: "Done; no content."}  # fmt: skip


@bp.get("/openapi.json")
@public
@operation("meta")
def openapi_json() -> dict[str, Any]:
    """The OpenAPI 3.0 document of this API."""
    return build_document(current_app)


def build_document(app: Flask) -> dict[str, Any]:
    """The document for every documented route of the API blueprint."""
    spec = APISpec(
        title=TITLE, version=VERSION, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()], servers=[{"url": PREFIX}],
        security=[{"bearerAuth": []}],
    )  # fmt: skip
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=schemas.Error)
    for path, operations in _paths(app):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _paths(app: Flask) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each API path with its operations, in the order the routes were added."""
    grouped: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        op = operation_of(view)
        if not rule.endpoint.startswith(f"{bp.name}.") or op is None:
            continue
        path = _ARG.sub(r"{\2}", rule.rule.removeprefix(PREFIX))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            grouped.setdefault(path, {})[method.lower()] = _operation(rule, view, op)
    yield from grouped.items()


def _operation(rule: Rule, view: Any, op: Operation) -> dict[str, Any]:
    """One OpenAPI operation of a view."""
    doc = (view.__doc__ or "").strip()
    found: dict[str, Any] = {
        "tags": [op.tag],
        "summary": doc.splitlines()[0] if doc else rule.endpoint,
        "operationId": rule.endpoint.removeprefix(f"{bp.name}."),
        "parameters": _parameters(rule, op),
        "responses": {**_successes(op), **_errors(rule, view, op)},
    }
    if op.body is not None:
        content = {"application/json": {"schema": op.body}}
        found["requestBody"] = {"required": not op.body_optional, "content": content}
    if required_role(view) == "public":
        found["security"] = []
    return found


def _parameters(rule: Rule, op: Operation) -> list[dict[str, Any]]:
    """The path parameters of the rule and the query parameters of the schema."""
    params = [
        {"in": "path", "name": name, "required": True, "schema": _TYPES.get(kind, _STRING)}
        for kind, name in _ARG.findall(rule.rule)
    ]
    if op.query is not None:
        params.append({"in": "query", "schema": op.query})
    return params


def _content(schema: Answers) -> Any:
    """The schema of an answer: one shape, one of several, or any object."""
    if schema is None:
        return {"type": "object"}
    if isinstance(schema, tuple):
        return {"oneOf": list(schema)}
    return schema


def _successes(op: Operation) -> dict[str, Any]:
    """The success answers: their schemas and headers."""
    answers: dict[str, Any] = {}
    for status, schema in op.responses.items():
        answer: dict[str, Any] = {"description": _SUCCESS.get(status, "OK")}
        if status != 204:
            answer["content"] = {"application/json": {"schema": _content(schema)}}
        headers = op.headers.get(status, ())
        if headers:
            answer["headers"] = {h: {"schema": {"type": "string"}} for h in headers}
        answers[str(status)] = answer
    return answers


def _errors(rule: Rule, view: Any, op: Operation) -> dict[str, Any]:
    """The error answers a view may give, each in the one envelope."""
    statuses = {400, *op.errors}
    if required_role(view) != "public":
        statuses |= {401, 403}
    if rule.arguments:
        statuses.add(404)
    if op.body is not None:
        statuses |= {415, 422}
    if op.query is not None:
        statuses.add(422)
    envelope = {"application/json": {"schema": "Error"}}
    return {
        str(s): {"description": _WHY.get(s, CODES.get(s, "error")), "content": envelope}
        for s in sorted(statuses)
    }
