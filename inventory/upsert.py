"""Upsert by sync key, a page at a time: one query finds the existing rows, new rows are
inserted in bulk, changed rows updated, unchanged rows left alone, and the bookkeeping stamps
(last_synced_at, last_seen_at, sync-time custom fields) refreshed in one statement per table.

Stamps are not changes: they are never compared, never counted as updates, and never enter the
change log. A person met twice in one run (two source accounts with one address) takes the
values of the first account met; later ones leave it unchanged, so re-runs do not flap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ColumnElement, cast, func, insert, literal, select, update
from sqlalchemy.orm import Session

from inventory.models import Person, SaasApp, SaasUser
from inventory.timeutil import iso

PERSON_FIELDS = (
    "email", "username", "first_name", "last_name", "full_name", "role", "job_title", "status",
)  # fmt: skip
SAAS_FIELDS = (
    "email", "email_key", "name", "role", "status", "created_at", "deactivated_at",
    "last_login_at", "person_id",
)  # fmt: skip


# Execution option marking bookkeeping statements (stamps): never changes, never change-logged.
BOOKKEEPING = "invsync_bookkeeping"
# Columns that are bookkeeping wherever they are written, so never part of a change.
BOOKKEEPING_COLUMNS = frozenset(
    {
        "created_at",
        "updated_at",
        "record_created_at",
        "last_synced_at",
        "last_seen_at",
        "last_run_id",
        "fingerprint",
    }
)


class Preference(StrEnum):
    """What an integration may do to the inventory."""

    CREATE_UPDATE = "create_update"
    CREATE_ONLY = "create_only"
    UPDATE_ONLY = "update_only"

    @property
    def creates(self) -> bool:
        """Whether new records may be added."""
        return self is not Preference.UPDATE_ONLY

    @property
    def updates(self) -> bool:
        """Whether existing records may be changed."""
        return self is not Preference.CREATE_ONLY


@dataclass
class Counts:
    """What happened to the records of one kind in a run."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def add(self, other: Counts) -> None:
        """Accumulate another page's counts."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped

    def to_dict(self) -> dict[str, int]:
        """The JSON shape used in sync summaries."""
        return {k: getattr(self, k) for k in ("created", "updated", "unchanged", "skipped")}


@dataclass(frozen=True)
class Stamp:
    """Bookkeeping written to every row a run saw."""

    run_id: int
    now: datetime
    custom_fields: Sequence[str] = ()


@dataclass
class PersonRow:
    """Mapped People values for one source record; `key` is the folded sync key."""

    key: str
    values: dict[str, Any]


@dataclass
class SaasUserRow:
    """One source account; `person_key` links it to a person by email."""

    external_id: str
    values: dict[str, Any]
    person_key: str | None


@dataclass
class PageResult:
    """Counts of a page, and which person id each key now has (for linking SaaS users)."""

    counts: Counts = field(default_factory=Counts)
    person_ids: dict[str, int] = field(default_factory=dict)


def email_key(email: str | None) -> str | None:
    """The case-insensitive sync key of an email address."""
    return email.strip().casefold() if email else None


def upsert_people(
    session: Session, rows: Sequence[PersonRow], preference: Preference, stamp: Stamp
) -> PageResult:
    """Create or update the page's people by sync key, honouring the preference."""
    result = PageResult()
    firsts = _first_per_key(rows, result.counts)
    existing = _existing_people(session, list(firsts))
    result.person_ids = {k: r["id"] for k, r in existing.items()}
    new, changed = _plan_people(firsts, existing, preference, stamp.run_id, result.counts)
    _update_rows(session, Person, changed, stamp.now)
    _stamp_people(session, list(result.person_ids.values()), stamp)
    result.person_ids.update(_insert_people(session, new, stamp))
    return result


def _first_per_key(rows: Iterable[PersonRow], counts: Counts) -> dict[str, PersonRow]:
    """Keep the first row of each key; later rows of one person count as unchanged."""
    firsts: dict[str, PersonRow] = {}
    for row in rows:
        if row.key in firsts:
            counts.unchanged += 1
        else:
            firsts[row.key] = row
    return firsts


def _existing_people(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The page's existing people, as plain rows keyed by sync key (one query)."""
    if not keys:
        return {}
    cols = [Person.id, Person.email_key, Person.custom, Person.last_run_id]
    cols += [getattr(Person, f) for f in PERSON_FIELDS]
    found = session.execute(select(*cols).where(Person.email_key.in_(keys))).mappings()
    return {r["email_key"]: dict(r) for r in found}


def _plan_people(
    firsts: dict[str, PersonRow],
    existing: dict[str, dict[str, Any]],
    preference: Preference,
    run_id: int,
    counts: Counts,
) -> tuple[list[PersonRow], list[dict[str, Any]]]:
    """Sort the page into rows to insert and changes to apply; count the rest."""
    new: list[PersonRow] = []
    changed: list[dict[str, Any]] = []
    for key, row in firsts.items():
        old = existing.get(key)
        if old is None:
            _count_new(row, preference, counts, new)
        elif old["last_run_id"] == run_id:
            counts.unchanged += 1
        else:
            _count_existing(person_changes(old, row.values), old["id"], preference, counts, changed)
    return new, changed


def _count_new(row: Any, preference: Preference, counts: Counts, new: list[Any]) -> None:
    """A row with no match is created, unless the preference forbids it."""
    if preference.creates:
        new.append(row)
        counts.created += 1
    else:
        counts.skipped += 1


def _count_existing(
    changes: dict[str, Any], row_id: int, preference: Preference, counts: Counts, out: list[Any]
) -> None:
    """A matched row is updated when it differs and the preference allows it."""
    if not changes:
        counts.unchanged += 1
    elif preference.updates:
        out.append({"id": row_id, **changes})
        counts.updated += 1
    else:
        counts.skipped += 1


def person_changes(old: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The fields whose mapped value differs from what is stored (custom fields merged), with
    their new values: the one change test for people, used by syncs and dry runs alike."""
    changes = {f: v for f, v in values.items() if f != "custom" and old[f] != v}
    custom = {**(old["custom"] or {}), **values.get("custom", {})}
    if custom != (old["custom"] or {}):
        changes["custom"] = custom
    return changes


def _insert_people(session: Session, rows: list[PersonRow], stamp: Stamp) -> dict[str, int]:
    """Insert new people, stamped, in one statement and return their ids by key."""
    if not rows:
        return {}
    params = [_new_person(row, stamp) for row in rows]
    stmt = insert(Person).returning(Person.id, Person.email_key)
    # render_nulls keeps rows with different missing fields in one batched statement
    stmt = stmt.execution_options(render_nulls=True)
    return {key: pid for pid, key in session.execute(stmt, params)}


def _new_person(row: PersonRow, stamp: Stamp) -> dict[str, Any]:
    """Column values of a new person, with its bookkeeping stamps."""
    values = {**row.values, "status": row.values.get("status") or "active"}
    if stamp.custom_fields:
        synced = iso(stamp.now)
        values["custom"] = {
            **values.get("custom", {}),
            **dict.fromkeys(stamp.custom_fields, synced),
        }
    values |= {"email_key": row.key, "created_at": stamp.now, "updated_at": stamp.now}
    return values | {"last_synced_at": stamp.now, "last_run_id": stamp.run_id}


def _update_rows(
    session: Session, model: Any, changes: list[dict[str, Any]], now: datetime
) -> None:
    """Apply per-row changes by primary key in bulk."""
    if changes:
        session.execute(update(model), [{**c, "updated_at": now} for c in changes])


def _stamp_people(session: Session, ids: list[int], stamp: Stamp) -> None:
    """Refresh the bookkeeping stamps of every person the page saw, in one statement."""
    if not ids:
        return
    values: dict[str, Any] = {"last_synced_at": stamp.now, "last_run_id": stamp.run_id}
    if stamp.custom_fields:
        values["custom"] = _json_set(session, Person.custom, stamp.custom_fields, iso(stamp.now))
    stmt = update(Person).where(Person.id.in_(ids)).values(**values)
    session.execute(stmt.execution_options(synchronize_session=False, **{BOOKKEEPING: True}))


def _json_set(
    session: Session, column: Any, names: Sequence[str], value: Any
) -> ColumnElement[Any]:
    """SQL that sets keys of a JSON column in place (SQLite json_set, PostgreSQL jsonb ||)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        patch = {name: value for name in names}
        return cast(cast(column, JSONB).op("||")(literal(patch, JSONB)), JSON)
    args: list[Any] = []
    for name in names:
        args += [literal('$."' + name.replace('"', '\\"') + '"'), literal(value)]
    return func.json_set(func.coalesce(column, "{}"), *args)


def ensure_app(session: Session, name: str, vendor: str | None = None) -> SaasApp:
    """The SaaS app of that name, created the first time it is needed."""
    app = session.scalar(select(SaasApp).where(SaasApp.name == name))
    if app is None:
        app = SaasApp(name=name, vendor=vendor or name)
        session.add(app)
        session.flush()
    return app


def upsert_saas_users(
    session: Session,
    app_id: int,
    integration_id: int | None,
    rows: Sequence[SaasUserRow],
    preference: Preference,
    stamp: Stamp,
    person_ids: dict[str, int],
) -> Counts:
    """Create or update the page's SaaS users by (app, external id), linked to people by email."""
    counts = Counts()
    firsts = {row.external_id: _linked(row, person_ids) for row in rows}
    counts.unchanged += len(rows) - len(firsts)
    existing = _existing_saas(session, app_id, list(firsts))
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for ext_id, values in firsts.items():
        old = existing.get(ext_id)
        if old is None:
            _count_new({**values, "external_id": ext_id}, preference, counts, new)
        else:
            _count_existing(saas_changes(old, values), old["id"], preference, counts, changed)
    _update_rows(session, SaasUser, changed, stamp.now)
    _stamp_saas(session, app_id, [e for e in firsts if e in existing], stamp)
    _insert_saas(session, app_id, integration_id, new, stamp)
    return counts


# Fields a sync may only move forward: another source (audit events, an import) may know better.
NEVER_LOWER = frozenset({"last_login_at"})


def saas_changes(old: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The SaaS-user fields that differ from what is stored, with their new values; a last login
    never moves back or to none (Lever may omit it while audit events or an import know it)."""
    changes = {f: v for f, v in values.items() if old[f] != v}
    for name in NEVER_LOWER & changes.keys():
        if old[name] is not None and (changes[name] is None or changes[name] < old[name]):
            del changes[name]
    return changes


def _linked(row: SaasUserRow, person_ids: dict[str, int]) -> dict[str, Any]:
    """The row's values with its person's id filled in from the page's people."""
    person_id = person_ids.get(row.person_key) if row.person_key else None
    return {**row.values, "email_key": row.person_key, "person_id": person_id}


def _existing_saas(session: Session, app_id: int, ext_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The page's existing SaaS users of the app, keyed by external id (one query)."""
    if not ext_ids:
        return {}
    cols = [SaasUser.id, SaasUser.external_id, *(getattr(SaasUser, f) for f in SAAS_FIELDS)]
    where = (SaasUser.app_id == app_id) & SaasUser.external_id.in_(ext_ids)
    return {
        r["external_id"]: dict(r) for r in session.execute(select(*cols).where(where)).mappings()
    }


def _insert_saas(
    session: Session,
    app_id: int,
    integration_id: int | None,
    rows: list[dict[str, Any]],
    stamp: Stamp,
) -> None:
    """Insert new SaaS users, stamped, in one batched statement."""
    if rows:
        extra: dict[str, Any] = {"app_id": app_id, "integration_id": integration_id}
        extra |= {"record_created_at": stamp.now, "updated_at": stamp.now}
        extra |= {"last_seen_at": stamp.now, "last_run_id": stamp.run_id}
        stmt = insert(SaasUser).execution_options(render_nulls=True)
        session.execute(stmt, [{**row, **extra} for row in rows])


def _stamp_saas(session: Session, app_id: int, ext_ids: list[str], stamp: Stamp) -> None:
    """Refresh last_seen_at of every SaaS user the page saw, in one statement."""
    if ext_ids:
        where = (SaasUser.app_id == app_id) & SaasUser.external_id.in_(ext_ids)
        stmt = (
            update(SaasUser).where(where).values(last_seen_at=stamp.now, last_run_id=stamp.run_id)
        )
        session.execute(stmt.execution_options(synchronize_session=False, **{BOOKKEEPING: True}))
