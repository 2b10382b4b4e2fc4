"""The workflow client's own requests: a call Lever may have acted on is not sent twice unless it
is idempotent, and one Lever says it never acted on is retried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from connector.errors import LeverUnavailableError
from workflows.lever import WorkflowClient

BASE = "https://api.lever.test/v1"
NOTES = f"{BASE}/notes"


@pytest.fixture
def lever() -> Iterator[responses.RequestsMock]:
    """A fake Lever: every request must match a registered answer, and every answer be used."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def client() -> Iterator[WorkflowClient]:
    """An unpaced client that never really sleeps between tries."""
    made = WorkflowClient(BASE, "wf-key", " ", max_rps=0, sleep=lambda _s: None, rng=lambda: 0.5)
    yield made
    made.close()


def test_a_post_is_retried_when_lever_says_it_did_nothing(
    client: WorkflowClient, lever: responses.RequestsMock
) -> None:
    lever.post(NOTES, status=429)
    lever.post(NOTES, status=201, json={"data": {"id": "n1"}})

    assert client.send("POST", "/notes", json={"value": "hi"}) == {"data": {"id": "n1"}}
    assert client.last_status == 201


@pytest.mark.parametrize(
    "failure",
    [{"status": 500}, {"status": 504}, {"body": requests.ReadTimeout("slow")}, {"body": "oops"}],
    ids=["500", "504", "read-timeout", "garbage"],
)
def test_a_post_is_not_sent_twice_when_lever_may_have_acted(
    client: WorkflowClient, lever: responses.RequestsMock, failure: dict[str, Any]
) -> None:
    lever.post(NOTES, **failure)

    with pytest.raises(LeverUnavailableError, match="may have acted on it: check Lever first"):
        client.send("POST", "/notes", json={"value": "hi"})
    assert len(lever.calls) == 1


def test_a_put_is_sent_again_after_a_server_error(
    client: WorkflowClient, lever: responses.RequestsMock
) -> None:
    lever.put(f"{NOTES}/n1", status=500)
    lever.put(f"{NOTES}/n1", json={"data": {"id": "n1"}})

    assert client.send("PUT", "/notes/n1", json={"value": "hi"}) == {"data": {"id": "n1"}}
    assert len(lever.calls) == 2
