"""The change log: who created, changed, deactivated or deleted which person or SaaS user, and how.

It is written by construction: the code that writes people and SaaS users also writes their
change rows, from the very diff it applies, with one bulk write on the same connection, so they
commit or roll back with the change itself. The writers are

* the sync upsert (`inventory.upsert`): a create with the new values, an update with before and
  after of just the changed fields, for every person and SaaS user a sync adds or changes;
* `inventory.records`, the one way to change them outside a sync, used by reconciliation
  (`connector.reconcile`, deactivate and delete), login activity (`connector.activity`), the
  workflow blocks (`workflows.blocks`: role, update, deactivate, reactivate) and the CSV import
  of roles and last logins (`workflows.logins`).

Each fills a `ChangeBatch`, which names status moves (deactivate, delete, reactivate) and leaves
out bookkeeping columns (`BOOKKEEPING_COLUMNS`: stamps are never changes). The actor comes from
`set_actor`; a session without one records the "system" actor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from inventory.errors import ConfigError
from inventory.models import Change, Person, SaasUser
from inventory.timeutil import iso, utcnow

__all__ = [
    "ACTOR_KINDS",
    "BOOKKEEPING_COLUMNS",
    "OBJECT_TYPES",
    "Actor",
    "ChangeBatch",
    "change_to_dict",
    "get_actor",
    "list_changes",
    "set_actor",
]

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
ACTOR_KINDS = ("integration", "event", "workflow", "web", "cli", "system")
OBJECT_TYPES = ("person", "saas_user")
_ACTOR = "invsync.changelog.actor"
_CHUNK = 500
_PLAIN = frozenset({str, int, float, bool, type(None)})
_CHANGES: Table = Change.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Actor:
    """Who makes the changes of a session: an integration run, a workflow, a web or CLI user."""

    kind: str
    name: str
    run_id: int | None = None


SYSTEM = Actor("system", "system")


@dataclass(frozen=True)
class _Tracked:
    """How one model enters the change log: its object type, the column naming a record, and
    the columns whose changes are recorded."""

    object_type: str
    key: str
    columns: tuple[str, ...]


def _columns(model: Any) -> tuple[str, ...]:
    """The columns whose changes are recorded: all but the id and the bookkeeping."""
    keys = model.__table__.columns.keys()
    return tuple(k for k in keys if k != "id" and k not in BOOKKEEPING_COLUMNS)


_TRACKED: dict[type, _Tracked] = {
    Person: _Tracked("person", "email", _columns(Person)),
    SaasUser: _Tracked("saas_user", "external_id", _columns(SaasUser)),
}


def set_actor(session: Session, kind: str, name: str, run_id: int | None = None) -> None:
    """Name who makes this session's changes, for every change it records from now on."""
    if kind not in ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {kind!r}: use one of {', '.join(ACTOR_KINDS)}")
    session.info[_ACTOR] = Actor(kind, name[:200] or kind, run_id)


def get_actor(session: Session) -> Actor:
    """The session's actor, or the system when none was set."""
    actor = session.info.get(_ACTOR)
    return actor if isinstance(actor, Actor) else SYSTEM


# --- recording -----------------------------------------------------------------------------


@dataclass
class ChangeBatch:
    """The change rows of one write, queued by the code that makes the write and inserted with
    one statement on the same connection, so they commit or roll back with the change itself.

    This is how the change log is written by construction: every service that writes People or
    SaaS users (the sync upsert, reconciliation, login activity, workflow blocks, CSV import)
    builds a batch from the very diff it applies.
    """

    actor: Actor
    at: datetime = field(default_factory=utcnow)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, session: Session, at: datetime | None = None) -> ChangeBatch:
        """A batch for the session's actor, stamped now (or at the given time)."""
        return cls(get_actor(session), at or utcnow())

    def created(self, object_type: str, object_id: int, values: Mapping[str, Any]) -> None:
        """Queue a create with the new record's tracked values."""
        spec = _BY_TYPE[object_type]
        self.add(spec, "create", object_id, values.get(spec.key), None, _snapshot(spec, values))

    def updated(
        self,
        object_type: str,
        object_id: int,
        key: Any,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> None:
        """Queue an update (or deactivate, delete, reactivate) when tracked values differ."""
        spec = _BY_TYPE[object_type]
        tracked = {c: v for c, v in new.items() if c in spec.columns}
        self.update(spec, object_id, key, old, tracked)

    def deleted(self, object_type: str, object_id: int, values: Mapping[str, Any]) -> None:
        """Queue a delete with the values the record held."""
        spec = _BY_TYPE[object_type]
        self.add(spec, "delete", object_id, values.get(spec.key), _snapshot(spec, values), None)

    def add(
        self, spec: _Tracked, action: str, object_id: int, key: Any, before: Any, after: Any
    ) -> None:
        """Queue one change row."""
        self.rows.append({
            "at": self.at, "actor_kind": self.actor.kind, "actor_name": self.actor.name,
            "run_id": self.actor.run_id, "action": action, "object_type": spec.object_type,
            "object_id": object_id, "object_key": _key_text(key), "before": before, "after": after,
        })  # fmt: skip

    def update(
        self,
        spec: _Tracked,
        object_id: int,
        key: Any,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> None:
        """Queue an update row when the values really differ, with just the changed fields."""
        before, after = _diff(old, new)
        if after:
            self.add(
                spec, _action(before, after), object_id, after.get(spec.key, key), before, after
            )

    def write(self, session: Session) -> None:
        """Insert the queued rows on the session's connection, in one statement, and empty the
        batch so it can be reused."""
        if self.rows:
            session.connection().execute(insert(_CHANGES), self.rows)
            self.rows = []


_BY_TYPE = {spec.object_type: spec for spec in _TRACKED.values()}


def _key_text(key: Any) -> str | None:
    """The object's key as stored: text, at most the column's width."""
    return None if key is None else str(key)[:320]


def _action(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The name of a change: status moves have their own, anything else is an update."""
    status = after.get("status")
    if status == "deactivated":
        return "deactivate"
    if status == "deleted":
        return "delete"
    if status == "active" and before.get("status") in ("deactivated", "deleted"):
        return "reactivate"
    return "update"


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON-safe before/after of the fields that differ; JSON documents narrowed to their keys."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in new.items():
        was = old.get(name)
        if was == value:
            continue
        if isinstance(was, dict) and isinstance(value, dict):
            was, value = _dict_diff(was, value)
        before[name], after[name] = _json(was), _json(value)
    return before, after


def _dict_diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys of a JSON document that changed (a removed key shows as null)."""
    keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}


def _json(value: Any) -> Any:
    """A value as JSON: times as ISO-8601 UTC, documents recursively, anything odd as text."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return str(value)


def _snapshot(spec: _Tracked, values: Mapping[str, Any]) -> dict[str, Any]:
    """The tracked columns among the given values, JSON-safe."""
    plain = _PLAIN
    return {
        c: v if type(v) in plain else _json(v)
        for c in spec.columns
        if c in values
        for v in (values[c],)
    }


# --- reading --------------------------------------------------------------------------------


def list_changes(
    session: Session,
    *,
    object_type: str | None = None,
    run_id: int | None = None,
    limit: int | None = None,
    object_id: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Change-log rows, newest first, as JSON-shaped dicts, streamed.

    `object_id` (with `object_type`) narrows them to one record's history. Rows are read a
    keyset batch at a time, not through one open cursor, so a reader that stops early (an
    abandoned download) leaves no server-side cursor behind.
    """
    if object_type is not None and object_type not in OBJECT_TYPES:
        raise ConfigError(f"unknown object type {object_type!r}: use person or saas_user")
    if object_id is not None and object_type is None:
        raise ConfigError("an object id needs its object type (person or saas_user)")
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be 1 or more")
    stmt = select(Change).order_by(Change.id.desc())
    if object_type is not None:
        stmt = stmt.where(Change.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(Change.object_id == object_id)
    if run_id is not None:
        stmt = stmt.where(Change.run_id == run_id)
    return (change_to_dict(c) for c in _newest_first(session, stmt, limit))


def _newest_first(session: Session, stmt: Any, limit: int | None) -> Iterator[Change]:
    """The statement's changes in batches below the last id read, up to `limit` in all."""
    left, before = limit, None
    while left is None or left > 0:
        size = _CHUNK if left is None else min(_CHUNK, left)
        page = stmt if before is None else stmt.where(Change.id < before)
        batch = session.scalars(page.limit(size)).all()
        yield from batch
        if len(batch) < size:
            return
        before = batch[-1].id
        left = None if left is None else left - len(batch)


def change_to_dict(change: Change) -> dict[str, Any]:
    """One change in the stable JSON shape of `invsync changes list --format json`."""
    return {
        "id": change.id,
        "at": iso(change.at),
        "actor": {"kind": change.actor_kind, "name": change.actor_name},
        "run_id": change.run_id,
        "action": change.action,
        "object": {"type": change.object_type, "id": change.object_id, "key": change.object_key},
        "before": change.before,
        "after": change.after,
    }
