"""Each error class states its exit code and HTTP status, and the app answers with exactly those.

The table is the contract: the command line exits with `exit_code`, the web app and the API
answer with `http_status`, and every class says both itself, in its package's errors module.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector import errors as connector_errors
from inventory import errors as inventory_errors
from inventory.errors import ExitCode, InvsyncError
from tests.web.conftest import SignIn
from vault import errors as vault_errors
from web import errors as web_errors
from web.api.envelope import CODES
from web.security import public
from workflows import errors as workflows_errors

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("inventory", "vault", "connector", "workflows", "web")
FAILED, USAGE, RUNNING = ExitCode.FAILED, ExitCode.USAGE, ExitCode.RUNNING

TABLE: list[tuple[type[InvsyncError], ExitCode, int]] = [
    (inventory_errors.InvsyncError, FAILED, 500),
    (inventory_errors.ConfigError, USAGE, 400),
    (inventory_errors.NotFoundError, USAGE, 404),
    (inventory_errors.AlreadyExistsError, USAGE, 409),
    (inventory_errors.RuleError, USAGE, 400),
    (inventory_errors.DatabaseError, USAGE, 400),
    (vault_errors.VaultError, FAILED, 500),
    (vault_errors.MasterKeyError, USAGE, 400),
    (vault_errors.DecryptError, USAGE, 400),
    (vault_errors.CredentialNotFoundError, USAGE, 404),
    (vault_errors.CredentialExistsError, USAGE, 409),
    (connector_errors.ConnectorError, FAILED, 502),
    (connector_errors.ConnectorConfigError, USAGE, 400),
    (connector_errors.MappingError, USAGE, 400),
    (connector_errors.LaunchError, USAGE, 400),
    (connector_errors.NotLaunchedError, USAGE, 400),
    (connector_errors.ScheduleError, USAGE, 400),
    (connector_errors.AlreadyRunningError, RUNNING, 409),
    (connector_errors.NotQueuedError, FAILED, 409),
    (connector_errors.FatalError, FAILED, 502),
    (connector_errors.LeverAuthError, FAILED, 502),
    (connector_errors.LeverPermissionError, FAILED, 502),
    (connector_errors.LeverNotFoundError, FAILED, 502),
    (connector_errors.LeverRequestError, FAILED, 502),
    (connector_errors.LeverUnavailableError, FAILED, 502),
    (connector_errors.LeverResponseError, FAILED, 502),
    (connector_errors.PaginationError, FAILED, 502),
    (connector_errors.RetriableError, FAILED, 502),
    (connector_errors.RecordError, FAILED, 502),
    (connector_errors.HireError, FAILED, 502),
    (connector_errors.EmailFormatError, USAGE, 400),
    (connector_errors.WebhookRefused, FAILED, 401),
    (connector_errors.WebhookMalformed, FAILED, 400),
    (workflows_errors.WorkflowInvalid, USAGE, 400),
    (workflows_errors.WorkflowStateError, USAGE, 400),
    (workflows_errors.WorkflowNotFound, USAGE, 404),
    (workflows_errors.WorkflowExists, USAGE, 409),
    (workflows_errors.WorkflowError, FAILED, 500),
    (workflows_errors.RunFailed, FAILED, 500),
    (web_errors.AccountError, USAGE, 400),
    (web_errors.AuthError, USAGE, 401),
    (web_errors.LoginThrottledError, USAGE, 429),
    (web_errors.ForbiddenError, USAGE, 403),
    (web_errors.HookClosedError, USAGE, 409),
]  # fmt: skip
CLASSES = [cls for cls, _, _ in TABLE]

# How to build an error whose constructor takes more than its message.
BUILD: dict[type[InvsyncError], Callable[[], InvsyncError]] = {
    vault_errors.DecryptError: lambda: vault_errors.DecryptError("k"),
    vault_errors.CredentialNotFoundError: lambda: vault_errors.CredentialNotFoundError("k"),
    vault_errors.CredentialExistsError: lambda: vault_errors.CredentialExistsError("k"),
    connector_errors.LeverAuthError: connector_errors.LeverAuthError,
    connector_errors.LeverPermissionError: connector_errors.LeverPermissionError,
    connector_errors.LeverNotFoundError: lambda: connector_errors.LeverNotFoundError("/users/x"),
    connector_errors.LeverRequestError: lambda: connector_errors.LeverRequestError(
        400, "BadRequest", "no such field", request="GET /users"
    ),
    connector_errors.LeverUnavailableError: lambda: connector_errors.LeverUnavailableError(
        3, 1.5, connector_errors.RetriableError("HTTP 503", status=503)
    ),
    connector_errors.RecordError: lambda: connector_errors.RecordError("a@example.com", "bad"),
    connector_errors.HireError: lambda: connector_errors.HireError("opp-1", "no signed offer"),
    workflows_errors.WorkflowInvalid: lambda: workflows_errors.WorkflowInvalid(["blocks: none"]),
}


def name_of(value: object) -> str:
    """A readable test id: a class by its name, anything else as it prints."""
    return value.__name__ if isinstance(value, type) else str(value)


def build(cls: type[InvsyncError]) -> InvsyncError:
    """An instance of the error class, with a message that spans lines where the class allows."""
    return BUILD.get(cls, lambda: cls("something\nto fix"))()


def product_errors() -> Iterator[type[InvsyncError]]:
    """InvsyncError and every subclass defined in the five packages."""
    todo: list[type[InvsyncError]] = [InvsyncError]
    while todo:
        cls = todo.pop()
        if cls.__module__.partition(".")[0] in PACKAGES:
            yield cls
        todo.extend(cls.__subclasses__())


def error_subclasses_outside_errors_modules() -> list[str]:
    """Classes of the five packages that subclass a known error outside an errors module."""
    names = {cls.__name__ for cls in CLASSES}
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "errors.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                bases = [ast.unparse(b).rpartition(".")[2] for b in getattr(node, "bases", ())]
                if isinstance(node, ast.ClassDef) and names.intersection(bases):
                    found.append(f"{path.relative_to(ROOT)}: class {node.name}")
    return found


def test_the_exit_codes_are_named_in_one_place() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "USAGE": 2,
        "RECORD_ERRORS": 3,
        "RUNNING": 4,
        "INTERRUPTED": 130,
    }


def test_the_table_names_every_error_class() -> None:
    assert set(product_errors()) == set(CLASSES)
    assert len(CLASSES) == len(set(CLASSES))
    assert error_subclasses_outside_errors_modules() == []


@pytest.mark.parametrize(("cls", "exit_code", "http_status"), TABLE, ids=name_of)
def test_each_class_states_its_exit_code_and_http_status(
    cls: type[InvsyncError], exit_code: ExitCode, http_status: int
) -> None:
    package = cls.__module__.partition(".")[0]
    assert cls.__module__ == f"{package}.errors", "declared in its package's errors module"
    assert "exit_code" in vars(cls) and "http_status" in vars(cls), "declared, not inherited"
    assert (cls.exit_code, cls.http_status) == (exit_code, http_status)
    assert isinstance(cls.exit_code, ExitCode)
    error = build(cls)
    assert type(error) is cls and (error.exit_code, error.http_status) == (exit_code, http_status)


def _raising_app(app: Flask) -> Flask:
    """The app with a public API route and page that raise the error class named in the URL."""
    by_name = {cls.__name__: cls for cls in CLASSES}

    @public
    def raise_error(name: str) -> Any:
        raise build(by_name[name])

    app.add_url_rule("/api/v1/test-raise/<name>", "api_test_raise", raise_error)
    app.add_url_rule("/test-raise/<name>", "test_raise", raise_error)
    return app


@pytest.fixture(scope="module")
def raising_app(module_app: Flask) -> Flask:
    """The module's shared app with the raising routes, added once (the raising tests neither
    sign in nor write)."""
    return _raising_app(module_app)


@pytest.fixture
def raising(raising_app: Flask) -> FlaskClient:
    """A client of the app that has the raising routes."""
    return raising_app.test_client()


@pytest.mark.parametrize("cls", CLASSES, ids=name_of)
def test_the_api_answers_each_error_with_its_http_status(
    raising: FlaskClient, cls: type[InvsyncError]
) -> None:
    error = build(cls)
    answer = raising.get(f"/api/v1/test-raise/{cls.__name__}")
    assert answer.status_code == cls.http_status
    assert answer.get_json() == {
        "error": {
            "status": cls.http_status,
            "code": CODES.get(cls.http_status, "error"),
            "message": " ".join(str(error).split()),
            "details": getattr(error, "problems", None),
        }
    }


@pytest.mark.parametrize("cls", CLASSES, ids=name_of)
def test_a_page_answers_each_error_with_its_http_status(
    raising: FlaskClient, cls: type[InvsyncError]
) -> None:
    answer = raising.get(f"/test-raise/{cls.__name__}")
    assert answer.status_code == cls.http_status
    assert answer.mimetype == "text/html"


REAL = [
    (inventory_errors.NotFoundError, "GET", "/api/v1/integrations/ghost", "no integration named"),
    (inventory_errors.NotFoundError, "GET", "/api/v1/runs/999999", "no run with id 999999"),
    (vault_errors.CredentialNotFoundError, "GET", "/api/v1/credentials/ghost", "no credential"),
    (workflows_errors.WorkflowNotFound, "GET", "/api/v1/workflows/ghost", "no workflow named"),
    (inventory_errors.RuleError, "GET", "/api/v1/people?rule={", "rule: not valid JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("cls", "method", "path", "says"), REAL, ids=name_of)
def test_endpoints_answer_the_errors_they_raise_with_their_http_status(
    client: FlaskClient,
    bearer: Callable[[str], dict[str, str]],
    cls: type[InvsyncError],
    method: str,
    path: str,
    says: str,
) -> None:
    answer = client.open(path, method=method, headers=bearer("admin"))
    assert answer.status_code == cls.http_status, answer.get_json()
    assert says in answer.get_json()["error"]["message"]


def test_a_taken_name_a_bad_token_and_a_missing_role_answer_their_statuses(
    client: FlaskClient, bearer: Callable[[str], dict[str, str]], signed_in: SignIn
) -> None:
    admin, cred = bearer("admin"), {"name": "k", "username": "some-api-key-123"}
    assert client.post("/api/v1/credentials", headers=admin, json=cred).status_code == 201
    taken = client.post("/api/v1/credentials", headers=admin, json=cred)
    assert taken.status_code == vault_errors.CredentialExistsError.http_status
    no_token = client.get("/api/v1/people", headers={"Authorization": "Bearer ivs_no"})
    assert no_token.status_code == web_errors.AuthError.http_status
    viewer = client.post("/api/v1/workflows", headers=bearer("viewer"), json={})
    assert viewer.status_code == web_errors.ForbiddenError.http_status
    no_csrf = signed_in("admin").post("/api/v1/credentials", json=cred)
    assert no_csrf.status_code == web_errors.ForbiddenError.http_status
