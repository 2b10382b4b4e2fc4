"""Sync benchmark: a full Lever sync of N simulated users against the raw floor, and its memory.

Run as `python -m bench.sync_bench [--users N | --quick] [--database-url URL] [--profile]
[--json]`.

Everything is unpaced (integration max_rps 0, simulator without rate limit) and the Lever
simulator always runs in its own process (`invsync lever-sim`), so its CPU and its user list
are not charged to the process being measured. Figures printed:

* full sync: records/s of a first sync into a fresh instance (the code path of `invsync sync`:
  `connector.jobs.run_sync` with a vault credential and a smart-mapped, launched integration);
* raw floor: a plain `requests.Session` loop over the same pages, plus one write of one
  (id, email, name) row per user into the kind of database the sync writes to:
  - SQLite (no `--database-url`, or a SQLite one): one `executemany` into a fresh SQLite file
    (WAL, synchronous=NORMAL), committed;
  - PostgreSQL (`--database-url postgresql…`): one psycopg 3 `COPY bench_floor … FROM STDIN`
    (`write_row` per user) into the database the URL names. The table is dropped and created in
    a transaction of its own, then the COPY is committed; connecting is timed, as it is for SQLite.
  The floor is the best of a few runs, the first of which also warms the simulator's per-user
  JSON cache; the report says which floor it used;
* full sync / floor and no-change re-sync / floor (the second run over the same simulator),
  judged against the targets of the database in use: on SQLite a full sync <= 2.0x (aim 1.2x)
  and a re-sync <= 1.5x (aim 1.0x); on PostgreSQL <= 3.0x and <= 2.0x;
* memory: each size (N/10 and N) is synced in a fresh child process; its figure is the peak
  resident set during the sync (VmHWM, reset just before it starts) minus the resident set
  after setup (imports done, schema created, integration launched). RSS is what the OS sees,
  SQLite's and the allocator's memory included, so a sync that streams in bounded memory shows
  the same figure at both sizes. `ru_maxrss` is not used: a child started by vfork+exec
  inherits its parent's peak in it, and it cannot be reset after setup. Its target is a growth
  from N/10 to N of at most 30 MB, on either database.

Each target is marked PASS or MISS, but the exit status does not judge: it is 0 whatever the
figures, and non-zero only when something broke. `--json` prints the figures as one JSON object
on stdout (the table then goes to stderr). `--database-url` must name a disposable database: the
benchmark drops and recreates every table there (`bench_floor` included) before each sync into a
fresh instance.
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
from typing import Any, TextIO

import psycopg
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
FLOOR_TABLE = "bench_floor"
GROWTH_TARGET_MB = 30.0
PROFILE_LINES = 25
SIM_COMMAND = ("-c", "from web.cli import main; main()", "lever-sim")


class BenchError(Exception):
    """Something the benchmark depends on did not work."""


Row = tuple[str, str, str | None]


@dataclass(frozen=True)
class Target:
    """A ratio to the floor that a run must not exceed, and the one aimed at, if stated."""

    limit: float
    aim: float | None = None

    def cell(self) -> str:
        """The target column of the report."""
        aim = "" if self.aim is None else f" (aim {self.aim:.1f}x)"
        return f"<= {self.limit:.1f}x{aim}"

    def met(self, ratio: float) -> bool:
        """Whether a ratio meets the target (the limit, not the aim)."""
        return ratio <= self.limit


# (full sync / floor, no-change re-sync / floor) per kind of database
TARGETS = {
    "sqlite": (Target(2.0, aim=1.2), Target(1.5, aim=1.0)),
    "postgresql": (Target(3.0), Target(2.0)),
}


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
    backend: str
    floor: str
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


def fetch_rows(url: str) -> list[Row]:
    """Every user as (id, email, name), read page by page with a plain requests session."""
    rows: list[Row] = []
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


def store_rows(path: Path, rows: Sequence[Row]) -> None:
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


def copy_rows(database_url: str, rows: Sequence[Row]) -> None:
    """COPY the rows into a freshly created `bench_floor` table of the PostgreSQL database."""
    with psycopg.connect(**_libpq_params(database_url)) as conn:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
            cur.execute(
                f"CREATE TABLE {FLOOR_TABLE} (id text PRIMARY KEY, email text NOT NULL, name text)"
            )
            conn.commit()
            with cur.copy(f"COPY {FLOOR_TABLE} (id, email, name) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()


def _libpq_params(database_url: str) -> dict[str, Any]:
    """psycopg's connection parameters for a SQLAlchemy PostgreSQL URL (any driver)."""
    url = make_url(database_url)
    params: dict[str, Any] = url.translate_connect_args(username="user", database="dbname")
    params.update(url.query)
    return params


def backend_of(database_url: str) -> str:
    """The kind of database the sync writes to: "postgresql" or "sqlite"."""
    if database_url and make_url(database_url).get_backend_name() == "postgresql":
        return "postgresql"
    return "sqlite"


def floor_for(database_url: str, folder: Path) -> tuple[str, Callable[[int, Sequence[Row]], None]]:
    """The floor's description, and how run n of it stores its rows."""
    if backend_of(database_url) == "postgresql":
        description = f"requests loop + one psycopg COPY into PostgreSQL table {FLOOR_TABLE}"
        return description, lambda _n, rows: copy_rows(database_url, rows)
    description = "requests loop + one executemany into a fresh SQLite file"
    return description, lambda n, rows: store_rows(folder / f"floor-{n}.db", rows)


def floor_seconds(url: str, users: int, store: Callable[[int, Sequence[Row]], None]) -> float:
    """The best time of a few plain read-and-store runs (the first also warms the simulator)."""
    best = float("inf")
    for n in range(FLOOR_RUNS):
        started = perf_counter()
        rows = fetch_rows(url)
        store(n, rows)
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
        floor, store = floor_for(database_url, Path(tmp))
        floor_s = floor_seconds(url, users, store)
        print(f"  floor ({floor}): {floor_s:.2f} s (best of {FLOOR_RUNS})", file=sys.stderr)
        with instance_at(database_url, url) as instance:
            sync_s = timed_sync(instance, users)
            resync_s = timed_sync(instance, users)
    small = memory_in_child(max(1, users // 10), database_url)
    large = memory_in_child(users, database_url)
    label, backend = database_label(database_url), backend_of(database_url)
    return Figures(users, label, backend, floor, floor_s, sync_s, resync_s, small, large)


def database_label(database_url: str) -> str:
    """The database as shown in the report, without any password."""
    if not database_url:
        return "SQLite file in a temporary instance folder"
    return make_url(database_url).render_as_string(hide_password=True)


def report(fig: Figures) -> str:
    """The results table: each figure with its target and PASS/MISS."""
    sync_target, resync_target = TARGETS[fig.backend]
    growth = _growth_mb(fig)
    small, large = f"{fig.small.users:,}", f"{fig.large.users:,}"
    rows = [
        ("raw floor", f"{fig.users / fig.floor_s:,.0f} rec/s ({fig.floor_s:.2f} s)", "", ""),
        ("full sync", f"{fig.users / fig.sync_s:,.0f} rec/s ({fig.sync_s:.2f} s)", "", ""),
        _ratio_row("full sync / floor", fig.sync_s / fig.floor_s, sync_target),
        ("no-change re-sync", f"{fig.users / fig.resync_s:,.0f} rec/s ({fig.resync_s:.2f} s)"),
        _ratio_row("re-sync / floor", fig.resync_s / fig.floor_s, resync_target),
        (f"sync peak RSS, {small} users", _memory(fig.small), "", ""),
        (f"sync peak RSS, {large} users", _memory(fig.large), "", ""),
        (f"growth {small} -> {large}", f"{growth:+.1f} MB", *_growth_target(growth)),
    ]
    python, load = sys.version.split()[0], os.getloadavg()[0]
    head = [
        f"invsync sync benchmark: N={fig.users:,} users, database: {fig.database}",
        f"floor ({fig.backend}): {fig.floor}, best of {FLOOR_RUNS}",
        f"unpaced; simulator in its own process; {os.cpu_count()} CPUs, load {load:.1f} at the"
        f" end; Python {python}",
    ]
    return "\n".join(head + _table(("figure", "value", "target", "result"), rows))


def _growth_mb(fig: Figures) -> float:
    """How much more the sync of N users added to the peak than the sync of N/10, in MB."""
    return fig.large.sync_mb - fig.small.sync_mb


def _ratio_row(name: str, ratio: float, target: Target) -> tuple[str, ...]:
    """A ratio line of the table."""
    return (name, f"{ratio:.2f}x", target.cell(), _verdict(target.met(ratio)))


def _growth_target(growth_mb: float) -> tuple[str, str]:
    """The target column of the memory growth and whether it meets it."""
    return f"<= {GROWTH_TARGET_MB:g} MB", _verdict(growth_mb <= GROWTH_TARGET_MB)


def _verdict(met: bool) -> str:
    """The result column."""
    return "PASS" if met else "MISS"


def figures_json(fig: Figures) -> str:
    """The figures, their ratios and verdicts as one JSON object."""
    sync_target, resync_target = TARGETS[fig.backend]
    sync_ratio, resync_ratio = fig.sync_s / fig.floor_s, fig.resync_s / fig.floor_s
    growth = _growth_mb(fig)

    def ratio(value: float, target: Target) -> dict[str, Any]:
        return {"value": value, "target": target.limit, "aim": target.aim, "met": target.met(value)}

    def memory(mem: Memory) -> dict[str, Any]:
        return {**asdict(mem), "sync_mb": mem.sync_mb, "peak_mb": mem.peak_kb / 1024}

    data = {
        "users": fig.users,
        "database": fig.database,
        "backend": fig.backend,
        "floor": fig.floor,
        "seconds": {"floor": fig.floor_s, "sync": fig.sync_s, "resync": fig.resync_s},
        "records_per_s": {
            "floor": fig.users / fig.floor_s,
            "sync": fig.users / fig.sync_s,
            "resync": fig.users / fig.resync_s,
        },
        "sync_over_floor": ratio(sync_ratio, sync_target),
        "resync_over_floor": ratio(resync_ratio, resync_target),
        "memory": {
            "small": memory(fig.small),
            "large": memory(fig.large),
            "growth_mb": growth,
            "target_mb": GROWTH_TARGET_MB,
            "met": growth <= GROWTH_TARGET_MB,
        },
    }
    return json.dumps(data, indent=2)


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


def profile(users: int, database_url: str, out: TextIO) -> None:
    """cProfile a first sync and a re-sync (main thread), and the Lever read they overlap."""
    with simulator(users) as url:
        fetch_rows(url)  # warm the simulator's JSON cache, as the timed runs do
        with instance_at(database_url, url) as instance:

            def sync() -> float:
                return timed_sync(instance, users)

            _print_profile("first sync, main thread", sync, out)
            _print_profile("no-change re-sync, main thread", sync, out)
        _print_profile("Lever read alone (the prefetch thread's work)", lambda: _read_all(url), out)


def _read_all(url: str) -> None:
    """Read every page with the product's client, unpaced, doing nothing else."""
    with LeverClient(url, API_KEY, PASSWORD, max_rps=0) as client:
        for _ in client.iter_user_pages():
            pass


def _print_profile(title: str, work: Callable[[], object], out: TextIO) -> None:
    """Run `work` under cProfile and print the top entries by cumulative and by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(work)
    for key in ("cumulative", "tottime"):
        print(f"\n=== {title}: top {PROFILE_LINES} by {key} ===", file=out)
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(PROFILE_LINES)


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
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON (the table goes to stderr)"
    )
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
        figures = run_benchmark(users, args.database_url)
        out = sys.stderr if args.json else sys.stdout
        print(report(figures), file=out)
        if args.json:
            print(figures_json(figures))
        if args.profile:
            profile(users, args.database_url, out)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
