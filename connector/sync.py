"""The sync engine: pull → validate → filter → map → upsert a batch at a time → close the run.

The engine reads pages from any iterable (the Lever client in production, lists in tests) and
gathers their mapped rows into batches of about `batch_size` records, written with a few set
statements each (`inventory.upsert`): a batch is written as soon as it is full, and whenever the
next page has not arrived yet, so a slow Lever never leaves rows waiting. It never commits: it
calls `checkpoint`, which the caller points at its commit, about once a second
(`commit_every`), whenever the next page has not arrived yet (so no write lock is held while
Lever is slow), and at the end. A failure late in a long read keeps what was read before it
without paying for a commit per page. It imports nothing from workflows; what
happened is reported in the summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connector.errors import ConnectorError, MappingError, RecordError
from connector.lever.schemas import load_user
from connector.mapping import Mapper, load_entries
from connector.prefetch import Prefetcher
from inventory.db import lock_writes
from inventory.models import Integration, SyncRun, SyncRunError
from inventory.rules import Rule, evaluate, parse_rule
from inventory.statuses import SaasUserStatus, SyncRunStatus
from inventory.timeutil import iso, utcnow
from inventory.upsert import (
    Counts,
    PersonRow,
    Preference,
    SaasUserRow,
    Stamp,
    email_key,
    ensure_app,
    upsert_people,
    upsert_saas_users,
)

LEVER_APP = "Lever"
# Records written together while Lever keeps pages coming: a few set statements per batch.
BATCH_SIZE = 1000
# Pages read ahead: enough for a whole batch (Lever pages hold 100 users) plus two, so a batch
# is not cut short while its write runs; a fixed few MB, whatever the number of users.
READ_AHEAD = BATCH_SIZE // 100 + 2
# An address longer than this is not one (RFC 5321 allows 254); the sync key column holds 320.
MAX_EMAIL = 320


@dataclass
class SyncSummary:
    """What a run did: the contract of `invsync sync --format json`."""

    run_id: int
    integration: str
    status: str = SyncRunStatus.RUNNING
    fetched: int = 0
    errors: int = 0
    skipped: int = 0
    people: Counts = field(default_factory=Counts)
    saas_users: Counts = field(default_factory=Counts)
    complete_read: bool = False
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_samples: list[tuple[str, str]] = field(default_factory=list)
    reconcile: dict[str, Any] | None = None
    login_activity: dict[str, Any] | None = None
    # a hires poll: the people it hired ("hired") and those whose start date came ("started"),
    # for the shell to hand to person_hired / person_started workflows
    hires: dict[str, list[int]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape: snake_case keys, ISO-8601 UTC timestamps."""
        return {
            "run_id": self.run_id,
            "integration": self.integration,
            "status": self.status,
            "fetched": self.fetched,
            "errors": self.errors,
            "skipped": self.skipped,
            "people": self.people.to_dict(),
            "saas_users": self.saas_users.to_dict(),
            "complete_read": self.complete_read,
            "message": self.message,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "error_samples": [{"record": k, "message": m} for k, m in self.error_samples],
            "reconcile": self.reconcile,
            "login_activity": self.login_activity,
        }


@dataclass
class _Plan:
    """An integration's settings, read once per run."""

    mapper: Mapper
    preference: Preference
    filters: Rule | None
    saas_app_id: int | None
    integration_id: int


def lever_saas_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """A validated Lever user as SaaS-user values (the account itself, not the person)."""
    deactivated = record.get("deactivatedAt")
    return {
        "email": record["email"],
        "name": as_text(record.get("name")),
        "role": as_text(record.get("accessRole")),
        "status": SaasUserStatus.DEACTIVATED if deactivated else SaasUserStatus.ACTIVE,
        "created_at": record.get("createdAt"),
        "deactivated_at": deactivated,
        "last_login_at": record.get("lastLoggedInAt"),
    }


def check_person(values: dict[str, Any]) -> str:
    """The record's sync key, after putting the mapped values in the form People records store.

    Only the email can make a record an error: without a usable address (a string holding an
    "@", at most 320 characters) there is nothing to match the person on. Every other value is
    data and is kept, whatever its length or type (`as_text`).
    """
    email = values.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise MappingError(f"email: no usable address to match on (got {_shown(email)})")
    if len(email) > MAX_EMAIL:
        raise MappingError(f"email: longer than {MAX_EMAIL} characters, not a usable address")
    for name, value in values.items():
        values[name] = _custom(value) if name == "custom" else as_text(value)
    return email_key(email) or ""


def as_text(value: Any) -> str | None:
    """A mapped value in the stable text form stored in a text field.

    Text is kept exactly as sent (any length, trailing spaces, markup, control characters),
    except U+0000, which PostgreSQL cannot store: it becomes U+FFFD on every database alike.
    Other values: true/false for booleans, JSON for numbers, compact JSON with sorted keys for
    objects and lists, ISO-8601 UTC for times, None stays None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    return as_text(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=str))  # fmt: skip


def _custom(value: Any) -> Any:
    """Custom-field values in the same stable text form as other text fields (custom fields
    are text to rules, searches and exports alike; a number kept as a JSON number would
    compare differently in SQL and in Python)."""
    if not isinstance(value, dict):
        return as_text(value)
    return {as_text(name): as_text(field) for name, field in value.items()}


def _shown(value: Any) -> str:
    """A bad value as an error names it: its repr, cut short so the message stays one line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class _Batch:
    """Mapped rows of the pages read since the last write."""

    people: list[PersonRow] = field(default_factory=list)
    accounts: list[SaasUserRow] = field(default_factory=list)


class SyncEngine:
    """Runs one sync of an integration inside the caller's session."""

    def __init__(
        self,
        session: Session,
        integration: Integration,
        pages: Iterable[list[dict[str, Any]]],
        *,
        now: Callable[[], datetime] = utcnow,
        checkpoint: Callable[[], None] = lambda: None,
        progress: Callable[[int], None] | None = None,
        prefetch: bool = True,
        cancelled: Callable[[], bool] = lambda: False,
        commit_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.session = session
        self.integration = integration
        self.pages = pages
        self.now = now
        self.checkpoint = checkpoint
        self.progress = progress
        self.prefetch = prefetch
        self.cancelled = cancelled
        self.commit_every = commit_every
        self.clock = clock
        self.batch_size = batch_size

    def run(self, run: SyncRun) -> SyncSummary:
        """Read every page, upsert it, and close the run with its status and counts."""
        started = run.started_at or self.now()
        summary = SyncSummary(run.id, self.integration.name, started_at=started)
        plan = self._plan()
        stamp_time = self.now()
        try:
            summary.complete_read = self._read_all(plan, summary, stamp_time)
        except ConnectorError as exc:
            summary.message = str(exc)
        self._close(run, summary)
        return summary

    def _plan(self) -> _Plan:
        """Compile the mapping and filters and find the SaaS app before reading anything."""
        integ = self.integration
        mapper = Mapper(load_entries(integ.mapping))
        filters = parse_rule(integ.filters) if integ.filters else None
        app_id = None
        if integ.saas_users:  # another integration's sync may create the app at the same time
            lock_writes(self.session, "people")
            app_id = ensure_app(self.session, LEVER_APP, "Lever").id
            self.checkpoint()  # no lock is held while Lever answers
        return _Plan(mapper, Preference(integ.preference), filters, app_id, integ.id)

    def _read_all(self, plan: _Plan, summary: SyncSummary, stamp_time: datetime) -> bool:
        """Stream the pages, reading ahead while each batch is written; False when cancelled."""
        stamp = Stamp(summary.run_id, stamp_time, plan.mapper.stamp_custom)
        pages = Prefetcher(self.pages, READ_AHEAD) if self.prefetch else iter(self.pages)
        batch = _Batch()
        last_commit = self.clock()
        try:
            for page in pages:
                self._read_page(plan, page, summary, batch)
                # a cancel is read before the page is committed, so one asked after seeing
                # that commit applies after the next page, as `runs cancel` promises
                if self.cancelled():
                    self._write(plan, batch, summary, stamp)
                    self.checkpoint()
                    summary.status = SyncRunStatus.CANCELLED
                    summary.message = "cancelled at the user's request; no reconciliation"
                    return False
                waiting = not isinstance(pages, Prefetcher) or not pages.ready()
                if waiting or len(batch.people) >= self.batch_size:
                    self._write(plan, batch, summary, stamp)
                if waiting or self.clock() - last_commit >= self.commit_every:
                    self.checkpoint()
                    last_commit = self.clock()
                if self.progress:
                    self.progress(summary.fetched)
        except ConnectorError:
            self._write(plan, batch, summary, stamp)  # what was read before the failure lands
            raise
        finally:
            if isinstance(pages, Prefetcher):
                pages.close()
        self._write(plan, batch, summary, stamp)
        self.checkpoint()
        return True

    def _read_page(
        self, plan: _Plan, page: list[dict[str, Any]], summary: SyncSummary, batch: _Batch
    ) -> None:
        """Validate, filter and map one page into the batch waiting to be written."""
        for raw in page:
            summary.fetched += 1
            self._one(plan, raw, summary, batch.people, batch.accounts)

    def _write(self, plan: _Plan, batch: _Batch, summary: SyncSummary, stamp: Stamp) -> None:
        """Upsert the batch (people first, so SaaS users link to them), then empty it."""
        if not batch.people:
            return
        # syncs of other integrations (other workers) may upsert the same people: one writes at
        # a time, until its next commit, and reads what the one before it committed
        lock_writes(self.session, "people")
        result = upsert_people(self.session, batch.people, plan.preference, stamp)
        summary.people.add(result.counts)
        if plan.saas_app_id is not None:
            counts = upsert_saas_users(
                self.session, plan.saas_app_id, plan.integration_id, batch.accounts,
                plan.preference, stamp, result.person_ids,
            )  # fmt: skip
            summary.saas_users.add(counts)
        batch.people, batch.accounts = [], []

    def _one(
        self,
        plan: _Plan,
        raw: dict[str, Any],
        summary: SyncSummary,
        people: list[PersonRow],
        accounts: list[SaasUserRow],
    ) -> None:
        """Turn one raw record into rows, or into a per-record error; the run goes on."""
        try:
            record = load_user(raw)
            if plan.filters is not None and not evaluate(plan.filters, record, self.now()):
                summary.skipped += 1
                return
            values = plan.mapper.map(record)
            key = check_person(values)
        except (RecordError, MappingError) as exc:
            self._record_error(summary, error_key(raw, exc), one_line(exc))
            return
        people.append(PersonRow(key, values))
        accounts.append(SaasUserRow(record["id"], lever_saas_values(record), key))

    def _record_error(self, summary: SyncSummary, key: str, message: str) -> None:
        """Keep a per-record error on the run."""
        summary.errors += 1
        if len(summary.error_samples) < 20:
            summary.error_samples.append((key, message))
        self.session.add(SyncRunError(run_id=summary.run_id, record_key=key[:320], message=message))

    def _close(self, run: SyncRun, summary: SyncSummary) -> None:
        """Write the run's status, counts and end time."""
        summary.status = _status(summary)
        summary.finished_at = self.now()
        run.status = summary.status
        run.finished_at = summary.finished_at
        run.complete_read = summary.complete_read
        run.fetched = summary.fetched
        run.skipped = summary.skipped
        run.error_count = summary.errors
        run.counts = {
            "people": summary.people.to_dict(),
            "saas_users": summary.saas_users.to_dict(),
        }
        run.message = summary.message
        self.session.flush()


def _status(summary: SyncSummary) -> str:
    """succeeded, completed_with_errors (per-record errors), cancelled, or failed (the read broke
    off)."""
    if summary.status == SyncRunStatus.CANCELLED:
        return SyncRunStatus.CANCELLED
    if not summary.complete_read:
        return SyncRunStatus.FAILED
    return SyncRunStatus.COMPLETED_WITH_ERRORS if summary.errors else SyncRunStatus.SUCCEEDED


def error_key(raw: Any, exc: Exception) -> str:
    """The best key to name a bad record by: its email, else its id."""
    key = getattr(exc, "key", None)
    if key and key != "<unknown>":
        return str(key)
    if isinstance(raw, dict):
        return str(raw.get("email") or raw.get("id") or "<unknown>")
    return "<unknown>"


def one_line(exc: Exception) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split())
