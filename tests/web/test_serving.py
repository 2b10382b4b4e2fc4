"""`invsync serve` as an operator runs it: gunicorn workers served over loopback, one scheduler in
the arbiter, a clean stop on SIGTERM or Ctrl-C, and one line for a mistake."""

from __future__ import annotations

import re
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
import requests
from sqlalchemy import select as select_rows
from sqlalchemy.orm import Session, sessionmaker

from connector.scheduler import Lease
from inventory.models import SchedulerLease
from inventory.settings import Settings
from tests.conftest import Sim, free_port, run_finished
from tests.web.conftest import invsync_command, invsync_env, run_invsync
from web.serving import ServeOptions, default_workers, gunicorn_config, server_for

URL = re.compile(r"web app at (?P<url>http://\S+)")
SCHEDULER_STARTED = re.compile(r"scheduler \S+ started")
WAIT = 30.0


@dataclass
class Served:
    """A running `invsync serve`: its process, the URL it printed and the file of its stderr."""

    proc: subprocess.Popen[str]
    url: str
    log: Path

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send the signal and wait, bounded, for the exit code."""
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=WAIT)

    def workers(self) -> set[int]:
        """The pids of the processes this one forked (its gunicorn workers)."""
        return children(self.proc.pid)


Start = Callable[..., Served]


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`, read from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(after_name[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait, bounded, until the check holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.05)


def printed_url(out: IO[str], timeout: float = WAIT) -> str:
    """The URL the server prints once it listens (bounded; fails if it ends first)."""
    deadline = time.monotonic() + timeout
    lines = []
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([out], [], [], left)[0]:
            break
        line = out.readline()
        if not line:
            break
        lines.append(line)
        if found := URL.search(line):
            return found.group("url")
    raise AssertionError(f"no URL printed; stdout was {lines!r}")


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `invsync serve --port 0 ARGS` in an environment; every one is ended at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], *args: str) -> Served:
        log = tmp_path / f"serve-{len(started)}.log"
        with log.open("w") as err:
            proc = subprocess.Popen(
                invsync_command("serve", "--port", "0", *args),
                stdout=subprocess.PIPE, stderr=err, text=True, env=env,
            )  # fmt: skip
        started.append(proc)
        assert proc.stdout is not None
        return Served(proc, printed_url(proc.stdout), log)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh instance on its embedded SQLite file, initialised."""
    env = invsync_env(tmp_path / "instance")
    assert run_invsync(env, "init").returncode == 0
    return env


def lease_holder(factory: sessionmaker[Session]) -> str | None:
    """Who holds the scheduler lease now, if anyone."""
    return Lease(factory, "observer", ttl=timedelta(seconds=1)).holder()


def lease_rows(factory: sessionmaker[Session]) -> list[str]:
    """Every scheduler lease recorded, by owner."""
    with factory() as session:
        return list(session.scalars(select_rows(SchedulerLease.owner)))


def pid_of(owner: str) -> int:
    """The process id in a lease owner (`hostname:pid:random`)."""
    return int(owner.rsplit(":", 2)[1])


# -- serving -----------------------------------------------------------------------------------


def test_workers_serve_while_one_scheduler_acts_in_the_arbiter_until_sigterm(
    settings: Settings,
    session_factory: sessionmaker[Session],
    cli_env: dict[str, str],
    start_serve: Start,
) -> None:
    on_postgres = settings.db_url.startswith("postgresql")
    workers = 2 if on_postgres else 1  # SQLite serves with its default of 1
    served = start_serve(cli_env, *(["--workers", "2"] if on_postgres else []))

    page = requests.get(served.url + "login", timeout=10)
    assert page.status_code == 200
    assert page.headers["Server"].startswith("gunicorn")
    eventually(lambda: len(served.workers()) == workers, f"{workers} workers")
    eventually(lambda: lease_holder(session_factory) is not None, "the scheduler holds its lease")
    assert [pid_of(owner) for owner in lease_rows(session_factory)] == [served.proc.pid]
    assert len(served.workers()) == workers
    for _ in range(2 * workers):
        assert requests.get(served.url + "login", timeout=10).status_code == 200

    assert served.stop(signal.SIGTERM) == 0
    assert lease_holder(session_factory) is None  # handed over on the way out
    assert served.proc.stdout is not None
    assert served.proc.stdout.read() == "stopped\n"
    log = served.log.read_text()
    assert len(SCHEDULER_STARTED.findall(log)) == 1, log
    assert "Traceback" not in log


def test_ctrl_c_stops_it_cleanly_too(sqlite_env: dict[str, str], start_serve: Start) -> None:
    served = start_serve(sqlite_env)
    eventually(lambda: len(served.workers()) == 1, "one worker")
    assert served.stop(signal.SIGINT) == 0
    assert "Traceback" not in served.log.read_text()


def test_a_sync_started_through_the_api_runs_in_a_worker(
    session_factory: sessionmaker[Session],
    cli_env: dict[str, str],
    launched: Sim,
    bearer: Callable[[str], dict[str, str]],
    start_serve: Start,
) -> None:
    served = start_serve(cli_env, "--threads", "2")
    answer = requests.post(
        served.url + "api/v1/integrations/lever/runs", headers=bearer("admin"), timeout=30
    )
    assert answer.status_code == 202, answer.text
    assert run_finished(session_factory, answer.json()["run_id"]) == "succeeded"
    assert served.stop() == 0


@pytest.mark.parametrize("behind_proxy", [False, True])
def test_forwarded_https_is_trusted_only_behind_a_proxy(
    sqlite_env: dict[str, str], start_serve: Start, behind_proxy: bool
) -> None:
    env = sqlite_env | ({"INVSYNC_BEHIND_PROXY": "1"} if behind_proxy else {})
    served = start_serve(env)
    page = requests.get(served.url + "login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert page.status_code == 200
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("invsync_session=")
    assert ("; Secure" in cookie) is behind_proxy
    assert served.stop() == 0


# -- mistakes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--workers", "--threads"])
def test_a_count_below_one_is_one_line_and_exit_2(tmp_path: Path, option: str) -> None:
    done = run_invsync(invsync_env(tmp_path / "instance"), "serve", option, "0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and option in done.stderr, done.stderr


def test_a_port_in_use_is_one_line_and_exit_2(sqlite_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_invsync(sqlite_env, "serve", "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr


def test_an_instance_without_a_database_is_one_line_before_anything_listens(
    tmp_path: Path,
) -> None:
    done = run_invsync(invsync_env(tmp_path / "instance"), "serve", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "invsync init" in done.stderr, done.stderr
    assert "web app at" not in done.stdout


# -- the choices -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "workers"),
    [("", 1), ("sqlite:////srv/invsync.db", 1), ("postgresql+psycopg://u@db/invsync", 2)],
)
def test_workers_default_by_database(tmp_path: Path, url: str, workers: int) -> None:
    settings = Settings.load(env={}, home=tmp_path, database_url=url or None)
    assert default_workers(settings) == workers
    assert ServeOptions.for_settings(settings).workers == workers
    assert ServeOptions.for_settings(settings, workers=3, threads=None).workers == 3


def test_gunicorn_trusts_no_forwarded_header_and_logs_no_access() -> None:
    config = gunicorn_config(ServeOptions(host="::1", port=0, workers=2, threads=8))
    assert config["bind"] == ["[::1]:0"]
    assert (config["workers"], config["threads"], config["worker_class"]) == (2, 8, "gthread")
    assert config["forwarded_allow_ips"] == "" and config["secure_scheme_headers"] == {}
    assert config["accesslog"] is None and config["errorlog"] == "-"
    assert config["preload_app"] is False


@pytest.mark.parametrize(
    ("platform", "server"), [("linux", "gunicorn"), ("darwin", "gunicorn"), ("win32", "waitress")]
)
def test_waitress_serves_where_gunicorn_cannot(platform: str, server: str) -> None:
    assert server_for(platform) == server
