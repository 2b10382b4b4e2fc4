"""Workflow benchmark: Lever User Role over N SaaS users, the list read once per run beside one
call per record.

Run as `python -m bench.workflow_bench [--users N | --quick] [--database-url URL]`.

A fresh instance syncs N simulated Lever users (the simulator runs unpaced in its own process,
as in `bench.sync_bench`), then runs one workflow — begin → Lever User Role → end over every
Lever SaaS user — twice: with the preset's default lookup (Lever's user list read once per run,
pages of 100) and with ``"lookup": "each"`` (``GET /users/{id}`` per record). For each it prints
the HTTP requests made and the wall time of the whole run (selection, Lever, record updates and
the step log), and the bound the batched lookup must keep: ⌈users/100⌉ + 1 calls.

The benchmark reports and does not judge: it exits 0 whatever the figures, and non-zero only
when something broke. `--database-url` must name a disposable database (every table there is
dropped first).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import requests

from bench.sync_bench import INTEGRATION, BenchError, database_label, instance_at, simulator
from connector.jobs import run_sync
from workflows import store
from workflows.registry import load_registry
from workflows.runner import RunOptions, run_workflow

DEFAULT_USERS = 10_000
QUICK_USERS = 1_000


class CountingSession(requests.Session):
    """A requests session that counts the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        """Count, then send."""
        self.count += 1
        return super().request(*args, **kwargs)


@dataclass(frozen=True)
class Figure:
    """One approach: how many requests it made and how long the run took."""

    approach: str
    records: int
    calls: int
    seconds: float


def definition(name: str, lookup: str) -> dict[str, Any]:
    """Begin → Lever User Role (with the given lookup) → end, over every Lever SaaS user."""
    role = {"id": "role", "type": "saas_user_role", "preset": "lever_user_role",
            "credential": INTEGRATION, "lookup": lookup}  # fmt: skip
    return {
        "name": name, "object": "saas_users", "trigger": {"type": "manual"},
        "criteria": {"field": "app", "op": "eq", "value": "Lever"}, "run_mode": "autopilot",
        "blocks": [{"id": "begin", "type": "begin"}, role, {"id": "end", "type": "end"}],
        "edges": [{"from": "begin", "to": "role"},
                  {"from": "role", "to": "end", "on": "success"},
                  {"from": "role", "to": "end", "on": "failure"}],
    }  # fmt: skip


def measure(instance: Any, approach: str, lookup: str) -> Figure:
    """Create, activate and run one workflow; its figure."""
    registry = load_registry()
    with instance.sessions.begin() as session:
        store.create(session, definition(approach, lookup), registry)
        store.activate(session, approach, registry)
    http = CountingSession()
    try:
        started = perf_counter()
        summary = run_workflow(instance.sessions, instance.settings, approach,
                               options=RunOptions(client_options={"http": http}))  # fmt: skip
        elapsed = perf_counter() - started
    finally:
        http.close()
    if summary.status != "succeeded" or summary.outcomes["role"]["failure"]:
        raise BenchError(f"{approach}: run {summary.status}, outcomes {summary.outcomes['role']}")
    return Figure(approach, summary.matched, http.count, elapsed)


def run_benchmark(users: int, database_url: str) -> list[Figure]:
    """Sync N users, then time both approaches on the same inventory."""
    with simulator(users) as url, instance_at(database_url, url) as instance:
        sync = run_sync(instance.sessions, instance.settings, INTEGRATION, trigger="benchmark")
        if sync.fetched != users:
            raise BenchError(f"the sync read {sync.fetched} of {users} users: {sync.message}")
        return [
            measure(instance, "list once per run", "auto"),
            measure(instance, "one call per record", "each"),
        ]


def report(users: int, database_url: str, figures: Sequence[Figure]) -> str:
    """The figures as a small table."""
    bound = math.ceil(users / 100) + 1
    lines = [
        f"Lever User Role over {figures[0].records:,} SaaS users "
        f"({users:,} Lever users, {database_label(database_url)})",
        f"{'approach':<22}{'calls':>8}{'seconds':>10}{'records/s':>11}",
    ]
    for f in figures:
        rate = f.records / f.seconds if f.seconds else float("inf")
        lines.append(f"{f.approach:<22}{f.calls:>8,}{f.seconds:>10.2f}{rate:>11,.0f}")
    batched, each = figures
    kept = "kept" if batched.calls <= bound else "EXCEEDED"
    ratio = each.calls / max(batched.calls, 1)
    lines.append(f"bound for the list: ⌈users/100⌉ + 1 = {bound:,} calls ({kept})")
    lines.append(f"one call per record: {ratio:.0f} times the calls")
    paced = f"{batched.calls / 10:,.0f} s against {each.calls / 10:,.0f} s"
    lines.append(f"paced at Lever's 10 requests/s, the calls alone take {paced}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.workflow_bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--users", type=int, default=DEFAULT_USERS, help="Lever users to simulate")
    size.add_argument("--quick", action="store_true", help=f"{QUICK_USERS:,} users")
    parser.add_argument("--database-url", default="", help="a disposable database (default: "
                        "a SQLite file in a temporary folder)")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    users = QUICK_USERS if args.quick else args.users
    if users < 1:
        print("--users must be 1 or more", file=sys.stderr)
        return 2
    try:
        figures = run_benchmark(users, args.database_url)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(report(users, args.database_url, figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
