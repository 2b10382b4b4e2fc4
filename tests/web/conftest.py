"""Web fixtures: the app on the test instance, a client, signed-in clients of each role, and
the `invsync` command runner with the environment it runs in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from inventory.settings import Settings
from web.accounts import add_account, create_token
from web.app import create_app
from web.appstate import app_state

PASSWORD = "correct horse battery"
SignIn = Callable[[str], FlaskClient]
Run = Callable[..., subprocess.CompletedProcess[str]]
Proc = subprocess.Popen[str]


def invsync_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """The caller's environment without its INVSYNC_ settings, pointed at an instance folder (and
    a database, if given), so that a command sees only the test's instance; tasks run on the
    in-process engine unless the caller sets INVSYNC_TASK_ENGINE."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVSYNC_")}
    env["INVSYNC_HOME"] = str(home)
    env["INVSYNC_TASK_ENGINE"] = "local"
    if database_url is not None:
        env["INVSYNC_DATABASE_URL"] = database_url
    return env


def invsync_command(*args: str) -> list[str]:
    """The command line of `invsync ARGS`, run by the interpreter running the tests."""
    return [sys.executable, "-m", "web", *args]


def run_invsync(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `invsync ARGS` to the end in that environment (stdin may be given); output is UTF-8
    text, line ends as written."""
    done = subprocess.run(
        invsync_command(*args), input=stdin.encode(), capture_output=True, env=env, timeout=120
    )
    # decoded as written: text mode would turn the CSV's CRLF line ends into "\n"
    out, err = done.stdout.decode(), done.stderr.decode()
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """The environment of a command run on the test's instance and database."""
    return invsync_env(settings.home, settings.db_url)


@pytest.fixture
def spawn(cli_env: dict[str, str]) -> Iterator[Callable[..., Proc]]:
    """Start `invsync ARGS` without waiting, in the test's environment or the one given (output
    unbuffered, so lines can be awaited); whatever is still running at the end is killed."""
    with ExitStack() as stack:

        def start(*args: str, env: dict[str, str] | None = None) -> Proc:
            pipe = subprocess.PIPE
            chosen = {**(env or cli_env), "PYTHONUNBUFFERED": "1"}
            proc = stack.enter_context(
                subprocess.Popen(
                    invsync_command(*args), stdout=pipe, stderr=pipe, text=True, env=chosen
                )
            )
            stack.callback(lambda: proc.poll() is None and proc.kill())
            return proc

        yield start


@pytest.fixture
def invsync(cli_env: dict[str, str]) -> Run:
    """Run `invsync ARGS` (stdin may be given) as a user would, on the test's instance and
    database, with none of the caller's INVSYNC_ settings."""
    return partial(run_invsync, cli_env)


@contextmanager
def built_app(settings: Settings) -> Iterator[Flask]:
    """The web app on that instance, in testing mode; its tasks and engine closed at the end."""
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    state = app_state(app)
    if state.tasks is not None:
        state.tasks.close()
    state.engine.dispose()


@pytest.fixture
def live_server(settings: Settings, engine: object) -> Iterator[str]:
    """The real app on the test instance, served over loopback from a thread; yields its URL."""
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="invsync-web", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
    state = app_state(app)
    if state.tasks is not None:
        state.tasks.close()
    state.engine.dispose()


@pytest.fixture
def app(settings: Settings, engine: object) -> Iterator[Flask]:
    """The web app on the test's instance and database."""
    with built_app(settings) as app:
        yield app


@pytest.fixture(scope="module")
def module_app(module_settings: Settings) -> Iterator[Flask]:
    """The web app on an instance and database shared by a module's tests, for tests that leave
    both as they found them (building an app compiles every URL rule, so it is built once)."""
    with built_app(module_settings) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser that has not signed in."""
    return app.test_client()


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page hands this browser (from its <meta> tag or a form field)."""
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf[-_]token" (?:content|value)="([^"]+)"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, name: str, password: str = PASSWORD) -> FlaskClient:
    """Sign a browser in through the real login form."""
    token = csrf_of(client)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD hashed as accounts store it, once: scrypt is slow on purpose (~0.1 s a hash)."""
    return generate_password_hash(PASSWORD, method="scrypt")


@pytest.fixture
def accounts(session_factory: sessionmaker[Session], password_hash: str) -> dict[str, str]:
    """One account per role, named after it, made by `add_account` with PASSWORD's hash made once
    per session (only while they are added: every other hash is made afresh)."""

    def hash_once(password: str, method: str = "scrypt", salt_length: int = 16) -> str:
        if (password, method, salt_length) == (PASSWORD, "scrypt", 16):
            return password_hash
        return generate_password_hash(password, method=method, salt_length=salt_length)

    with pytest.MonkeyPatch.context() as patch, session_factory.begin() as session:
        patch.setattr("web.accounts.generate_password_hash", hash_once)
        for role in ("viewer", "author", "admin"):
            add_account(session, role, PASSWORD, role)
    return {role: role for role in ("viewer", "author", "admin")}


@pytest.fixture
def signed_in(app: Flask, accounts: dict[str, str]) -> SignIn:
    """A fresh browser signed in with the given role's account."""
    return lambda role: sign_in(app.test_client(), accounts[role])


@pytest.fixture
def bearer(
    session_factory: sessionmaker[Session], accounts: dict[str, str]
) -> Callable[[str], dict[str, str]]:
    """Authorization headers with a new API token of the given role's account."""

    def headers(role: str) -> dict[str, str]:
        with session_factory.begin() as session:
            _, token = create_token(session, accounts[role], f"{role} test token")
        return {"Authorization": f"Bearer {token}"}

    return headers
