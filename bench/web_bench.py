"""Web list benchmark: server time of People and Lever-user list pages over N synthetic records.

Run as `.venv/bin/python bench/web_bench.py [--people N] [--repeat R]` (N is 20,000 by default
for a quick try; `--people 1000000` gives the real figure).

It builds a fresh instance with a SQLite file in a temporary folder, migrated as `invsync init`
does, and fills it fast with plain `sqlite3` `executemany` in one transaction: N people
(`user0000000@example.com`… so the email order is the id order) and a Lever account for each,
linked to its person. Nothing here goes through the change log, as a bulk load would not.

Each figure is the server time of one page through the Flask test client of the real app,
signed in as a viewer: routing, the sign-in and role checks, the list query, the template and
the response body, measured as the best of R requests (the first request of each URL warms the
caches and is not counted). Pages hold 50 rows, sorted by email:

* page 1 of People and of Lever users;
* page 10,000 (or the last page when N is smaller), reached by its keyset cursor, built the way
  the "Next page" link builds it, so the database seeks straight to it;
* a search by email prefix, both as the search box does it (`q=`, "contains" on names and
  email) and as a filter (`f=email:starts_with:…`), each matching one record, found deep in the
  table;
* a search box word that every record holds (`q=example`), the case a trigram lookup cannot
  narrow, so the list is walked in order instead.

The benchmark reports each figure against the 50 ms target and does not judge: it exits 0
whatever the figures, and non-zero only when something broke.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask
from flask.testing import FlaskClient

from inventory.db import init_db, make_engine, make_sessionmaker, transaction
from inventory.settings import Settings
from web.accounts import add_account
from web.app import create_app

DEFAULT_PEOPLE = 20_000
DEFAULT_REPEAT = 5
PAGE = 50
DEEP_PAGE = 10_000
TARGET_MS = 50.0
PASSWORD = "bench password 1234"
STAMP = "2024-01-01 00:00:00.000000"
ROLES = ("interviewer", "admin", "team member", "super admin", "limited team member")
CHUNK = 50_000


class BenchError(Exception):
    """Something the benchmark depends on did not work."""


@dataclass(frozen=True)
class Figure:
    """One measured page: what it was, its URL, its best and median time in ms, its rows."""

    name: str
    url: str
    best_ms: float
    median_ms: float
    rows: int


# -- data --------------------------------------------------------------------------------------


def email(i: int) -> str:
    """The email of synthetic person i (zero-padded, so email order is id order)."""
    return f"user{i:07d}@example.com"


def _people_rows(n: int) -> Iterator[tuple[object, ...]]:
    """N people as rows of the people table (id = i + 1)."""
    for i in range(n):
        e = email(i)
        yield (
            i + 1, e, e, f"user{i:07d}", "User", f"{i:07d}", f"User {i:07d}",
            ROLES[i % len(ROLES)], "Engineer", "active", "{}", STAMP, STAMP, STAMP,
        )  # fmt: skip


def _user_rows(n: int) -> Iterator[tuple[object, ...]]:
    """A Lever account per person, linked to it (id = i + 1)."""
    for i in range(n):
        e = email(i)
        yield (
            i + 1, 1, f"lever-{i:07d}", e, e, f"User {i:07d}", ROLES[i % len(ROLES)],
            "active", STAMP, i + 1, STAMP, STAMP,
        )  # fmt: skip


def load(path: Path, n: int) -> float:
    """Insert N people and N Lever users into the migrated SQLite file; seconds taken."""
    started = perf_counter()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "INSERT INTO saas_apps (id, name, vendor, created_at) VALUES (1, 'Lever', 'Lever', ?)",
            (STAMP,),
        )
        _insert(conn, PEOPLE_INSERT, _people_rows(n))
        _insert(conn, USERS_INSERT, _user_rows(n))
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return perf_counter() - started


PEOPLE_INSERT = (
    "INSERT INTO people (id, email, email_key, username, first_name, last_name, full_name, role,"
    " job_title, status, custom, created_at, updated_at, last_synced_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
USERS_INSERT = (
    "INSERT INTO saas_users (id, app_id, external_id, email, email_key, name, role, status,"
    " created_at, person_id, record_created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?)"
)


def _insert(conn: sqlite3.Connection, sql: str, rows: Iterator[tuple[object, ...]]) -> None:
    """executemany in chunks, so the rows are never all in memory at once."""
    while True:
        chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            return
        conn.executemany(sql, chunk)


# -- the app ---------------------------------------------------------------------------------


def instance(home: Path) -> tuple[Settings, Path]:
    """A fresh, migrated instance with a viewer account; its settings and database file."""
    settings = Settings(home=home, database_url="")
    engine = make_engine(settings)
    init_db(engine)
    with transaction(make_sessionmaker(engine)) as session:
        add_account(session, "bench", PASSWORD, "viewer")
    path = Path(engine.url.database or "")
    engine.dispose()
    return settings, path


def signed_in(app: Flask) -> FlaskClient:
    """A test client signed in through the real login form."""
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token}
    )
    if answer.status_code != 302:
        raise BenchError(f"signing in failed with HTTP {answer.status_code}")
    return client


def cursor(i: int) -> str:
    """The keyset cursor of a page that starts after person (and Lever user) i, email order."""
    text = json.dumps([email(i), i + 1], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def pages(n: int) -> list[tuple[str, str]]:
    """The measured pages: (figure name, URL)."""
    deep = min(DEEP_PAGE, max(1, (n - 1) // PAGE))
    after = cursor(PAGE * (deep - 1) - 1) if deep > 1 else ""
    needle = email(n * 9 // 10)[: len("user0000000")]
    deep_q = f"&after={after}" if after else ""
    return [
        ("People, page 1", "/people"),
        (f"People, page {deep:,}", f"/people?{deep_q[1:]}"),
        ("People, email prefix (search box)", f"/people?q={needle}"),
        ("People, email prefix (filter)", f"/people?f=email:starts_with:{needle}"),
        ("People, word in every row (search box)", "/people?q=example"),
        ("Lever users, page 1", "/saas/lever/users"),
        (f"Lever users, page {deep:,}", f"/saas/lever/users?{deep_q[1:]}"),
        ("Lever users, email prefix (search box)", f"/saas/lever/users?q={needle}"),
        ("Lever users, email prefix (filter)", f"/saas/lever/users?f=email:starts_with:{needle}"),
        ("Lever users, word in every row (search box)", "/saas/lever/users?q=example"),
    ]


def measure(client: FlaskClient, name: str, url: str, repeat: int) -> Figure:
    """Best and median server time of a page over `repeat` requests, after one warm-up."""
    html = _get(client, url)
    times = []
    for _ in range(repeat):
        started = perf_counter()
        _get(client, url)
        times.append((perf_counter() - started) * 1000)
    times.sort()
    rows = html.count('<tr class="status-')
    return Figure(name, url, times[0], times[len(times) // 2], rows)


def _get(client: FlaskClient, url: str) -> str:
    """A page's HTML; anything but 200 is a BenchError."""
    answer = client.get(url)
    if answer.status_code != 200:
        raise BenchError(f"GET {url} answered HTTP {answer.status_code}")
    return answer.get_data(as_text=True)


# -- report ----------------------------------------------------------------------------------


def report(n: int, load_s: float, figures: Sequence[Figure]) -> str:
    """The results table: each page's time and its ratio to the target."""
    head = [
        f"invsync web list benchmark: {n:,} people and {n:,} Lever users, SQLite file,"
        f" {PAGE} rows a page; loaded in {load_s:.1f} s",
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end;"
        f" Python {sys.version.split()[0]}; SQLite {sqlite3.sqlite_version}",
    ]
    rows = [
        (f.name, str(f.rows), f"{f.best_ms:.1f}", f"{f.median_ms:.1f}",
         f"{f.median_ms / TARGET_MS:.2f}x", "PASS" if f.median_ms <= TARGET_MS else "MISS")
        for f in figures
    ]  # fmt: skip
    header = ("page", "rows", "best ms", "median ms", f"/ {TARGET_MS:g} ms", "result")
    return "\n".join(head + _table(header, rows))


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns, padded to their widest cell."""
    cells = [header, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="bench/web_bench.py", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--people", type=_positive, default=DEFAULT_PEOPLE, help="N (20,000)")
    parser.add_argument("--repeat", type=_positive, default=DEFAULT_REPEAT, help="R (5)")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    """A count: a whole number of at least 1."""
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(n: int, repeat: int) -> str:
    """Build the instance, load it, measure every page; the report."""
    with tempfile.TemporaryDirectory(prefix="invsync-web-bench-") as tmp:
        settings, path = instance(Path(tmp) / "instance")
        print(f"loading {n:,} people and Lever users into {path}", file=sys.stderr)
        load_s = load(path, n)
        app = create_app(settings)
        try:
            client = signed_in(app)
            figures = [measure(client, name, url, repeat) for name, url in pages(n)]
        finally:
            app.extensions["invsync.engine"].dispose()
    return report(n, load_s, figures)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print what it found."""
    args = parse_args(argv)
    try:
        print(run(args.people, args.repeat))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
