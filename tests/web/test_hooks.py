"""`POST /hooks/lever/<integration>`: Lever's signed webhooks are stored and answered at once;
a forged, stale, replayed or malformed one is refused with one line, and nothing is stored."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.hires.signature import sign
from inventory.models import HireEvent
from inventory.settings import Settings
from tests.conftest import WEBHOOK_TOKEN, create_hires, create_lever

URL = "/hooks/lever/hires"


def delivery(
    *, key: str = WEBHOOK_TOKEN, token: str = "tok-1", age: float = 0.0, **changes: Any
) -> dict[str, Any]:
    """A webhook body as Lever signs it, triggered `age` seconds ago."""
    triggered = int((time.time() - age) * 1000)
    return {
        "triggeredAt": triggered,
        "event": "applicationCreated",
        "token": token,
        "signature": sign(key, token, triggered),
        "data": {"opportunityId": "opp-1", "candidateId": "c-1", "contactId": "c-1"},
    } | changes


def post(client: FlaskClient, doc: Any, path: str = URL) -> Any:
    return client.post(path, data=json.dumps(doc), content_type="application/json")


def events(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(HireEvent)) or 0


@pytest.fixture
def hires(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    """A launched hires integration taking webhooks (Lever itself is not asked in these tests:
    the events are ones a hires integration stores and ignores)."""
    create_hires(session_factory, settings, "http://127.0.0.1:9/v1", poll=False)


@pytest.mark.usefixtures("hires")
def test_a_signed_event_is_stored_and_answered_at_once(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    response = post(client, delivery())
    assert response.status_code == 200
    assert response.get_json()["received"] is True
    with session_factory() as session:
        event = session.scalars(select(HireEvent)).one()
    assert (event.event, event.opportunity_id, event.source) == (
        "applicationCreated", "opp-1", "webhook",
    )  # fmt: skip
    assert response.get_json()["event_id"] == event.id


@pytest.mark.usefixtures("hires")
@pytest.mark.parametrize(
    ("doc", "status", "why"),
    [
        (delivery(key="not-the-token"), 401, "signature does not match"),
        (delivery() | {"token": "tok-altered"}, 401, "signature does not match"),
        (delivery(age=301), 401, "stale"),
        ({"event": "candidateHired"}, 400, "no 'token'"),
        ([1, 2, 3], 400, "not a JSON object"),
    ],
    ids=["wrong-key", "altered-token", "stale", "missing-keys", "not-an-object"],
)
def test_a_bad_event_is_refused_with_one_line_and_nothing_stored(
    client: FlaskClient,
    session_factory: sessionmaker[Session],
    doc: Any,
    status: int,
    why: str,
) -> None:
    response = post(client, doc)
    assert response.status_code == status
    message = response.get_json()["error"]["message"]
    assert why in message and "\n" not in message
    assert WEBHOOK_TOKEN not in response.get_data(as_text=True)
    assert events(session_factory) == 0


@pytest.mark.usefixtures("hires")
def test_a_replayed_token_is_refused_and_stored_once(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    first = delivery()
    assert post(client, first).status_code == 200
    again = post(client, first)
    assert again.status_code == 401
    assert "seen before" in again.get_json()["error"]["message"]
    assert events(session_factory) == 1


@pytest.mark.usefixtures("hires")
def test_a_body_that_is_not_json_is_400(client: FlaskClient) -> None:
    response = client.post(URL, data=b"\x00garbage", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "the webhook body is not JSON"


def test_webhooks_need_a_hires_integration_with_a_secret(
    app: Flask, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    client = app.test_client()
    assert post(client, delivery(), "/hooks/lever/nothing-here").status_code == 404
    create_lever(session_factory, settings, "http://127.0.0.1:9/v1")
    assert post(client, delivery(), "/hooks/lever/lever").status_code == 404
    create_hires(session_factory, settings, "http://127.0.0.1:9/v1", webhook_token=None)
    refused = post(client, delivery())
    assert refused.status_code == 404
    assert "--webhook-secret" in refused.get_json()["error"]["message"]
    assert events(session_factory) == 0


def test_a_paused_integration_refuses_so_lever_delivers_again_later(
    app: Flask, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    create_hires(session_factory, settings, "http://127.0.0.1:9/v1", launch=False)
    refused = post(app.test_client(), delivery())
    assert refused.status_code == 409
    assert "draft" in refused.get_json()["error"]["message"]
    with session_factory.begin() as session:
        integrations.launch(integrations.get(session, "hires"))
    assert post(app.test_client(), delivery()).status_code == 200
