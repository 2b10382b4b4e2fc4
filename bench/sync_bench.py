"""Sync benchmark: a full Lever sync of N simulated users against the raw floor, and its memory.

Run as `python -m bench.sync_bench [--users N | --quick] [--database-url URL] [--profile]`.

Everything is unpaced (integration max_rps 0, simulator without rate limit) and the Lever
simulator always runs in its own process (`invsync lever-sim`), so its CPU and its user list
are not charged to the process being measured. Figures printed:

* full sync: records/s of a first sync into a fresh instance (the code path of `invsync sync`:
  `connector.jobs.run_sync` with a vault credential and a smart-mapped, launched integration);
* raw floor: a plain `requests.Session` loop over the same pages plus one SQLite `executemany`
  of (id, email, name) per user into a fresh file (WAL, synchronous=NORMAL), committed; the best
  of a few runs, the first of which also warms the simulator's per-user JSON cache;
* full sync / floor and no-change re-sync / floor (the second run over the same simulator);
* memory: each size (N/10 and N) is synced in a fresh child process; its figure is the peak
  resident set during the sync (VmHWM, reset just before it starts) minus the resident set
  after setup (imports done, schema created, integration launched). RSS is what the OS sees,
  SQLite's and the allocator's memory included, so a sync that streams in bounded memory shows
  the same figure at both sizes. `ru_maxrss` is not used: a child started by vfork+exec
  inherits its parent's peak in it, and it cannot be reset after setup.

The benchmark reports and does not judge: it exits 0 whatever the figures, and non-zero only
when something broke. `--database-url` must name a disposable database: the benchmark drops and
recreates every table there before each sync into a fresh instance.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import requests
from sqlalchemy import Engine, MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from connector.jobs import run_sync
from connector.lever.client import LeverClient
from connector.sync import SyncSummary
from inventory.db import init_db, make_engine, make_sessionmaker, transaction
from inventory.settings import Settings
from vault.keys import load_keyring
from vault.store import Vault

DEFAULT_USERS = 50_000
QUICK_USERS = 5_000
API_KEY = "bench-lever-key-7d41c0"
PASSWORD = " "
INTEGRATION = "lever-bench"
SEED = 1
PAGE_SIZE = 100
FLOOR_RUNS = 3
SYNC_RATIO_TARGET = 1.5
RESYNC_RATIO_TARGET = 1.2
GROWTH_TARGET_MB = 30.0
PROFILE_LINES = 25
SIM_COMMAND = ("-c", "from web.cli import main; main()", "lever-sim")


class BenchError(Exception):
    """Something the benchmark depends on did not work."""


@dataclass(frozen=True)
class Instance:
    """A ready invsync instance: settings, engine and sessions, integration launched."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


@dataclass(frozen=True)
class Memory:
    """Resident set of one child process after setup, and its peak during the sync, in KiB."""

    users: int
    baseline_kb: int
    peak_kb: int

    @property
    def sync_mb(self) -> float:
        """What the sync added to the process's peak, in MB."""
        return (self.peak_kb - self.baseline_kb) / 1024


@dataclass(frozen=True)
class Figures:
    """Everything one benchmark run measured."""

    users: int
    database: str
    floor_s: float
    sync_s: float
    resync_s: float
    small: Memory
    large: Memory


# -- simulator -------------------------------------------------------------------------------


@contextmanager
def simulator(users: int) -> Iterator[str]:
    """An unpaced Lever simulator with `users` users in its own process; yields its base URL."""
    args = ["--port", "0", "--users", str(users), "--seed", str(SEED), "--api-key", API_KEY]
    command = [sys.executable, *SIM_COMMAND, *args, "--no-rate-limit"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield _started_url(proc)
    finally:
        _stop(proc)


def _started_url(proc: subprocess.Popen[str]) -> str:
    """The base URL from the simulator's start-up line."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://\S+/v1", line)
    if match is None:
        raise BenchError(f"the Lever simulator did not start (said {line.strip()!r})")
    return match.group(0)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop the simulator (SIGTERM is its clean stop), killing it if it hangs."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


# -- raw floor -------------------------------------------------------------------------------


def fetch_rows(url: str) -> list[tuple[str, str, str | None]]:
    """Every user as (id, email, name), read page by page with a plain requests session."""
    rows: list[tuple[str, str, str | None]] = []
    params: dict[str, Any] = {"includeDeactivated": "true", "limit": PAGE_SIZE}
    with requests.Session() as http:
        http.auth = (API_KEY, PASSWORD)
        while True:
            response = http.get(f"{url}/users", params=params, timeout=30)
            response.raise_for_status()
            page = response.json()
            rows.extend((u["id"], u["email"], u.get("name")) for u in page["data"])
            if not (page.get("hasNext") and page.get("next")):
                return rows
            params = {**params, "offset": page["next"]}


def store_rows(path: Path, rows: Sequence[tuple[str, str, str | None]]) -> None:
    """Insert the rows into a fresh SQLite file in one executemany, with the instance pragmas."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT)")
        conn.executemany("INSERT INTO users (id, email, name) VALUES (?, ?, ?)", rows)
        conn.commit()
    finally:
        conn.close()


def floor_seconds(url: str, folder: Path, users: int) -> float:
    """The best time of a few plain read-and-insert runs (the first also warms the simulator)."""
    best = float("inf")
    for n in range(FLOOR_RUNS):
        started = perf_counter()
        rows = fetch_rows(url)
        store_rows(folder / f"floor-{n}.db", rows)
        best = min(best, perf_counter() - started)
        if len(rows) != users:
            raise BenchError(f"the floor read {len(rows)} users, expected {users}")
    return best


# -- instance and sync -----------------------------------------------------------------------


def new_instance(home: Path, database_url: str, lever_url: str) -> Instance:
    """A fresh instance: the simulator's key in the vault, an unpaced integration launched."""
    settings = Settings(home=home, database_url=database_url)
    engine = make_engine(settings)
    if database_url:
        _empty(engine)
    init_db(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        Vault(session, load_keyring(settings)).add(INTEGRATION, API_KEY, PASSWORD)
        spec = integrations.NewIntegration(
            name=INTEGRATION, credential=INTEGRATION, base_url=lever_url, max_rps=0
        )
        integ = integrations.create(session, spec)
        integrations.apply_smart_mapping(session, integ, None)
        integrations.launch(integ)
    return Instance(settings, engine, sessions)


def _empty(engine: Engine) -> None:
    """Drop every table of a disposable database, so the instance starts from nothing."""
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)


@contextmanager
def instance_at(database_url: str, lever_url: str) -> Iterator[Instance]:
    """A fresh instance in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="invsync-bench-") as tmp:
        instance = new_instance(Path(tmp) / "instance", database_url, lever_url)
        try:
            yield instance
        finally:
            instance.engine.dispose()


def timed_sync(instance: Instance, users: int) -> float:
    """Seconds for one `run_sync` of the benchmark integration, checked to have read everyone."""
    started = perf_counter()
    summary = run_sync(instance.sessions, instance.settings, INTEGRATION, trigger="benchmark")
    elapsed = perf_counter() - started
    _check_summary(summary, users)
    return elapsed


def _check_summary(summary: SyncSummary, users: int) -> None:
    """Refuse a run that failed or did not read every user."""
    if summary.status == "failed" or summary.fetched != users:
        raise BenchError(
            f"sync {summary.status}: fetched {summary.fetched} of {users} ({summary.message})"
        )
    print(f"  {_describe(summary)}", file=sys.stderr)


def _describe(summary: SyncSummary) -> str:
    """One line of what a sync did."""
    p, s = summary.people, summary.saas_users
    return (
        f"{summary.status}: {summary.fetched} fetched, {summary.errors} errors; people "
        f"{p.created}/{p.updated}/{p.unchanged} created/updated/unchanged; saas users "
        f"{s.created}/{s.updated}/{s.unchanged}"
    )


# -- memory (in a child process per size) ----------------------------------------------------


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in KiB."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        raise BenchError("the memory figures need Linux's /proc/self/status") from None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise BenchError(f"/proc/self/status has no {field}")
    return int(match.group(1))


def _reset_peak() -> None:
    """Start VmHWM over from the current RSS (Linux 4.0+), so the peak covers what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        print("  cannot reset VmHWM: the peak includes setup", file=sys.stderr)


def measure_memory(users: int, database_url: str) -> Memory:
    """Sync `users` users in this process: its RSS after setup and its peak RSS during the sync."""
    with simulator(users) as url, instance_at(database_url, url) as instance:
        gc.collect()
        baseline = _status_kb("VmRSS")
        _reset_peak()
        timed_sync(instance, users)
        return Memory(users, baseline, _status_kb("VmHWM"))


def memory_in_child(users: int, database_url: str) -> Memory:
    """Run `measure_memory` in a fresh interpreter so each size starts from the same state."""
    command = [sys.executable, "-m", "bench.sync_bench", "--measure-memory", str(users)]
    if database_url:
        command += ["--database-url", database_url]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, cwd=root)
    if done.returncode != 0:
        raise BenchError(f"the memory run for {users} users failed (exit {done.returncode})")
    return Memory(**json.loads(done.stdout.strip().splitlines()[-1]))


# -- the benchmark ---------------------------------------------------------------------------


def run_benchmark(users: int, database_url: str) -> Figures:
    """Time the floor, a first sync and a no-change re-sync, then measure memory at two sizes."""
    with simulator(users) as url, tempfile.TemporaryDirectory(prefix="invsync-floor-") as tmp:
        print(f"simulator with {users:,} users at {url}", file=sys.stderr)
        floor_s = floor_seconds(url, Path(tmp), users)
        print(f"  floor: {floor_s:.2f} s (best of {FLOOR_RUNS})", file=sys.stderr)
        with instance_at(database_url, url) as instance:
            sync_s = timed_sync(instance, users)
            resync_s = timed_sync(instance, users)
    small = memory_in_child(max(1, users // 10), database_url)
    large = memory_in_child(users, database_url)
    return Figures(users, database_label(database_url), floor_s, sync_s, resync_s, small, large)


def database_label(database_url: str) -> str:
    """The database as shown in the report, without any password."""
    if not database_url:
        return "SQLite file in a temporary instance folder"
    return make_url(database_url).render_as_string(hide_password=True)


def report(fig: Figures) -> str:
    """The results table: each figure with its target and PASS/MISS."""
    growth = fig.large.sync_mb - fig.small.sync_mb
    small, large = f"{fig.small.users:,}", f"{fig.large.users:,}"
    rows = [
        ("raw floor", f"{fig.users / fig.floor_s:,.0f} rec/s ({fig.floor_s:.2f} s)", "", ""),
        ("full sync", f"{fig.users / fig.sync_s:,.0f} rec/s ({fig.sync_s:.2f} s)", "", ""),
        _ratio_row("full sync / floor", fig.sync_s / fig.floor_s, SYNC_RATIO_TARGET),
        ("no-change re-sync", f"{fig.users / fig.resync_s:,.0f} rec/s ({fig.resync_s:.2f} s)"),
        _ratio_row("re-sync / floor", fig.resync_s / fig.floor_s, RESYNC_RATIO_TARGET),
        (f"sync peak RSS, {small} users", _memory(fig.small), "", ""),
        (f"sync peak RSS, {large} users", _memory(fig.large), "", ""),
        (f"growth {small} -> {large}", f"{growth:+.1f} MB", *_target(growth, GROWTH_TARGET_MB)),
    ]
    python, load = sys.version.split()[0], os.getloadavg()[0]
    head = [
        f"invsync sync benchmark: N={fig.users:,} users, database: {fig.database}",
        f"unpaced; simulator in its own process; {os.cpu_count()} CPUs, load {load:.1f} at the"
        f" end; Python {python}",
    ]
    return "\n".join(head + _table(("figure", "value", "target", "result"), rows))


def _ratio_row(name: str, ratio: float, target: float) -> tuple[str, ...]:
    """A ratio line of the table."""
    return (name, f"{ratio:.2f}x", *_target(ratio, target, unit="x"))


def _target(value: float, limit: float, unit: str = " MB") -> tuple[str, str]:
    """The target column (at most `limit`) and whether the value meets it."""
    return f"<= {limit:g}{unit}", "PASS" if value <= limit else "MISS"


def _memory(mem: Memory) -> str:
    """A memory cell: what the sync added over setup, and the process peak."""
    return f"+{mem.sync_mb:.1f} MB (peak {mem.peak_kb / 1024:.0f} MB)"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns, padded to their widest cell."""
    cells = [header, *(row + ("",) * (len(header) - len(row)) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


# -- profile ---------------------------------------------------------------------------------


def profile(users: int, database_url: str) -> None:
    """cProfile a first sync and a re-sync (main thread), and the Lever read they overlap."""
    with simulator(users) as url:
        fetch_rows(url)  # warm the simulator's JSON cache, as the timed runs do
        with instance_at(database_url, url) as instance:
            _print_profile("first sync, main thread", lambda: timed_sync(instance, users))
            _print_profile("no-change re-sync, main thread", lambda: timed_sync(instance, users))
        _print_profile("Lever read alone (the prefetch thread's work)", lambda: _read_all(url))


def _read_all(url: str) -> None:
    """Read every page with the product's client, unpaced, doing nothing else."""
    with LeverClient(url, API_KEY, PASSWORD, max_rps=0) as client:
        for _ in client.iter_user_pages():
            pass


def _print_profile(title: str, work: Callable[[], object]) -> None:
    """Run `work` under cProfile and print the top entries by cumulative and by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(work)
    for key in ("cumulative", "tottime"):
        print(f"\n=== {title}: top {PROFILE_LINES} by {key} ===")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats(key).print_stats(PROFILE_LINES)


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.sync_bench", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--users", type=_positive, default=DEFAULT_USERS, help="N (50,000)")
    size.add_argument("--quick", action="store_true", help=f"N={QUICK_USERS:,}")
    size.add_argument("--measure-memory", type=_positive, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument(
        "--database-url", default="", help="a disposable database: its tables are dropped"
    )
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of a sync")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    """A user count: a whole number of at least 1."""
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or one memory measurement) and print what it found."""
    args = parse_args(argv)
    try:
        if args.measure_memory:
            print(json.dumps(asdict(measure_memory(args.measure_memory, args.database_url))))
            return 0
        users = QUICK_USERS if args.quick else args.users
        print(report(run_benchmark(users, args.database_url)))
        if args.profile:
            profile(users, args.database_url)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
