"""Connector fixtures: a fake clock that moves only when something sleeps on it or a test
advances it, so that pacing, retries, leases and rate limits are tested without real waiting;
and a lab over a small simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.settings import Settings
from tests.conftest import API_KEY, Lab

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
