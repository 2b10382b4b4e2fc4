"""Connector fixtures: a fake clock that moves only when something sleeps on it or a test
advances it, so that pacing, retries, leases and rate limits are tested without real waiting;
and a lab over a small simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.settings import Settings
from tests.conftest import API_KEY, Lab

SIM_KEY = "test-api-key"  # the key of the simulators `make_server` starts

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class FakeClock:
    """Seconds on a monotonic clock (`now`) and the wall time they stand for, both moved only by
    `sleep` (which records each sleep) and `advance`."""

    def __init__(self, start: datetime = START) -> None:
        self.now = 0.0
        self.start = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The monotonic reading, in seconds."""
        return self.now

    def wall(self) -> datetime:
        """The wall time, aware in UTC."""
        return self.start + timedelta(seconds=self.now)

    def sleep(self, seconds: float) -> None:
        """Record a sleep and let that much time pass at once."""
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
def small_lab(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Lab]:
    """A lab over a 20-user simulator, where the default guard is its minimum of 5."""
    sim = LeverSimulator(users=20, seed=5, api_key=API_KEY, rate_limit=False)
    with SimulatorServer(sim) as server:
        yield Lab(settings, session_factory, sim, server.url)


@pytest.fixture
def make_server() -> Iterator[Callable[..., SimulatorServer]]:
    """Start simulators on free loopback ports; all are stopped at teardown."""
    servers: list[SimulatorServer] = []

    def make(**options: Any) -> SimulatorServer:
        options = {"users": 30, "seed": 7, "api_key": SIM_KEY, "rate_limit": False, **options}
        server = SimulatorServer(LeverSimulator(**options)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., SimulatorServer]) -> SimulatorServer:
    """A 30-user simulator without rate limiting."""
    return make_server()


@pytest.fixture
def sim(server: SimulatorServer) -> LeverSimulator:
    """The state behind `server`."""
    return server.sim


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive session sending the key with a placeholder password, as inventory tools do."""
    with requests.Session() as session:
        session.auth = (SIM_KEY, " ")
        yield session


def walk_pages(
    http: requests.Session, url: str, path: str, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Follow a list endpoint's `next` tokens unchanged to the end (every page must answer 200,
    and the last has no `next`); all records and the page count."""
    records: list[dict[str, Any]] = []
    pages = 0
    while True:
        response = http.get(f"{url}{path}", params=params, timeout=5)
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["data"]
        pages += 1
        if not body["hasNext"]:
            assert "next" not in body
            return records, pages
        params["offset"] = body["next"]
