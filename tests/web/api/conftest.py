"""API fixtures: admin headers, an integration on the Lever simulator made through the API, and
waiting for a background run to finish."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.lever.sim import LeverSimulator, SimulatorServer
from tests.conftest import API_KEY

Headers = dict[str, str]
Bearer = Callable[[str], Headers]
Sim = tuple[LeverSimulator, SimulatorServer]
FINISHED = ("succeeded", "completed_with_errors", "failed", "cancelled", "held")


@pytest.fixture
def admin(bearer: Bearer) -> Headers:
    """Authorization headers of the admin account."""
    return bearer("admin")


@pytest.fixture
def lever(client: FlaskClient, admin: Headers, lever_sim: Sim) -> str:
    """The credential 'lever-key' and the integration 'lever' on the simulator, made, smart-mapped
    and launched through the API; the integration's name."""
    made = client.post(
        "/api/v1/credentials",
        headers=admin,
        json={"name": "lever-key", "username": API_KEY, "password": " "},
    )
    assert made.status_code == 201, made.get_json()
    created = client.post(
        "/api/v1/integrations",
        headers=admin,
        json={
            "name": "lever",
            "credential": "lever-key",
            "base_url": lever_sim[1].url,
            "max_rps": 0,
        },
    )
    assert created.status_code == 201, created.get_json()
    mapped = client.post("/api/v1/integrations/lever/smart-mapping", headers=admin)
    assert mapped.status_code == 200 and mapped.get_json()["missing_for_launch"] == []
    launched = client.post("/api/v1/integrations/lever/launch", headers=admin)
    assert launched.status_code == 200 and launched.get_json()["state"] == "active"
    return "lever"


def wait_for_run(client: FlaskClient, headers: Headers, run_id: int) -> dict[str, Any]:
    """Poll a run until it has finished (or fail after a deadline); its final detail."""
    deadline = time.monotonic() + 60
    while True:
        shown = client.get(f"/api/v1/runs/{run_id}", headers=headers)
        assert shown.status_code == 200, shown.get_json()
        if shown.get_json()["status"] in FINISHED:
            return dict(shown.get_json())
        assert time.monotonic() < deadline, f"run {run_id} still running"
        time.sleep(0.05)
