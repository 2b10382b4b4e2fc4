"""Shared fixtures: a throwaway instance whose database is a real SQLite file or a fresh database
on a real PostgreSQL server (every database test runs on both), a Lever simulator, the
integration 'lever' on it, launched and synced, a lab that drives its sync steps one by one, and
SMTP servers on loopback that keep what they receive."""

from __future__ import annotations

import email
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine, create_engine, func, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.jobs import lever_client, run_sync
from connector.lever.client import LeverClient
from connector.lever.sim import ANCHOR_MS, LeverSimulator, SimulatorServer
from connector.reconcile import ReconcileOutcome, approve, reconcile
from connector.sync import SyncEngine, SyncSummary
from inventory.changelog import set_actor
from inventory.db import init_db, make_engine, make_sessionmaker
from inventory.models import Integration, Person, SaasUser, SyncRun, WorkflowRun
from inventory.settings import Settings
from inventory.timeutil import from_ms, utcnow
from vault.keys import load_keyring
from vault.store import Vault

API_KEY = "test-key-4f1c9e2ab7d3-lever"
POSTGRES_URL = os.environ.get(
    "INVSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]
Sim = tuple[LeverSimulator, SimulatorServer]
LAB_NOW = from_ms(ANCHOR_MS) + timedelta(hours=1)
SMTP_LOGIN = "notices@example.com"
SMTP_PASSWORD = "s3cret-Pass:w/rd%"
T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers these fixtures read."""
    config.addinivalue_line(
        "markers", "fresh_database: the test commits, so it gets a database of its own"
    )


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


@contextmanager
def fresh_database(request: pytest.FixtureRequest, backend: str, folder: Path) -> Iterator[str]:
    """A migrated database of that backend, dropped at the end: a copy of the SQLite template in
    `folder`/data, or a PostgreSQL database cloned from the template."""
    if backend == "sqlite":
        (folder / "data").mkdir()
        shutil.copy(request.getfixturevalue("sqlite_template"), folder / "data" / "invsync.db")
        yield f"sqlite:///{folder / 'data' / 'invsync.db'}"
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


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a new PostgreSQL database."""
    with fresh_database(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database shared by a module's tests, for tests that leave it as they
    found it (they only read, or roll back what they write)."""
    with fresh_database(request, request.param, tmp_path_factory.mktemp("module")) as url:
        yield url


@pytest.fixture
def shared_database_url(
    request: pytest.FixtureRequest, module_database_url: str, tmp_path: Path
) -> Iterator[str]:
    """The module's shared database, or a fresh one for a test marked `fresh_database` (one that
    commits); a module opts in by overriding `database_url` with it."""
    if request.node.get_closest_marker("fresh_database") is None:
        yield module_database_url
        return
    backend = "sqlite" if module_database_url.startswith("sqlite") else "postgresql"
    with fresh_database(request, backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Settings:
    """Settings as `settings` makes them, for an instance shared by a module's tests."""
    home = tmp_path_factory.mktemp("module-instance") / "instance"
    return Settings.load(env={}, home=home, database_url=module_database_url, task_engine="local")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for an instance in a fresh temporary folder, ignoring the caller's environment;
    tasks run on the in-process engine (the worker tests choose Procrastinate themselves)."""
    return Settings.load(
        env={}, home=tmp_path / "instance", database_url=database_url, task_engine="local"
    )


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
def lever_sim() -> Iterator[Sim]:
    """A seeded Lever simulator (250 users, unpaced) served over loopback."""
    sim = LeverSimulator(users=250, seed=3, api_key=API_KEY, rate_limit=False)
    with SimulatorServer(sim) as server:
        yield sim, server


def no_sleep(_seconds: float) -> None:
    """Retries and backoffs pass instantly in tests."""


def create_lever(
    factory: sessionmaker[Session],
    settings: Settings,
    url: str,
    *,
    key: str = API_KEY,
    smart: bool = True,
    launch: bool = True,
    **spec: Any,
) -> Integration:
    """Store `key` as 'lever-key' and create the integration 'lever' on it at `url`, unpaced;
    smart-mapped and launched unless told not to."""
    with factory.begin() as session:
        Vault(session, load_keyring(settings)).add("lever-key", key, " ")
    return add_integration(factory, "lever", url, smart=smart, launch=launch, **spec)


def add_integration(
    factory: sessionmaker[Session],
    name: str,
    url: str,
    *,
    smart: bool = True,
    launch: bool = True,
    **spec: Any,
) -> Integration:
    """Create an integration on the stored key 'lever-key' at `url`, unpaced; smart-mapped and
    launched unless told not to."""
    with factory.begin() as session:
        new = integrations.NewIntegration(
            name=name, credential="lever-key", base_url=url, max_rps=0, **spec
        )
        integ = integrations.create(session, new)
        if smart:
            integrations.apply_smart_mapping(session, integ, None)
        if launch:
            integrations.launch(integ)
    return integ


WEBHOOK_TOKEN = "lever-webhook-signature-token-7c1e"
EMAIL_FORMAT = "{first}.{last}@example.com"


def create_hires(
    factory: sessionmaker[Session],
    settings: Settings,
    url: str,
    *,
    name: str = "hires",
    webhook_token: str | None = WEBHOOK_TOKEN,
    email_format: str | None = EMAIL_FORMAT,
    launch: bool = True,
    **spec: Any,
) -> Integration:
    """A `lever-hires` integration on the stored key 'lever-key' (stored here unless it is
    already), its webhook's signature token as the credential 'lever-webhook'; smart-mapped and
    launched unless told not to."""
    with factory.begin() as session:
        vault = Vault(session, load_keyring(settings))
        if "lever-key" not in {c.name for c in vault.list()}:
            vault.add("lever-key", API_KEY, " ")
        if webhook_token is not None:
            vault.add("lever-webhook", webhook_token, " ")
    secret = "lever-webhook" if webhook_token is not None else None
    return add_integration(
        factory, name, url, launch=launch, connector=integrations.HIRES,
        email_format=email_format, webhook_secret=secret, **spec,
    )  # fmt: skip


def sync_lever(factory: sessionmaker[Session], settings: Settings) -> SyncSummary:
    """One sync of 'lever' with instant retries."""
    client = partial(lever_client, sleep=no_sleep)
    return run_sync(factory, settings, "lever", client_factory=client)


def sync_as_run(factory: sessionmaker[Session], settings: Settings) -> SyncSummary:
    """One sync of 'lever' with instant retries, committed page by page, whose session names the
    run as its actor, as the change log expects."""
    with factory() as session:
        integ = integrations.get(session, "lever")
        secret = Vault(session, load_keyring(settings)).get(integ.credential_name)
        run = SyncRun(integration_id=integ.id, status="running", started_at=utcnow())
        session.add(run)
        session.commit()
        set_actor(session, "integration", "lever", run.id)
        with lever_client(integ, secret, sleep=no_sleep) as client:
            pages = client.iter_user_pages()
            summary = SyncEngine(session, integ, pages, checkpoint=session.commit).run(run)
        session.commit()
    return summary


@pytest.fixture
def launched(settings: Settings, session_factory: sessionmaker[Session], lever_sim: Sim) -> Sim:
    """The simulator's key stored as 'lever-key' and the integration 'lever' on it, smart-mapped
    and launched, not yet synced."""
    create_lever(session_factory, settings, lever_sim[1].url)
    return lever_sim


@pytest.fixture
def synced(settings: Settings, session_factory: sessionmaker[Session], launched: Sim) -> Sim:
    """The launched integration 'lever', synced once."""
    summary = sync_lever(session_factory, settings)
    assert summary.status == "succeeded", summary.message
    return launched


class Lab:
    """An instance, a Lever simulator and an integration named 'lever' over loopback."""

    def __init__(
        self, settings: Settings, factory: sessionmaker[Session], sim: LeverSimulator, url: str
    ) -> None:
        self.settings, self.factory, self.sim, self.url = settings, factory, sim, url

    def create(self, launch: bool = True, smart: bool = True, **spec: Any) -> None:
        """Store the key and create (smart-map, launch) the integration."""
        create_lever(self.factory, self.settings, self.url, smart=smart, launch=launch, **spec)

    def update(self, **changes: Any) -> None:
        """Change settings of the integration."""
        with self.factory.begin() as session:
            integrations.update(session, integrations.get(session, "lever"), changes)

    def client_factory(self, **options: Any) -> Callable[..., LeverClient]:
        """Clients as the jobs make them, with instant retries."""
        return lambda integ, secret: lever_client(integ, secret, sleep=no_sleep, **options)

    def sync(self, **options: Any) -> SyncSummary:
        """One real sync of the integration, without the steps after the read (reconciliation,
        login activity), which these tests call themselves on the run it leaves."""
        saved = self._after_read(False, None)
        try:
            factory = self.client_factory(**options)
            return run_sync(self.factory, self.settings, "lever", client_factory=factory)
        finally:
            self._after_read(*saved)

    def _after_read(self, deactivate: bool, activity: str | None) -> tuple[bool, str | None]:
        """Set the after-read settings; return the ones they replace."""
        with self.factory.begin() as session:
            integ = integrations.get(session, "lever")
            saved = (integ.deactivate_missing, integ.login_activity)
            integ.deactivate_missing, integ.login_activity = deactivate, activity
        return saved

    def reconcile(self, run_id: int, **options: Any) -> ReconcileOutcome:
        """Reconcile a run and commit."""
        with self.factory.begin() as session:
            integ = integrations.get(session, "lever")
            run = session.get_one(SyncRun, run_id)
            with self.client(session, integ, **options) as client:
                return reconcile(session, integ, run, client, now=LAB_NOW)

    def client(self, session: Session, integ: Any, **options: Any) -> LeverClient:
        """A client for the integration's credential."""
        secret = Vault(session, load_keyring(self.settings)).get(integ.credential_name)
        return self.client_factory(**options)(integ, secret)

    def cycle(self) -> tuple[SyncSummary, ReconcileOutcome]:
        """A sync followed by reconciliation, as a run does it."""
        summary = self.sync()
        return summary, self.reconcile(summary.run_id)

    def approve(self, run_id: int, approver: str = "alice@example.com") -> ReconcileOutcome:
        """Approve a held run and commit."""
        with self.factory.begin() as session:
            run = session.get_one(SyncRun, run_id)
            return approve(session, run, approver=approver, now=LAB_NOW)

    def statuses(self) -> dict[str, str]:
        """Every SaaS user's status by Lever id."""
        with self.factory() as session:
            return dict(session.execute(select(SaasUser.external_id, SaasUser.status)).all())

    def run(self, run_id: int) -> SyncRun:
        """A run as stored."""
        with self.factory() as session:
            return session.get_one(SyncRun, run_id)

    def gets(self) -> int:
        """How many GET /users/{id} the simulator answered so far."""
        return self.sim.counts["get_user"]

    def active_ids(self, count: int) -> list[str]:
        """The first `count` active Lever users."""
        return [u["id"] for u in self.sim.users if not u["deactivatedAt"]][:count]


@pytest.fixture
def lab(settings: Settings, session_factory: sessionmaker[Session], lever_sim: Sim) -> Lab:
    """A lab over the shared 250-user simulator, its integration not yet created."""
    return Lab(settings, session_factory, lever_sim[0], lever_sim[1].url)


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
def gate(lever_sim: Sim, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], Gate]]:
    """Install a gate on the simulator, to hold a run mid-read; opened at the end."""
    gates: list[Gate] = []

    def install(passes: int) -> Gate:
        gates.append(Gate(lever_sim[0], passes))
        monkeypatch.setattr(lever_sim[0], "handle", gates[-1].handle)
        return gates[-1]

    yield install
    for g in gates:
        g.open()


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it receives and which logins it saw."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message, parsed, with its recipients."""
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accept SMTP_LOGIN with the one right password, and remember every attempt."""
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode()
        ok = login == SMTP_LOGIN and auth_data.password.decode() == SMTP_PASSWORD
        self.logins.append((login, ok))
        return AuthResult(success=ok, handled=False)


def mailing(settings: Settings, port: int) -> Settings:
    """The settings with notices sent to the SMTP server on that loopback port."""
    return replace(settings, smtp_url=f"smtp://127.0.0.1:{port}?from=invsync@example.com")


def free_port() -> int:
    """A loopback port nobody listens on (the OS just handed it out)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Serve = Callable[..., tuple[Mailbox, int]]


@pytest.fixture
def smtp_server() -> Iterator[Serve]:
    """Start aiosmtpd servers on free loopback ports; all stopped at the end of the test."""
    controllers: list[Controller] = []

    def serve(with_login: bool = False, **kwargs: Any) -> tuple[Mailbox, int]:
        box = Mailbox()
        if with_login:
            kwargs |= {"authenticator": box.authenticate, "auth_require_tls": False}
        controller = Controller(box, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        controllers.append(controller)
        return box, controller.port

    yield serve
    for controller in controllers:
        controller.stop()


UNFINISHED = ("queued", "running")  # a run, workflow run, dry run that a worker still has


def wait_for(
    read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 30.0
) -> T:
    """Read again until `done` holds for what was read, and give that value; fail naming what
    was awaited and what was last read once the timeout has passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"after {timeout}s, still {value!r}: {what}"
        time.sleep(0.02)


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll until the predicate holds, failing the test after the timeout."""
    wait_for(predicate, bool, what or "timed out waiting", timeout)


def status_of(factory: sessionmaker[Session], model: type[Any], row_id: int) -> str:
    """A run's (sync run, workflow run, dry run, approval) status as committed now."""
    with factory() as session:
        return str(session.get_one(model, row_id).status)


def people_count(factory: sessionmaker[Session]) -> int:
    """How many people are committed."""
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Person)) or 0


def run_finished(factory: sessionmaker[Session], run_id: int, timeout: float = 60.0) -> str:
    """Poll the ledger until the run is neither queued nor running; its final status."""
    return finished(factory, SyncRun, run_id, timeout)


def workflow_run_finished(
    factory: sessionmaker[Session], run_id: int, timeout: float = 60.0
) -> str:
    """Poll until a worker has finished the workflow run (neither queued nor running); its final
    status."""
    return finished(factory, WorkflowRun, run_id, timeout)


def finished(
    factory: sessionmaker[Session], model: type[Any], row_id: int, timeout: float = 60.0
) -> str:
    """Poll until a worker is done with the row (neither queued nor running); its final status."""
    read = partial(status_of, factory, model, row_id)
    what = f"{model.__tablename__} {row_id} to finish"
    return wait_for(read, lambda status: status not in UNFINISHED, what, timeout)


def run_reached(
    factory: sessionmaker[Session], run_id: int, status: str, timeout: float = 30.0,
    model: type[Any] = SyncRun,
) -> None:  # fmt: skip
    """Poll until the run is in that status (a worker took a queued run, say)."""
    read = partial(status_of, factory, model, run_id)
    wait_for(read, lambda now: now == status, f"{model.__tablename__} {run_id} {status}", timeout)
