"""Shared fixtures: a throwaway instance whose database is a real SQLite file or a fresh database
on a real PostgreSQL server (every database test runs on both), and a Lever simulator."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from connector import ledger
from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.db import init_db, make_engine, make_sessionmaker
from inventory.settings import Settings

API_KEY = "test-key-4f1c9e2ab7d3-lever"
POSTGRES_URL = os.environ.get(
    "INVSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]


def _admin() -> Engine:
    """A connection to the PostgreSQL server that may create and drop databases."""
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _url_for(database: str) -> str:
    """The test server's URL pointing at another database."""
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema once, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "invsync.db"
    engine = create_engine(f"sqlite:///{path}")
    init_db(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated to the newest schema once, cloned for each test."""
    name = f"invsync_tpl_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}); start it or "
                    "set INVSYNC_TEST_POSTGRES_URL", pytrace=False)  # fmt: skip
    engine = create_engine(_url_for(name))
    init_db(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        folder = tmp_path / "data"
        folder.mkdir()
        shutil.copy(request.getfixturevalue("sqlite_template"), folder / "invsync.db")
        yield f"sqlite:///{folder / 'invsync.db'}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"invsync_t_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _url_for(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for an instance in a fresh temporary folder, ignoring the caller's environment."""
    return Settings.load(env={}, home=tmp_path / "instance", database_url=database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the instance's migrated database."""
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The instance's session factory."""
    return make_sessionmaker(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session inside a transaction the test may commit or leave to roll back."""
    with session_factory() as session:
        yield session


@pytest.fixture
def lever_sim() -> Iterator[tuple[LeverSimulator, SimulatorServer]]:
    """A seeded Lever simulator (250 users, unpaced) served over loopback."""
    sim = LeverSimulator(users=250, seed=3, api_key=API_KEY, rate_limit=False)
    with SimulatorServer(sim) as server:
        yield sim, server


class Gate:
    """Lets the first `passes` user-list requests through, then holds the rest until opened."""

    def __init__(self, sim: LeverSimulator, passes: int) -> None:
        self.passes, self.seen = passes, 0
        self.opened = threading.Event()
        self._handle = sim.handle
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, *args: Any) -> Any:
        """Hold a user-list request past the allowance until the gate opens."""
        if method == "GET" and target.startswith("/v1/users"):
            with self._lock:
                self.seen += 1
                held = self.seen > self.passes
            if held:
                self.opened.wait(60)
        return self._handle(method, target, *args)

    def open(self) -> None:
        """Let every held and later request through."""
        self.opened.set()


@pytest.fixture
def gate(
    lever_sim: tuple[LeverSimulator, SimulatorServer], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[int], Gate]]:
    """Install a gate on the simulator, to hold a run mid-read; opened at the end."""
    gates: list[Gate] = []

    def install(passes: int) -> Gate:
        gates.append(Gate(lever_sim[0], passes))
        monkeypatch.setattr(lever_sim[0], "handle", gates[-1].handle)
        return gates[-1]

    yield install
    for g in gates:
        g.open()


def run_finished(factory: sessionmaker[Session], run_id: int, timeout: float = 60.0) -> str:
    """Poll the ledger until the run is no longer running; its final status."""
    deadline = time.monotonic() + timeout
    while True:
        with factory() as session:
            status = ledger.get_run(session, run_id).status
        if status != "running":
            return status
        assert time.monotonic() < deadline, f"run {run_id} still running after {timeout}s"
        time.sleep(0.05)
