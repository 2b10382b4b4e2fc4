"""Upsert by sync key, set-based, a batch of records at a time, writing its own change log.

For each batch and each table (people by email key, SaaS users by app and external id):

1. one narrow query reads the matching rows' id, fingerprint and last run;
2. a row whose stored fingerprint (a hash of the mapped values it was last written from) equals
   the new one is unchanged without comparing a single field; only the others are read in full
   and compared field by field, with the preference (create & update / create only / update
   only) applied in Python, which also counts;
3. the rows to create or update are staged in bulk in a temporary table (`COPY` on
   PostgreSQL, `executemany` on SQLite), then one `INSERT … SELECT … RETURNING` adds the new
   rows and one `UPDATE … FROM` changes the rows whose values differ (`IS DISTINCT FROM`);
4. one statement stamps every row the batch saw (last_synced_at / last_seen_at, the run id,
   sync-time custom fields);
5. the change rows (create with the new values, update with before/after of just the changed
   fields, deactivate and reactivate named by their status move) are written by the same code,
   from the same diff, in the same transaction, with one bulk write.

Stamps are not changes: they are never compared, never counted as updates, and never enter the
change log. A person met twice in one run (two source accounts with one address) takes the
values of the first account met; later ones leave it unchanged, so re-runs do not flap. Any
other writer of these tables clears the fingerprint of what it changes (`inventory.records`), so
the next sync compares that row in full and puts Lever's values back where the mapping says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Integer,
    String,
    Table,
    Text,
    any_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from inventory.bulk import copy_rows, stage, temp_table
from inventory.changelog import ChangeBatch
from inventory.models import Change, Person, SaasApp, SaasUser
from inventory.statuses import PersonStatus
from inventory.timeutil import iso
from inventory.types import UTCDateTime

PERSON_FIELDS = (
    "email", "username", "first_name", "last_name", "full_name", "role", "job_title", "status",
)  # fmt: skip
SAAS_FIELDS = (
    "email", "email_key", "name", "role", "status", "created_at", "deactivated_at",
    "last_login_at", "person_id",
)  # fmt: skip


# Bumped whenever the fingerprint's input changes, so stored ones stop matching.
FINGERPRINT_VERSION = "2"
_CHUNK = 500
_ANALYZED = "invsync.upsert.analyzed"
_ANALYZE_FLOOR = 1000
_PEOPLE: Table = Person.__table__  # type: ignore[assignment]
_SAAS: Table = SaasUser.__table__  # type: ignore[assignment]
_CHANGES: Table = Change.__table__  # type: ignore[assignment]


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


@dataclass
class _Plan:
    """A batch sorted by what happens to each row: staged writes, change rows, ids seen."""

    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    changes: list[tuple[int, Any, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)


def email_key(email: str | None) -> str | None:
    """The case-insensitive sync key of an email address."""
    return email.strip().casefold() if email else None


def fingerprint(values: Mapping[str, Any]) -> str:
    """A stable hash of a record's mapped values: equal values, equal fingerprint, in any
    process (custom fields in name order). JSON, not repr, so a str subclass such as a status
    enum hashes as the text it is stored as."""
    plain = sorted((k, v if k != "custom" else sorted(v.items())) for k, v in values.items())
    text = FINGERPRINT_VERSION + json.dumps(plain, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# --- people ---------------------------------------------------------------------------------


def _stage_columns(table: Table, names: Iterable[str]) -> list[Column[Any]]:
    """Staging columns shaped like the table's own, for the given names."""
    return [Column(n, table.c[n].type) for n in names]


_PERSON_STAGE = temp_table(
    "invsync_stage_people",
    Column("id", Integer),
    Column("email_key", String(320)),
    Column("action", String(10)),
    Column("changed", Boolean),
    Column("fingerprint", String(40)),
    *_stage_columns(_PEOPLE, (*PERSON_FIELDS, "custom")),
)


def upsert_people(
    session: Session, rows: Sequence[PersonRow], preference: Preference, stamp: Stamp
) -> PageResult:
    """Create or update the batch's people by sync key, honouring the preference."""
    result = PageResult()
    firsts = _first_per_key(rows, result.counts)
    prints = {key: fingerprint(row.values) for key, row in firsts.items()}
    known = _known(session, _PEOPLE.c.email_key, list(firsts), _PEOPLE.c.last_run_id)
    result.person_ids = {k: r[0] for k, r in known.items()}
    plan = _Plan(seen=list(result.person_ids.values()))
    suspects: dict[int, str] = {}
    for key, row in firsts.items():
        found = known.get(key)
        if found is None:
            _plan_new(plan, _new_person(row, prints[key], stamp), preference, result.counts)
        elif found[2] == stamp.run_id or found[1] == prints[key]:
            result.counts.unchanged += 1
        else:
            suspects[found[0]] = key
    stored = _stored(session, _PEOPLE, list(suspects), (*PERSON_FIELDS, "custom"))
    for row_id, key in suspects.items():
        old = stored[row_id]
        new = person_changes(old, firsts[key].values)
        _plan_existing(plan, row_id, key, old, new, prints[key], preference, result.counts)
    result.person_ids |= _write(session, _PEOPLE, _PERSON_STAGE, plan, stamp, "person")
    _stamp_people(session, plan.seen, stamp)
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


def _new_person(row: PersonRow, print_: str, stamp: Stamp) -> dict[str, Any]:
    """The staged values of a new person, sync-time custom fields included (the other stamps
    are added by the insert itself)."""
    values: dict[str, Any] = {f: row.values.get(f) for f in PERSON_FIELDS}
    values["status"] = values["status"] or PersonStatus.ACTIVE.value
    custom = dict(row.values.get("custom") or {})
    if stamp.custom_fields:
        custom |= dict.fromkeys(stamp.custom_fields, iso(stamp.now))
    values["custom"] = custom
    return values | {"email_key": row.key, "fingerprint": print_}


def person_changes(old: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The fields whose mapped value differs from what is stored (custom fields merged), with
    their new values: the one change test for people, used by syncs and dry runs alike."""
    changes = {f: v for f, v in values.items() if f != "custom" and old[f] != v}
    custom = {**(old["custom"] or {}), **values.get("custom", {})}
    if custom != (old["custom"] or {}):
        changes["custom"] = custom
    return changes


def _stamp_people(session: Session, ids: list[int], stamp: Stamp) -> None:
    """Refresh the bookkeeping stamps of every person the batch saw."""
    values: dict[str, Any] = {"last_synced_at": stamp.now, "last_run_id": stamp.run_id}
    if stamp.custom_fields:
        values["custom"] = _json_set(session, Person.custom, stamp.custom_fields, iso(stamp.now))
    for among in _among(session, _PEOPLE.c.id, ids):
        stmt = update(_PEOPLE).where(among).values(**values)
        session.execute(stmt)


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


# --- shared planning and writing -------------------------------------------------------------


def _known(
    session: Session, key_col: Any, keys: list[Any], run_col: Any, where: Any = None
) -> dict[Any, tuple[int, str | None, int | None]]:
    """The matching rows' (id, fingerprint, last run id) by key: one narrow query per 500 keys."""
    table = key_col.table
    found: dict[Any, tuple[int, str | None, int | None]] = {}
    for among in _among(session, key_col, keys):
        stmt = select(key_col, table.c.id, table.c.fingerprint, run_col).where(among)
        if where is not None:
            stmt = stmt.where(where)
        found |= {k: (i, f, r) for k, i, f, r in session.execute(stmt)}
    return found


def _stored(
    session: Session, table: Table, ids: list[int], names: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """The stored values of some rows, in full, by id (only rows whose fingerprint moved)."""
    found: dict[int, dict[str, Any]] = {}
    cols = [table.c.id, *(table.c[n] for n in dict.fromkeys(names))]
    for among in _among(session, table.c.id, ids):
        rows = session.execute(select(*cols).where(among)).mappings()
        found |= {r["id"]: dict(r) for r in rows}
    return found


def _plan_new(plan: _Plan, values: dict[str, Any], preference: Preference, counts: Counts) -> None:
    """A row with no match is created, unless the preference forbids it."""
    if preference.creates:
        plan.creates.append(values | {"action": "create"})
        counts.created += 1
    else:
        counts.skipped += 1


def _plan_existing(
    plan: _Plan,
    row_id: int,
    key: Any,
    old: dict[str, Any],
    changes: dict[str, Any],
    print_: str,
    preference: Preference,
    counts: Counts,
) -> None:
    """A matched row whose fingerprint moved: updated when it differs and the preference
    allows it; when its values are the same, only its fingerprint is refreshed."""
    if changes and not preference.updates:
        counts.skipped += 1
        return
    staged = {**old, **changes, "id": row_id, "fingerprint": print_, "changed": bool(changes)}
    plan.updates.append(staged | {"action": "update"})
    if changes:
        counts.updated += 1
        plan.changes.append((row_id, key, old, changes))
    else:
        counts.unchanged += 1


def _write(
    session: Session, table: Table, staging: Table, plan: _Plan, stamp: Stamp, object_type: str
) -> dict[Any, int]:
    """Stage the batch's writes, apply them with set statements, and log them; the new ids."""
    if not plan.creates and not plan.updates:
        return {}
    stage(session, staging, [*plan.creates, *plan.updates])
    batch = ChangeBatch.of(session)
    new_ids = _insert_staged(session, table, staging, plan, stamp, batch, object_type)
    _keep_statistics(session, table, len(plan.creates))
    if plan.updates:
        _update_staged(session, table, staging, stamp, _UPDATED[object_type])
    for row_id, key, old, changes in plan.changes:
        batch.updated(object_type, row_id, key, old, changes)
    copy_rows(session, _CHANGES, batch.rows)
    return new_ids


def _keep_statistics(session: Session, table: Table, created: int) -> None:
    """ANALYZE a PostgreSQL table each time a session has about doubled it, so the planner
    keeps seeking the sync-key indexes: with the statistics of the empty table it had at the
    start of a first sync, it scans the whole table for every batch, and the run grows
    quadratically. Costs a few ANALYZEs per run, logarithmic in its size."""
    if not created or session.get_bind().dialect.name != "postgresql":
        return
    counts: dict[str, list[int]] = session.info.setdefault(_ANALYZED, {})
    since, base = counts.setdefault(table.name, [0, 0])
    since += created
    if since >= max(_ANALYZE_FLOOR, base):
        session.execute(text(f'ANALYZE "{table.name}"'))
        since, base = 0, base + since
    counts[table.name] = [since, base]


def _natural(table: Table) -> tuple[str, ...]:
    """The columns that find a row again: its sync key."""
    return ("email_key",) if table is _PEOPLE else ("app_id", "external_id")


def _insert_staged(
    session: Session,
    table: Table,
    staging: Table,
    plan: _Plan,
    stamp: Stamp,
    batch: Any,
    object_type: str,
) -> dict[Any, int]:
    """INSERT … SELECT the staged new rows with their stamps; log a create for each."""
    if not plan.creates:
        return {}
    names = [c.name for c in staging.columns if c.name not in ("id", "action", "changed")]
    extra = _insert_stamps(table, stamp)
    stamps = [literal(v, table.c[n].type).label(n) for n, v in extra.items()]
    query = select(*(staging.c[n] for n in names), *stamps).where(staging.c.action == "create")
    natural = _natural(table)
    stmt = table.insert().from_select([*names, *extra], query)
    stmt = stmt.returning(table.c.id, *(table.c[n] for n in natural))
    returned = session.execute(stmt)
    ids = {tuple(rest): row_id for row_id, *rest in returned}
    by_key: dict[Any, int] = {}
    for values in plan.creates:
        full = values | extra
        row_id = ids[tuple(full[n] for n in natural)]
        by_key[values[natural[-1]]] = row_id
        batch.created(object_type, row_id, full)  # only tracked columns are logged
    return by_key


def _insert_stamps(table: Table, stamp: Stamp) -> dict[str, Any]:
    """The bookkeeping a new row is born with."""
    if table is _PEOPLE:
        return {"created_at": stamp.now, "updated_at": stamp.now,
                "last_synced_at": stamp.now, "last_run_id": stamp.run_id}  # fmt: skip
    return {"record_created_at": stamp.now, "updated_at": stamp.now,
            "last_seen_at": stamp.now, "last_run_id": stamp.run_id}  # fmt: skip


# The columns a sync may change on an existing row, and the fingerprint it was written from.
_UPDATED = {
    "person": (*PERSON_FIELDS, "custom", "fingerprint"),
    "saas_user": (*SAAS_FIELDS, "fingerprint"),
}


def _update_staged(
    session: Session, table: Table, staging: Table, stamp: Stamp, names: Sequence[str]
) -> None:
    """UPDATE … FROM the staged rows, only where a value differs; updated_at only moves for a
    real change (a refreshed fingerprint alone is bookkeeping)."""
    values: dict[str, Any] = {n: staging.c[n] for n in names}
    now = literal(stamp.now, UTCDateTime())
    values["updated_at"] = case((staging.c.changed, now), else_=table.c.updated_at)
    differs = or_(*(table.c[n].is_distinct_from(staging.c[n]) for n in names if n != "custom"))
    custom = _custom_differs(session, table, staging)
    where = (table.c.id == staging.c.id) & (staging.c.action == "update")
    stmt = update(table).where(where, differs if custom is None else or_(differs, custom))
    session.execute(stmt.values(**values))


def _custom_differs(session: Session, table: Table, staging: Table) -> ColumnElement[bool] | None:
    """Whether the JSON document of custom fields differs (PostgreSQL compares jsonb)."""
    if "custom" not in staging.c:
        return None
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return cast(table.c.custom, JSONB).is_distinct_from(cast(staging.c.custom, JSONB))
    return cast(table.c.custom, Text).is_distinct_from(cast(staging.c.custom, Text))


def _among(session: Session, column: Any, values: Sequence[Any]) -> Iterable[Any]:
    """Criteria that together match the rows whose column holds one of the values: on
    PostgreSQL one `= ANY(array)` (one bound parameter, one cached plan, whatever the batch
    size); on SQLite `IN` lists small enough for its limit on bound parameters."""
    if not values:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        item = Integer() if isinstance(column.type, Integer) else Text()
        yield column == any_(literal(list(values), ARRAY(item)))
        return
    for start in range(0, len(values), _CHUNK):
        yield column.in_(values[start : start + _CHUNK])


def ensure_app(session: Session, name: str, vendor: str | None = None) -> SaasApp:
    """The SaaS app of that name, created the first time it is needed."""
    app = session.scalar(select(SaasApp).where(SaasApp.name == name))
    if app is None:
        app = SaasApp(name=name, vendor=vendor or name)
        session.add(app)
        session.flush()
    return app


# --- SaaS users -----------------------------------------------------------------------------


_SAAS_STAGE = temp_table(
    "invsync_stage_saas_users",
    Column("id", Integer),
    Column("app_id", Integer),
    Column("integration_id", Integer),
    Column("external_id", String(200)),
    Column("action", String(10)),
    Column("changed", Boolean),
    Column("fingerprint", String(40)),
    Column("created_at", UTCDateTime()),
    Column("deactivated_at", UTCDateTime()),
    Column("last_login_at", UTCDateTime()),
    *_stage_columns(_SAAS, ("email", "email_key", "name", "role", "status", "person_id")),
)


def upsert_saas_users(
    session: Session,
    app_id: int,
    integration_id: int | None,
    rows: Sequence[SaasUserRow],
    preference: Preference,
    stamp: Stamp,
    person_ids: dict[str, int],
) -> Counts:
    """Create or update the batch's SaaS users by (app, external id), linked to people by
    email; a later row of one account in the batch wins, counted once."""
    counts = Counts()
    firsts = {row.external_id: _linked(row, person_ids) for row in rows}
    counts.unchanged += len(rows) - len(firsts)
    ext_col = _SAAS.c.external_id
    where = _SAAS.c.app_id == app_id
    known = _known(session, ext_col, list(firsts), _SAAS.c.last_run_id, where)
    plan = _Plan(seen=[r[0] for r in known.values()])
    suspects: dict[int, str] = {}
    prints: dict[str, str] = {}
    for ext_id, values in firsts.items():
        prints[ext_id] = print_ = fingerprint(values)
        found = known.get(ext_id)
        if found is None:
            new = {**values, "external_id": ext_id, "app_id": app_id, "fingerprint": print_}
            _plan_new(plan, new | {"integration_id": integration_id}, preference, counts)
        elif found[1] == print_:
            counts.unchanged += 1
        else:
            suspects[found[0]] = ext_id
    stored = _stored(session, _SAAS, list(suspects), ("external_id", *SAAS_FIELDS))
    for row_id, ext_id in suspects.items():
        old = stored[row_id]
        new = saas_changes(old, firsts[ext_id])
        _plan_existing(plan, row_id, ext_id, old, new, prints[ext_id], preference, counts)
    _write(session, _SAAS, _SAAS_STAGE, plan, stamp, "saas_user")
    _stamp_saas(session, plan.seen, stamp)
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
    """The row's values with its person's id filled in from the batch's people."""
    person_id = person_ids.get(row.person_key) if row.person_key else None
    return {**row.values, "email_key": row.person_key, "person_id": person_id}


def _stamp_saas(session: Session, ids: list[int], stamp: Stamp) -> None:
    """Refresh last_seen_at and the run id of every SaaS user the batch saw."""
    for among in _among(session, _SAAS.c.id, ids):
        stmt = update(_SAAS).where(among)
        stmt = stmt.values(last_seen_at=stamp.now, last_run_id=stamp.run_id)
        session.execute(stmt)
