"""Reconciliation: after a complete read, re-check the active SaaS users Lever did not list.

Each one is fetched with `GET /users/{id}`: a 404 means the account is gone (`deleted`), a
deactivation time means `deactivated`, anything else means Lever merely did not list it (a filter,
a bad record), so it is kept. The whole plan is made before anything changes, so a Lever failure
part-way changes nothing. A plan larger than the integration's guard is held on the run for a
person to approve; a later run re-plans from scratch and voids it. An account that comes back in
Lever is reactivated by the normal upsert, and only `active` accounts are ever re-checked, so
nothing flaps between runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from connector.errors import ConnectorError, LeverNotFoundError
from connector.lever.client import LeverClient
from connector.lever.schemas import MAX_MS
from connector.sync import LEVER_APP
from inventory.errors import ConfigError
from inventory.models import Integration, SaasApp, SaasUser, SyncRun
from inventory.records import update_saas_users
from inventory.statuses import SaasUserStatus, SyncRunStatus
from inventory.timeutil import from_ms, iso

__all__ = [
    "Candidate",
    "ReconcileOutcome",
    "apply_plan",
    "approve",
    "candidates",
    "deactivate_limit",
    "plan",
    "reconcile",
]

# Without a configured guard, a run may act on 10% of the integration's active accounts, at least 5.
GUARD_PERCENT = 10
GUARD_MINIMUM = 5
CHUNK = 500


@dataclass
class ReconcileOutcome:
    """What reconciliation did (or holds for approval) in one run."""

    status: str  # "done" | "held" | "skipped"
    checked: int = 0
    deactivated: int = 0
    deleted: int = 0
    kept: int = 0
    pending: list[dict[str, Any]] | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, pending plan included."""
        return asdict(self)

    def counts(self) -> dict[str, Any]:
        """The shape kept in `run.counts["reconcile"]`; the plan itself lives in `run.pending`."""
        return {**self.to_dict(), "pending": len(self.pending or ())}


@dataclass(frozen=True)
class Candidate:
    """An active SaaS user that a run did not see."""

    saas_user_id: int
    external_id: str
    email: str | None


def reconcile(
    session: Session, integ: Integration, run: SyncRun, client: LeverClient, *, now: datetime
) -> ReconcileOutcome:
    """Re-check the active SaaS users this run did not see, then apply, hold or skip the plan."""
    reason = _skip_reason(integ, run)
    if reason is not None:
        return _record(run, ReconcileOutcome("skipped", message=reason))
    missing = candidates(session, integ, run_id=run.id)
    try:
        entries = plan(client, missing)
    except ConnectorError as exc:
        return _record(run, _stopped(len(missing), exc))
    limit = deactivate_limit(session, integ)
    if len(entries) > limit:
        return _record(run, _hold(run, entries, len(missing), limit))
    deactivated, deleted = apply_plan(session, entries, now)
    kept = len(missing) - len(entries)
    return _record(run, ReconcileOutcome("done", len(missing), deactivated, deleted, kept))


def _skip_reason(integ: Integration, run: SyncRun) -> str | None:
    """Why this run may not reconcile, or None when it may."""
    if not integ.saas_users:
        return "no reconciliation: the integration keeps no SaaS users"
    if not integ.deactivate_missing:
        return "no reconciliation: deactivate-missing is off for this integration"
    if not run.complete_read or run.status == SyncRunStatus.CANCELLED:
        return "no reconciliation after a partial or cancelled read"
    if run.fetched == 0:
        return "no reconciliation: Lever listed no users in this run"
    return None


def _stopped(checked: int, exc: ConnectorError) -> ReconcileOutcome:
    """The outcome when Lever failed during the re-checks: nothing was changed."""
    message = f"reconciliation stopped, nothing deactivated: {exc}"
    return ReconcileOutcome("skipped", checked=checked, message=message)


def _hold(
    run: SyncRun, entries: list[dict[str, Any]], checked: int, limit: int
) -> ReconcileOutcome:
    """Keep an oversized plan on the run, untouched, until someone approves it."""
    run.pending = entries
    run.status = SyncRunStatus.HELD
    message = (
        f"{len(entries)} SaaS users would be deactivated or deleted, more than the limit of "
        f"{limit}: nothing changes until the run is approved or a later run re-plans"
    )
    kept = checked - len(entries)
    return ReconcileOutcome("held", checked, kept=kept, pending=entries, message=message)


def _record(run: SyncRun, outcome: ReconcileOutcome) -> ReconcileOutcome:
    """Add the outcome to the run's counts (a new dict, so the JSON column is written)."""
    run.counts = {**(run.counts or {}), "reconcile": outcome.counts()}
    return outcome


# -- planning ---------------------------------------------------------------------------------


def lever_app_id(session: Session) -> int | None:
    """The id of the Lever SaaS app, if any sync created it yet (never creates it)."""
    return session.scalar(select(SaasApp.id).where(SaasApp.name == LEVER_APP))


def candidates(
    session: Session, integ: Integration, *, run_id: int | None = None
) -> list[Candidate]:
    """Active SaaS users of the integration's Lever app (with `run_id`: those it did not see)."""
    app_id = lever_app_id(session)
    if app_id is None:
        return []
    where = _active_of(integ, app_id)
    if run_id is not None:
        where = where & or_(SaasUser.last_run_id.is_(None), SaasUser.last_run_id != run_id)
    cols = select(SaasUser.id, SaasUser.external_id, SaasUser.email).where(where)
    return [Candidate(*row) for row in session.execute(cols.order_by(SaasUser.id))]


def _active_of(integ: Integration, app_id: int) -> ColumnElement[bool]:
    """SQL for the integration's active accounts of the app."""
    return (
        (SaasUser.integration_id == integ.id)
        & (SaasUser.app_id == app_id)
        & (SaasUser.status == SaasUserStatus.ACTIVE)
    )


def plan(client: LeverClient, missing: Iterable[Candidate]) -> list[dict[str, Any]]:
    """One entry per account Lever says is gone or deactivated; raises if Lever fails."""
    return [entry for c in missing if (entry := _recheck(client, c)) is not None]


def _recheck(client: LeverClient, candidate: Candidate) -> dict[str, Any] | None:
    """What Lever says about one unlisted account: a plan entry, or None to keep it."""
    try:
        user = client.get_user(candidate.external_id)
    except LeverNotFoundError:
        return _entry(candidate, "delete", None)
    deactivated = _deactivated_at(user)
    return None if deactivated is None else _entry(candidate, "deactivate", deactivated)


def _deactivated_at(user: dict[str, Any]) -> datetime | None:
    """Lever's deactivation time; None when active or when the value cannot be read."""
    value = user.get("deactivatedAt")
    if type(value) is not int or not 0 <= value <= MAX_MS:
        return None
    return from_ms(value)


def _entry(candidate: Candidate, action: str, deactivated_at: datetime | None) -> dict[str, Any]:
    """A plan entry as stored in `run.pending` (JSON)."""
    return {
        "saas_user_id": candidate.saas_user_id,
        "external_id": candidate.external_id,
        "email": candidate.email,
        "action": action,
        "deactivated_at": iso(deactivated_at),
    }


def deactivate_limit(session: Session, integ: Integration, *, adjust: int = 0) -> int:
    """How many accounts a run may deactivate or delete unapproved; `adjust` fixes the count."""
    if integ.max_deactivate is not None:
        return integ.max_deactivate
    app_id = lever_app_id(session)
    stored = 0
    if app_id is not None:
        stored = session.scalar(select(func.count()).where(_active_of(integ, app_id))) or 0
    return max(GUARD_MINIMUM, (stored + adjust) * GUARD_PERCENT // 100)


# -- applying ---------------------------------------------------------------------------------


def apply_plan(
    session: Session, entries: Sequence[dict[str, Any]], now: datetime
) -> tuple[int, int]:
    """Apply plan entries to accounts that are still active, each logged as a deactivate or
    delete; (deactivated, deleted) counts."""
    by_id = {e["saas_user_id"]: e for e in entries}
    changes = [_change(by_id[i]) for i in _still_active(session, list(by_id))]
    update_saas_users(session, changes, now)
    deleted = sum(1 for c in changes if c["status"] == SaasUserStatus.DELETED)
    return len(changes) - deleted, deleted


def _still_active(session: Session, ids: list[int]) -> Iterator[int]:
    """The ids among these whose account is still active (a few hundred per query)."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        where = SaasUser.id.in_(chunk) & (SaasUser.status == SaasUserStatus.ACTIVE)
        yield from session.scalars(select(SaasUser.id).where(where).order_by(SaasUser.id))


def _change(entry: dict[str, Any]) -> dict[str, Any]:
    """The row change for one plan entry (applied with one bulk update by primary key)."""
    change: dict[str, Any] = {"id": entry["saas_user_id"]}
    if entry["action"] == "delete":
        return change | {"status": SaasUserStatus.DELETED}
    when = entry.get("deactivated_at")
    return change | {"status": SaasUserStatus.DEACTIVATED, "deactivated_at": _parse_iso(when)}


def _parse_iso(text: str | None) -> datetime | None:
    """An ISO-8601 time from a stored plan, back as an aware datetime."""
    return datetime.fromisoformat(text) if text else None


# -- approval ---------------------------------------------------------------------------------


def approve(session: Session, run: SyncRun, *, approver: str, now: datetime) -> ReconcileOutcome:
    """Apply a held run's plan and close the run; refuses a run that is not held or superseded."""
    _check_approvable(session, run, approver)
    entries = list(run.pending or [])
    deactivated, deleted = apply_plan(session, entries, now)
    held = (run.counts or {}).get("reconcile") or {}
    checked = int(held.get("checked", len(entries)))
    kept, message = checked - len(entries), f"approved by {approver}"
    outcome = ReconcileOutcome("done", checked, deactivated, deleted, kept, message=message)
    run.approved_by, run.approved_at = approver, now
    run.status = SyncRunStatus.COMPLETED_WITH_ERRORS if run.error_count else SyncRunStatus.SUCCEEDED
    return _record(run, outcome)


def _check_approvable(session: Session, run: SyncRun, approver: str) -> None:
    """Refuse, in one line naming why, anything but the integration's latest held run."""
    if not approver.strip():
        raise ConfigError("name who approves the run (an empty approver is not accepted)")
    if run.status != SyncRunStatus.HELD:
        raise ConfigError(f"run {run.id} is {run.status}, not held: there is nothing to approve")
    latest = session.scalar(
        select(func.max(SyncRun.id)).where(SyncRun.integration_id == run.integration_id)
    )
    if latest != run.id:
        raise ConfigError(
            f"run {run.id} was superseded by run {latest}, which planned afresh: "
            "approve the newest run instead if it is held"
        )
