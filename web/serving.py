"""The web app on a production WSGI server: gunicorn where processes fork, waitress on Windows.

`serve(build, options, beside=...)` runs gunicorn embedded (a `BaseApplication`, as gunicorn's
"Custom Application" shows), with gthread workers:
- **Each worker builds its own app after the fork** (gunicorn calls `build` there; no
  `preload_app`), so no engine, pool, connection or thread of an app is ever shared between
  processes, and the arbiter builds none. A caller checks what it can first (`invsync serve`
  checks the schema), since an app that fails to build in its worker stops the server with
  gunicorn's log of why.
- **Workers** default to 1 on SQLite (one writer at a time: threads serve it as well as more
  processes would) and 2 on PostgreSQL; **threads** to 4 per worker. Requests are short (syncs
  run in background threads, never in a request), so `TIMEOUT` is gunicorn's usual 30 s.
- **What runs beside the app** (the scheduler of `invsync serve`) runs once, in the arbiter:
  it starts once the first workers are forked and stops when the arbiter exits. Workers never
  touch it: a worker ends with `os._exit` where gunicorn forked it, so it never unwinds the
  command that started the server (its context managers, the engine it closes) in its copy of
  that process.
- **Forwarded headers** are ProxyFix's alone (web/security.py, on with INVSYNC_BEHIND_PROXY):
  gunicorn trusts none itself, in either case. Its default would trust X-Forwarded-Proto from
  loopback, so any local client could claim HTTPS, and behind a proxy both would read the same
  headers twice.
- **SIGTERM and Ctrl-C** stop it gracefully (gunicorn's arbiter handles both): the workers end the
  requests in hand within `GRACEFUL_TIMEOUT`, then what runs beside stops, and `serve` returns.
- The listening socket is bound before gunicorn starts, in one attempt, so a port in use is one
  line (not five retries), and port 0 prints the port the system chose.

Waitress, where gunicorn cannot run (no fork), serves the app in this one process with the same
threads; `workers` does not apply there.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any, NoReturn

import click
from flask import Flask
from sqlalchemy.engine import make_url

from inventory.errors import ConfigError, InvsyncError
from inventory.settings import Settings
from web.appstate import app_state

if sys.platform == "win32":  # no fork there: waitress serves (see `server_for`)
    BaseApplication = Arbiter = object
else:
    from gunicorn import sock
    from gunicorn import util as gunicorn_util
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

__all__ = [
    "GRACEFUL_TIMEOUT",
    "THREADS",
    "TIMEOUT",
    "ServeOptions",
    "default_workers",
    "gunicorn_config",
    "serve",
    "server_for",
]

THREADS = 4
# A worker whose main loop is silent this long is restarted. Its requests run in threads and are
# short (syncs run in background threads), so only a stuck worker is ever this quiet.
TIMEOUT = 30
# What a stop gives the requests in hand; a large CSV download streams for a while.
GRACEFUL_TIMEOUT = 30
URL_LINE = "web app at http://{host}:{port}/  (Ctrl-C to stop)"
Build = Callable[[], Flask]
Beside = Callable[[], AbstractContextManager[object]]


def default_workers(settings: Settings) -> int:
    """1 worker on SQLite (one writer at a time), 2 on PostgreSQL."""
    return 1 if make_url(settings.db_url).get_backend_name() == "sqlite" else 2


def server_for(platform: str = sys.platform) -> str:
    """The WSGI server of a platform: gunicorn where processes fork, waitress on Windows."""
    return "waitress" if platform == "win32" else "gunicorn"


@dataclass(frozen=True)
class ServeOptions:
    """Where and how to serve: address, processes, threads, proxy trust and log level."""

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    threads: int = THREADS
    behind_proxy: bool = False
    loglevel: str = "info"

    @classmethod
    def for_settings(cls, settings: Settings, **given: Any) -> ServeOptions:
        """Options for an instance: workers by its database and proxy trust by its settings,
        unless given (a None counts as not given)."""
        base = cls(workers=default_workers(settings), behind_proxy=bool(settings.behind_proxy))
        return replace(base, **{k: v for k, v in given.items() if v is not None})


def gunicorn_config(options: ServeOptions) -> dict[str, Any]:
    """gunicorn's settings for these options."""
    return {
        "bind": [_bind(options.host, options.port)],
        "workers": options.workers,
        "threads": options.threads,
        "worker_class": "gthread",
        "preload_app": False,
        "timeout": TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": options.loglevel,
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "control_socket_disable": True,
        "proc_name": "invsync",
    }


def serve(build: Build, options: ServeOptions, *, beside: Beside | None = None) -> None:
    """Serve the app `build` makes until SIGTERM or Ctrl-C, printing its URL once listening,
    with `beside` (if given) running in this process for as long."""
    if server_for() == "waitress":
        _serve_waitress(build, options, beside)
    else:
        _serve_gunicorn(build, options, beside)
    click.echo("stopped")


# -- gunicorn ----------------------------------------------------------------------------------


def _serve_gunicorn(build: Build, options: ServeOptions, beside: Beside | None) -> None:
    """Run gunicorn's arbiter until it stops."""
    application = _Application(build, gunicorn_config(options), beside)
    try:
        with _signals_restored():
            _run(_arbiter(application, options))
    finally:
        application.stack.close()


def _arbiter(application: _Application, options: ServeOptions) -> _Arbiter:
    """The arbiter, listening; a port in use or an unknown host is one line."""
    try:
        return _Arbiter(application)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve on {options.host}:{options.port}: {exc.strerror or exc}; "
            "choose another --host or --port"
        ) from None


def _run(arbiter: _Arbiter) -> None:
    """Run the arbiter; its exit status 0 returns, any other is a failed start or stop."""
    try:
        arbiter.run()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise InvsyncError(
                f"the web server stopped with status {exc.code} (its log above says why)"
            ) from None


class _Application(BaseApplication):
    """gunicorn embedded: `build` runs in each worker, `beside` in the arbiter."""

    def __init__(self, build: Build, config: dict[str, Any], beside: Beside | None) -> None:
        self.build, self.config, self.beside = build, config, beside
        self.stack = ExitStack()
        super().__init__()

    def load_config(self) -> None:
        """Our settings and lifecycle hooks, on gunicorn's config."""
        hooks = {"on_exit": self.on_exit, "worker_exit": self.worker_exit}
        for key, value in {**self.config, **hooks}.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """The app, built in the worker that serves it, after the fork."""
        return self.build()

    def serving(self, port: int) -> None:
        """In the arbiter, once the first workers are forked: start what runs beside the app,
        then say where it is."""
        if self.beside is not None:
            self.stack.enter_context(self.beside())
        host = self.cfg.address[0][0]
        click.echo(URL_LINE.format(host=f"[{host}]" if ":" in host else host, port=port))

    def on_exit(self, _arbiter: Any) -> None:
        """In the arbiter, after the workers stopped: stop what runs beside the app."""
        self.stack.close()

    def worker_exit(self, _arbiter: Any, worker: Any) -> None:
        """In a worker that ends: let go of what its app holds."""
        app = getattr(worker, "wsgi", None)
        if isinstance(app, Flask):
            _release(app)


class _Arbiter(Arbiter):
    """gunicorn's arbiter, listening before it starts, telling the application when its first
    workers are forked, and ending each worker where it was forked."""

    def __init__(self, app: _Application) -> None:
        self.first_spawn = True
        super().__init__(app)
        address = self.cfg.address[0]
        kind = sock.TCP6Socket if gunicorn_util.is_ipv6(address[0]) else sock.TCPSocket
        self.LISTENERS = [kind(address, self.cfg, self.log)]

    def manage_workers(self) -> None:
        """Keep the worker count; once the first workers are forked, the app is serving."""
        super().manage_workers()
        # Started only now, what runs beside the app (threads, connections) is never starting up
        # while the first workers are forked; workers forked later never touch it.
        if self.first_spawn:
            self.first_spawn = False
            self.app.serving(self.LISTENERS[0].getsockname()[1])

    def spawn_worker(self) -> int:
        """Fork a worker; in the worker, leave the process here when it is done."""
        try:
            pid = super().spawn_worker()
        except BaseException as exc:
            if os.getpid() == self.pid:
                raise
            _end_worker(exc)
        if os.getpid() != self.pid:  # gunicorn ends a worker by raising; should it return instead
            _end_worker(SystemExit(0))
        return int(pid)


def _release(app: Flask) -> None:
    """Close an app's task engine (letting its running tasks finish) and database connections
    (a worker's own, made after its fork)."""
    state = app_state(app)
    if state.tasks is not None:
        state.tasks.close()
    state.engine.dispose()


def _end_worker(exc: BaseException) -> NoReturn:
    """End a worker process now with its exit code, after flushing what it wrote."""
    code = exc.code if isinstance(exc, SystemExit) else 1
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(code if isinstance(code, int) else int(code is not None))


def _bind(host: str, port: int) -> str:
    """gunicorn's form of an address: IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextmanager
def _signals_restored() -> Iterator[None]:
    """Put back the signal handlers the arbiter replaces, once it is done."""
    signals = [*_Arbiter.SIGNALS, signal.SIGCHLD]
    saved = {signum: signal.getsignal(signum) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


# -- waitress ----------------------------------------------------------------------------------


def _serve_waitress(build: Build, options: ServeOptions, beside: Beside | None) -> None:
    """Serve in this process on waitress's threads until Ctrl-C."""
    from waitress import create_server

    app = build()
    try:
        server = create_server(
            app, host=options.host, port=options.port, threads=options.threads,
            clear_untrusted_proxy_headers=not options.behind_proxy,
        )  # fmt: skip
    except OSError as exc:
        raise ConfigError(f"cannot serve on {options.host}:{options.port}: {exc}") from None
    with ExitStack() as stack:
        stack.callback(_release, app)
        stack.callback(server.close)
        if beside is not None:
            stack.enter_context(beside())
        click.echo(URL_LINE.format(host=options.host, port=server.effective_port))
        with suppress(KeyboardInterrupt):
            server.run()
