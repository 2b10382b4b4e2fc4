"""Every API error comes in the one envelope, with the right status; roles are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.web.api.conftest import Bearer
from tests.web.conftest import SignIn, csrf_of

CRED = {"name": "k", "username": "some-api-key-123"}


def _send(client: FlaskClient, headers: dict[str, str], request: dict[str, Any]) -> Any:
    """Send one request of a case, with the case's extra headers."""
    method, path = request["method"], request["path"]
    extra = {k: v for k, v in request.items() if k not in ("method", "path", "headers")}
    return client.open(
        path, method=method, headers={**headers, **request.get("headers", {})}, **extra
    )


CASES = [
    (400, "bad_request", "the body is not valid JSON",
     {"method": "POST", "path": "/api/v1/credentials", "data": "{nope",
      "headers": {"Content-Type": "application/json"}}),
    (401, "unauthorized", "invalid or revoked API token",
     {"method": "GET", "path": "/api/v1/people", "headers": {"Authorization": "Bearer ivs_no"}}),
    (404, "not_found", "no integration named 'ghost'",
     {"method": "GET", "path": "/api/v1/integrations/ghost"}),
    (404, "not_found", "The requested URL was not found",
     {"method": "GET", "path": "/api/v1/no-such-thing"}),
    (405, "method_not_allowed", "The method is not allowed",
     {"method": "DELETE", "path": "/api/v1/people"}),
    (415, "unsupported_media_type", "send the body as JSON",
     {"method": "POST", "path": "/api/v1/credentials", "data": "name=k",
      "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
    (422, "invalid", "the request is invalid: see details",
     {"method": "POST", "path": "/api/v1/credentials", "json": {**CRED, "colour": "red"}}),
    (422, "invalid", "the request is invalid: see details",
     {"method": "POST", "path": "/api/v1/credentials", "json": ["not", "an", "object"]}),
]  # fmt: skip


@pytest.mark.parametrize(("status", "code", "says", "request_"), CASES)
def test_errors_come_in_the_one_envelope(
    client: FlaskClient, bearer: Bearer, status: int, code: str, says: str, request_: dict
) -> None:
    answer = _send(client, bearer("admin"), request_)
    assert answer.status_code == status
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message", "details"}
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)
    assert says in body["error"]["message"]


def test_a_name_taken_twice_is_a_conflict(client: FlaskClient, bearer: Bearer) -> None:
    admin = bearer("admin")
    assert client.post("/api/v1/credentials", headers=admin, json=CRED).status_code == 201
    again = client.post("/api/v1/credentials", headers=admin, json=CRED)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert "'k'" in again.get_json()["error"]["message"]


def test_field_problems_are_named_in_details(client: FlaskClient, bearer: Bearer) -> None:
    answer = client.post(
        "/api/v1/integrations",
        headers=bearer("admin"),
        json={"name": "x", "max_rps": "fast", "colour": "red"},
    )
    assert answer.get_json()["error"]["details"] == {
        "credential": ["Missing data for required field."],
        "max_rps": ["Not a valid number."],
        "colour": ["Unknown field."],
    }


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("viewer", "GET", "/api/v1/people", True),
        ("viewer", "GET", "/api/v1/workflows", True),
        ("viewer", "GET", "/api/v1/changes", True),
        ("viewer", "POST", "/api/v1/workflows", False),
        ("viewer", "GET", "/api/v1/approvals", False),
        ("author", "GET", "/api/v1/approvals", True),
        ("author", "GET", "/api/v1/integrations", False),
        ("author", "POST", "/api/v1/integrations/lever/runs", False),
        ("author", "POST", "/api/v1/runs/1/cancel", False),
        ("author", "DELETE", "/api/v1/credentials/k", False),
    ],
)
def test_each_role_reaches_only_its_endpoints(
    client: FlaskClient, bearer: Bearer, role: str, method: str, path: str, allowed: bool
) -> None:
    answer = client.open(path, method=method, headers=bearer(role))
    assert (answer.status_code != 403) is allowed, answer.get_json()
    if not allowed:
        assert answer.get_json()["error"]["code"] == "forbidden"


def test_a_browser_session_needs_the_csrf_token_to_change_anything(signed_in: SignIn) -> None:
    browser = signed_in("admin")
    assert browser.get("/api/v1/credentials").status_code == 200
    refused = browser.post("/api/v1/credentials", json=CRED)
    assert refused.status_code == 403 and "security token" in refused.get_json()["error"]["message"]
    token = csrf_of(browser, "/")
    made = browser.post("/api/v1/credentials", json=CRED, headers={"X-CSRF-Token": token})
    assert made.status_code == 201


def test_without_a_token_the_api_asks_for_one(client: FlaskClient) -> None:
    answer = client.get("/api/v1/runs/1")
    assert answer.status_code == 401
    assert answer.get_json()["error"]["message"].startswith("sign in first")
    assert client.get("/api/v1/openapi.json").status_code == 200, "the document is public"
