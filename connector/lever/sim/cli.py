"""What `invsync lever-sim` runs: a simulator served until Ctrl-C or SIGTERM, and its start line."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

from connector.lever.sim.server import SimulatorServer
from connector.lever.sim.simulator import LeverSimulator


def format_start_line(url: str, users: int, generated_key: str | None) -> str:
    """The start-up line: URL, and the API key only when it was generated here."""
    key = f"API key {generated_key} (any password)" if generated_key else "using the given API key"
    return f"Lever simulator with {users} users at {url} - {key} - Ctrl-C to stop"


@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """Turn SIGTERM into a clean stop while serving (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_forever(
    port: int,
    users: int,
    seed: int,
    api_key: str | None,
    rate_limit: bool,
    host: str = "127.0.0.1",
    out: TextIO = sys.stdout,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Run a simulator until Ctrl-C, SIGTERM or `stop` is set, then shut down cleanly."""
    stop = stop or threading.Event()
    sim = LeverSimulator(users=users, seed=seed, api_key=api_key, rate_limit=rate_limit)
    with SimulatorServer(sim, host, port) as server, _stop_on_sigterm(stop):
        generated = sim.api_key if sim.key_generated else None
        print(format_start_line(server.url, users, generated), file=out, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.25):
                pass
