"""The OpenAPI document: valid OpenAPI 3.0, complete, and true to what the live API answers."""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.api.conftest import Headers

DOCUMENT = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Invalid requests must also be refused with a 4xx.
MODES = (
    (GenerationMode.POSITIVE, CHECKS),
    (GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection]),
)
# Few examples per operation and derandomized generation: the run is the same every time.
EXAMPLES = settings(
    max_examples=8,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_the_document_is_valid_openapi_and_covers_every_api_route(
    app: Flask, client: FlaskClient
) -> None:
    answer = client.get(DOCUMENT)
    assert answer.status_code == 200
    document = answer.get_json()
    schemathesis.openapi.from_dict(document).validate()
    assert document["openapi"] == "3.0.3" and document["servers"] == [{"url": "/api/v1"}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    routes = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == routes
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            _assert_errors_use_the_envelope(f"{method} {path}", op)


def _openapi_path(rule: str) -> str:
    """A Flask rule written as an OpenAPI path."""
    return re.sub(r"<(?:[^:>]*:)?(\w+)>", r"{\1}", rule.removeprefix("/api/v1"))


def _assert_errors_use_the_envelope(where: str, op: dict[str, Any]) -> None:
    """Every 4xx/5xx answer of an operation is the error envelope."""
    errors = {code: r for code, r in op["responses"].items() if code >= "400"}
    assert "400" in errors, where
    for code, response in errors.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, f"{where} {code}"
    if op.get("security") != []:
        assert {"401", "403"} <= set(errors), where


def test_the_live_api_answers_as_documented(app: Flask, admin: Headers) -> None:
    """Generated requests (valid and invalid) against every operation, as the admin: never a
    5xx, and every answer's status, content type, headers and body match the document."""
    schema = schemathesis.openapi.from_wsgi(DOCUMENT, app)
    # Every call carries the admin's token: a case "without the token" would be sent with it,
    # and its 2xx taken for accepted invalid data. Refusals without a token are tested apart.
    schema.config.generation.update(with_security_parameters=False)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, checks in MODES:
            try:
                _fuzz(operation.as_strategy(mode), admin, checks)
            except Unsatisfiable:
                # only in negative mode: an operation whose every part accepts any value
                # (with the token fixed) has no invalid request to send
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # every operation is tried; all failures are reported
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def _fuzz(strategy: Any, headers: Headers, checks: list[Any]) -> None:
    """Send the strategy's cases and check each answer."""

    @EXAMPLES
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=checks)

    run()
