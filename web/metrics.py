"""What `/metrics` reports, read from the database at scrape time, in Prometheus text format 0.0.4.

Every figure is computed from the database when it is scraped, not kept in process memory, so
each of several web processes serving one instance answers the same. Lever request and retry
counts come from each run's `counts["lever"]`, which the sync job writes as it closes the run;
queue depth comes from the app's `queue_depth` hook when one is installed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, extract, func, select
from sqlalchemy.orm import Session

from inventory.models import Integration, SyncRun, Workflow, WorkflowRun

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "Family",
    "Sample",
    "collect",
    "exposition",
    "queue_family",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
Labels = Mapping[str, str]


@dataclass(frozen=True)
class Sample:
    """One line of a metric family: the name's suffix (`_bucket`, `_sum`…), labels, value."""

    suffix: str
    labels: Labels
    value: float


@dataclass(frozen=True)
class Family:
    """One metric: its name, type (gauge, counter, histogram), help text and samples."""

    name: str
    kind: str
    help: str
    samples: tuple[Sample, ...]


# -- the text format -----------------------------------------------------------------------


def exposition(families: Iterable[Family]) -> str:
    """The families in Prometheus text exposition format 0.0.4."""
    return "".join(_family_text(family) for family in families)


def _family_text(family: Family) -> str:
    """A family's HELP and TYPE lines, then one line per sample."""
    head = f"# HELP {family.name} {_escape_help(family.help)}\n# TYPE {family.name} {family.kind}\n"
    return head + "".join(_sample_line(family.name, s) for s in family.samples)


def _sample_line(name: str, sample: Sample) -> str:
    """`name_suffix{label="value",...} number`, without braces when there are no labels."""
    labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels.items())
    braces = f"{{{labels}}}" if labels else ""
    return f"{name}{sample.suffix}{braces} {_number(sample.value)}\n"


def _escape_label(value: str) -> str:
    """A label value with backslash, double quote and newline escaped, as the format requires."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    """Help text with backslash and newline escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value: whole numbers without a fraction, infinities as +Inf and -Inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


# -- the figures ---------------------------------------------------------------------------


def collect(session: Session) -> list[Family]:
    """Every metric the database holds the figures for."""
    return [
        _sync_runs(session),
        _workflow_runs(session),
        _records_synced(session),
        _durations(session),
        *_lever_calls(session),
    ]


def queue_family(depths: Mapping[str, int]) -> Family:
    """Tasks waiting, by queue, as the queue hook reports them."""
    samples = tuple(Sample("", {"queue": q}, n) for q, n in sorted(depths.items()))
    return Family("invsync_queue_depth", "gauge", "Tasks waiting in each queue.", samples)


def _sync_runs(session: Session) -> Family:
    """Sync runs by integration and status."""
    query = (
        select(Integration.name, SyncRun.status, func.count())
        .join(SyncRun.integration)
        .group_by(Integration.name, SyncRun.status)
        .order_by(Integration.name, SyncRun.status)
    )
    samples = tuple(
        Sample("", {"integration": name, "status": status}, count)
        for name, status, count in session.execute(query)
    )
    return Family("invsync_sync_runs", "gauge", "Sync runs by integration and status.", samples)


def _workflow_runs(session: Session) -> Family:
    """Workflow runs by workflow and status."""
    query = (
        select(Workflow.name, WorkflowRun.status, func.count())
        .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .group_by(Workflow.name, WorkflowRun.status)
        .order_by(Workflow.name, WorkflowRun.status)
    )
    samples = tuple(
        Sample("", {"workflow": name, "status": status}, count)
        for name, status, count in session.execute(query)
    )
    return Family(
        "invsync_workflow_runs", "gauge", "Workflow runs by workflow and status.", samples
    )


def _records_synced(session: Session) -> Family:
    """Lever records read over every run, by integration."""
    query = (
        select(Integration.name, func.coalesce(func.sum(SyncRun.fetched), 0))
        .join(SyncRun.integration)
        .group_by(Integration.name)
        .order_by(Integration.name)
    )
    samples = tuple(Sample("", {"integration": n}, total) for n, total in session.execute(query))
    return Family(
        "invsync_records_synced_total", "counter", "Lever records read by sync runs.", samples
    )


def _durations(session: Session) -> Family:
    """A histogram of finished runs' durations per integration, bucketed by the database."""
    seconds = _duration_seconds(session)
    buckets = [func.sum(case((seconds <= le, 1), else_=0)) for le in DURATION_BUCKETS]
    query = (
        select(Integration.name, func.count(), func.coalesce(func.sum(seconds), 0.0), *buckets)
        .join(SyncRun.integration)
        .where(SyncRun.finished_at.is_not(None))
        .group_by(Integration.name)
        .order_by(Integration.name)
    )
    samples = tuple(s for row in session.execute(query) for s in _histogram(*row))
    return Family(
        "invsync_sync_run_duration_seconds",
        "histogram",
        "How long finished sync runs took, from start to finish.",
        samples,
    )


def _duration_seconds(session: Session) -> ColumnElement[Any]:
    """A run's finished_at - started_at in seconds, in the SQL of the session's database."""
    if session.get_bind().dialect.name == "sqlite":
        days = func.julianday(SyncRun.finished_at) - func.julianday(SyncRun.started_at)
        return cast(days * 86400.0, Float)
    return cast(extract("epoch", SyncRun.finished_at - SyncRun.started_at), Float)


def _histogram(name: str, count: int, total: float, *cumulative: int) -> Iterator[Sample]:
    """One integration's `_bucket` lines (cumulative, ending with +Inf), `_sum` and `_count`."""
    for le, below in zip(DURATION_BUCKETS, cumulative, strict=True):
        yield Sample("_bucket", {"integration": name, "le": _number(le)}, below or 0)
    yield Sample("_bucket", {"integration": name, "le": "+Inf"}, count)
    yield Sample("_sum", {"integration": name}, float(total))
    yield Sample("_count", {"integration": name}, count)


def _lever_calls(session: Session) -> tuple[Family, Family]:
    """Lever requests and retries summed over runs, by integration and HTTP status."""
    requests: Counter[tuple[str, str]] = Counter()
    retries: Counter[tuple[str, str]] = Counter()
    query = select(Integration.name, SyncRun.counts["lever"]).join(SyncRun.integration)
    for name, lever in session.execute(query.execution_options(yield_per=500)):
        _add(requests, name, lever, "requests")
        _add(retries, name, lever, "retries")
    return (
        _by_status("invsync_lever_requests_total", "Requests sent to Lever.", requests),
        _by_status("invsync_lever_retries_total", "Requests to Lever sent again.", retries),
    )


def _add(into: Counter[tuple[str, str]], name: str, lever: Any, key: str) -> None:
    """Add one run's counts of a kind to the totals; runs from before counting add nothing."""
    counts = lever.get(key) if isinstance(lever, dict) else None
    if not isinstance(counts, dict):
        return
    for status, n in counts.items():
        if isinstance(n, int):
            into[(name, str(status))] += n


def _by_status(metric: str, help_text: str, totals: Counter[tuple[str, str]]) -> Family:
    """A counter family labelled by integration and status."""
    samples = tuple(
        Sample("", {"integration": name, "status": status}, n)
        for (name, status), n in sorted(totals.items())
    )
    return Family(metric, "counter", help_text, samples)
