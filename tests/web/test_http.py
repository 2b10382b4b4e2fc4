"""The request transaction: a change that succeeds is kept, a refusal or an error leaves nothing,
a read never writes, and a view can keep its work on purpose when it refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from inventory.errors import AlreadyExistsError
from inventory.models import Account
from web.accounts import add_account
from web.http import db, keep_despite_refusal
from web.security import public


@pytest.fixture
def tx_app(app: Flask) -> Flask:
    """The real app with one extra endpoint that writes an account and answers as told."""

    @app.route("/api/tx-probe/<name>", methods=["GET", "POST", "PUT", "DELETE"])
    @public
    def probe(name: str) -> tuple[str, int]:
        add_account(db(), name, "a long enough password", "viewer")
        db().flush()
        if request.args.get("raise"):
            raise AlreadyExistsError("refused after writing")
        if request.args.get("keep"):
            keep_despite_refusal()
        return "done", int(request.args.get("status", "200"))

    return app


def _names(factory: sessionmaker[Session]) -> set[str]:
    """The account names stored, read in a session of its own."""
    with factory() as session:
        return set(session.scalars(select(Account.name)))


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [200, 201, 204, 302])
def test_a_change_that_succeeds_is_kept(
    tx_app: Flask,
    session_factory: sessionmaker[Session],
    bearer: Callable[[str], dict[str, str]],
    method: str,
    status: int,
) -> None:
    answer = tx_app.test_client().open(
        f"/api/tx-probe/kept?status={status}", method=method, headers=bearer("admin")
    )
    assert answer.status_code == status
    assert "kept" in _names(session_factory)


@pytest.mark.parametrize("status", [400, 404, 409, 422, 500])
def test_a_refusal_leaves_nothing_written(
    tx_app: Flask,
    session_factory: sessionmaker[Session],
    bearer: Callable[[str], dict[str, str]],
    status: int,
) -> None:
    answer = tx_app.test_client().post(
        f"/api/tx-probe/gone?status={status}", headers=bearer("admin")
    )
    assert answer.status_code == status
    assert "gone" not in _names(session_factory)


def test_an_error_raised_after_writing_leaves_nothing_written(
    tx_app: Flask, session_factory: sessionmaker[Session], bearer: Callable[[str], dict[str, str]]
) -> None:
    answer = tx_app.test_client().post("/api/tx-probe/gone?raise=1", headers=bearer("admin"))
    assert answer.status_code == 409
    assert answer.get_json()["error"]["message"] == "refused after writing"
    assert "gone" not in _names(session_factory)


def test_a_read_never_writes(
    tx_app: Flask, session_factory: sessionmaker[Session], bearer: Callable[[str], dict[str, str]]
) -> None:
    assert (
        tx_app.test_client().get("/api/tx-probe/read", headers=bearer("admin")).status_code == 200
    )
    assert "read" not in _names(session_factory)


def test_a_view_may_keep_its_work_when_it_refuses(
    tx_app: Flask, session_factory: sessionmaker[Session], bearer: Callable[[str], dict[str, str]]
) -> None:
    answer = tx_app.test_client().post(
        "/api/tx-probe/counted?status=401&keep=1", headers=bearer("admin")
    )
    assert answer.status_code == 401
    assert "counted" in _names(session_factory)
