"""The change log: who created, changed, deactivated or deleted which person or SaaS user, and how.

One set of session hooks writes it, so no service has to remember to:

* `do_orm_execute` sees the bulk ORM statements: an INSERT with a list of parameters (after =
  the parameters; the new ids from the statement's RETURNING, added when it has none, or else
  one look-up by natural key), an UPDATE by primary key with a list of parameters (before = one
  SELECT of the affected rows and columns), and an UPDATE or DELETE … WHERE (rows read before
  and after the statement, only when it matches any);
* `before_flush`/`after_flush` see unit-of-work changes, such as `account.status = "deactivated"`.

Bookkeeping statements (execution option `BOOKKEEPING`) and columns (`BOOKKEEPING_COLUMNS`) are
never changes. Each statement or flush writes its change rows with one INSERT on the same
connection, so they commit or roll back with the change itself. The actor comes from
`set_actor`; a session without one records the "system" actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Result, Table, and_, event, insert, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from inventory.errors import ConfigError
from inventory.models import Change, Person, SaasUser
from inventory.timeutil import iso, utcnow
from inventory.upsert import BOOKKEEPING, BOOKKEEPING_COLUMNS

__all__ = [
    "ACTOR_KINDS",
    "ChangeBatch",
    "OBJECT_TYPES",
    "Actor",
    "change_to_dict",
    "get_actor",
    "install",
    "list_changes",
    "set_actor",
]

ACTOR_KINDS = ("integration", "workflow", "web", "cli", "system")
OBJECT_TYPES = ("person", "saas_user")
_ACTOR = "invsync.changelog.actor"
_OLD_VALUES = "invsync.changelog.old_values"
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
    """How one model enters the change log: its object type, key and natural key."""

    object_type: str
    model: Any
    key: str
    natural: tuple[str, ...]
    columns: tuple[str, ...]


def _columns(model: Any) -> tuple[str, ...]:
    """The columns whose changes are recorded: all but the id and the bookkeeping."""
    keys = model.__table__.columns.keys()
    return tuple(k for k in keys if k != "id" and k not in BOOKKEEPING_COLUMNS)


_TRACKED: dict[type, _Tracked] = {
    Person: _Tracked("person", Person, "email", ("email_key",), _columns(Person)),
    SaasUser: _Tracked(
        "saas_user", SaasUser, "external_id", ("app_id", "external_id"), _columns(SaasUser)
    ),
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


def install(factory: sessionmaker[Session]) -> None:
    """Attach the change-log hooks to every session the factory makes (once)."""
    for name, fn in (
        ("do_orm_execute", _on_execute),
        ("before_flush", _before_flush),
        ("after_flush", _after_flush),
    ):
        if not event.contains(factory, name, fn):
            event.listen(factory, name, fn)


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


_Batch = ChangeBatch
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
    return {c: _json(values[c]) for c in spec.columns if c in values}


# --- bulk ORM statements -------------------------------------------------------------------


def _on_execute(state: ORMExecuteState) -> Result[Any] | None:
    """Record the changes of an INSERT, UPDATE or DELETE of people or SaaS users."""
    spec = _statement_target(state)
    if spec is None:
        return None
    if state.is_insert:
        return _logged_insert(state, spec)
    if not isinstance(state.parameters, list):
        return _logged_where(state, spec)
    if state.is_update and _whereclause(state) is None:
        return _logged_update_by_id(state, spec)
    # a WHERE run once per parameter set binds values a snapshot query cannot see: not recorded
    return None


def _whereclause(state: ORMExecuteState) -> ColumnElement[bool] | None:
    """The WHERE criteria of an UPDATE or DELETE, if it has any."""
    return getattr(state.statement, "whereclause", None)


def _statement_target(state: ORMExecuteState) -> _Tracked | None:
    """The tracked model a non-bookkeeping write statement acts on, if any."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    if state.execution_options.get(BOOKKEEPING):
        return None
    mapper = state.bind_mapper
    return _TRACKED.get(mapper.class_) if mapper is not None else None


def _logged_insert(state: ORMExecuteState, spec: _Tracked) -> Result[Any] | None:
    """Run an INSERT and record a create for each new row."""
    rows = _insert_rows(state)
    if not rows:
        return None
    ids, result = _insert_returning_ids(state, spec)
    if ids is None:
        ids = _ids_by_natural_key(state.session, spec, rows)
    batch = _Batch(get_actor(state.session))
    for row in rows:
        object_id = ids.get(_natural(spec, row))
        if object_id is not None:
            batch.add(spec, "create", object_id, row.get(spec.key), None, _snapshot(spec, row))
    batch.write(state.session)
    return result


def _insert_rows(state: ORMExecuteState) -> list[Mapping[str, Any]]:
    """The values of the rows an INSERT adds: its parameters, or the statement's own values."""
    params: Any = state.parameters
    if isinstance(params, list):
        return params
    if params:
        return [params]
    statement: Any = state.statement
    values = statement.compile().params  # insert(...).values(...)
    return [values] if values else []


def _natural(spec: _Tracked, row: Mapping[Any, Any]) -> tuple[Any, ...]:
    """The natural key of a row's values (which finds the row once inserted)."""
    return tuple(row.get(c) for c in spec.natural)


def _insert_returning_ids(
    state: ORMExecuteState, spec: _Tracked
) -> tuple[dict[tuple[Any, ...], int] | None, Result[Any]]:
    """Run the INSERT and read the new ids by natural key from its RETURNING, if it has one."""
    statement: Any = state.statement
    names = {d["name"] for d in statement.returning_column_descriptions}
    # A statement without RETURNING gets one (no extra query), handed back spent as it would be
    # without; one returning other columns is left alone, so the caller's rows keep their shape.
    if not names and _returns_from_batches(state):
        cols = [getattr(spec.model, c) for c in ("id", *spec.natural)]
        result = state.invoke_statement(statement=statement.returning(*cols))
        return _ids_from(spec, result), result
    result = state.invoke_statement()
    if "id" not in names or not set(spec.natural) <= names:
        return None, result
    frozen = result.freeze()
    return _ids_from(spec, frozen()), frozen()


def _returns_from_batches(state: ORMExecuteState) -> bool:
    """Whether the database can return rows from a many-row INSERT."""
    return bool(state.session.get_bind(state.bind_mapper).dialect.insert_executemany_returning)


def _ids_from(spec: _Tracked, result: Result[Any]) -> dict[tuple[Any, ...], int]:
    """New ids by natural key, from rows that hold both."""
    return {_natural(spec, row): row["id"] for row in result.mappings()}


def _ids_by_natural_key(
    session: Session, spec: _Tracked, rows: Sequence[Mapping[str, Any]]
) -> dict[tuple[Any, ...], int]:
    """Ids of freshly inserted rows found by natural key: one indexed SELECT per 500 rows."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for key in dict.fromkeys(_natural(spec, row) for row in rows):
        groups.setdefault(key[:-1], []).append(key[-1])
    found: dict[tuple[Any, ...], int] = {}
    for prefix, lasts in groups.items():
        for part in _chunks(lasts):
            found |= _ids_where(session, spec, prefix, part)
    return found


def _ids_where(
    session: Session, spec: _Tracked, prefix: tuple[Any, ...], lasts: Sequence[Any]
) -> dict[tuple[Any, ...], int]:
    """Ids of rows whose natural key starts with the prefix and ends in one of the values."""
    cols = [getattr(spec.model, c) for c in spec.natural]
    where = and_(*(c == v for c, v in zip(cols, prefix, strict=False)), cols[-1].in_(lasts))
    found = session.execute(select(spec.model.id, *cols).where(where))
    return {tuple(natural): object_id for object_id, *natural in found}


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """Slices small enough for any database's limit on bound parameters."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _logged_update_by_id(state: ORMExecuteState, spec: _Tracked) -> Result[Any] | None:
    """Run a bulk UPDATE by primary key and record each row's real changes."""
    params: list[Mapping[str, Any]] = state.parameters  # type: ignore[assignment]
    columns = sorted({k for p in params for k in p if k in spec.columns})
    if not columns:
        return None
    before = _rows_by_id(state.session, spec, [p["id"] for p in params if "id" in p], columns)
    result = state.invoke_statement()
    batch = _Batch(get_actor(state.session))
    for p in params:
        old = before.get(p["id"]) if "id" in p else None
        if old is not None:
            batch.update(spec, p["id"], old[spec.key], old, {c: p[c] for c in columns if c in p})
    batch.write(state.session)
    return result


def _rows_by_id(
    session: Session, spec: _Tracked, ids: Sequence[int], columns: Iterable[str]
) -> dict[int, dict[str, Any]]:
    """Current values of some columns of the given rows, with their keys (one SELECT per 500)."""
    found: dict[int, dict[str, Any]] = {}
    for part in _chunks(list(dict.fromkeys(ids))):
        found |= _select_rows(session, spec, columns, spec.model.id.in_(part))
    return found


def _select_rows(
    session: Session, spec: _Tracked, columns: Iterable[str], where: ColumnElement[bool] | None
) -> dict[int, dict[str, Any]]:
    """Rows matching a criterion as plain values by id: the key and the given columns."""
    names = dict.fromkeys([spec.key, *columns])
    stmt = select(spec.model.id, *(getattr(spec.model, c) for c in names))
    if where is not None:
        stmt = stmt.where(where)
    return {row["id"]: dict(row) for row in session.execute(stmt).mappings()}


def _logged_where(state: ORMExecuteState, spec: _Tracked) -> Result[Any] | None:
    """Run an UPDATE or DELETE … WHERE and record what it did to each row it matched."""
    before = _select_rows(state.session, spec, spec.columns, _whereclause(state))
    if not before:
        return None
    result = state.invoke_statement()
    batch = _Batch(get_actor(state.session))
    if state.is_delete:
        for object_id, old in before.items():
            batch.add(spec, "delete", object_id, old[spec.key], _snapshot(spec, old), None)
    else:
        after = _rows_by_id(state.session, spec, list(before), spec.columns)
        for object_id, new in after.items():
            batch.update(
                spec, object_id, new[spec.key], before[object_id], _snapshot_raw(spec, new)
            )
    batch.write(state.session)
    return result


def _snapshot_raw(spec: _Tracked, values: Mapping[str, Any]) -> dict[str, Any]:
    """The tracked columns among the given values, as they are."""
    return {c: values[c] for c in spec.columns if c in values}


# --- unit of work ---------------------------------------------------------------------------


def _before_flush(session: Session, flush_context: UOWTransaction, _objects: Any) -> None:
    """Read the stored old values of changed attributes that were never loaded, before they go."""
    missing: dict[_Tracked, dict[int, list[str]]] = {}
    for obj in session.dirty:
        spec = _TRACKED.get(type(obj))
        unknown = _unloaded_changes(obj, spec) if spec else []
        if spec and unknown:
            missing.setdefault(spec, {})[inspect(obj).identity[0]] = unknown
    if missing:
        flush_context.attributes[_OLD_VALUES] = _fetch_old(session, missing)


def _unloaded_changes(obj: Any, spec: _Tracked) -> list[str]:
    """Changed attributes of an object whose previous value was never loaded."""
    attrs = inspect(obj).attrs
    return [c for c in spec.columns if attrs[c].history.added and not attrs[c].history.deleted]


def _fetch_old(
    session: Session, missing: dict[_Tracked, dict[int, list[str]]]
) -> dict[tuple[type, int], dict[str, Any]]:
    """The stored values of those attributes, one SELECT per model."""
    old: dict[tuple[type, int], dict[str, Any]] = {}
    with session.no_autoflush:
        for spec, by_id in missing.items():
            columns = {c for cols in by_id.values() for c in cols}
            for object_id, row in _rows_by_id(session, spec, list(by_id), columns).items():
                old[(spec.model, object_id)] = row
    return old


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Record the flush's new, changed and deleted people and SaaS users, in one INSERT."""
    batch = _Batch(get_actor(session))
    old_values = flush_context.attributes.get(_OLD_VALUES, {})
    for obj in session.new:
        _record_new(batch, obj)
    for obj in session.dirty:
        _record_dirty(batch, obj, old_values)
    for obj in session.deleted:
        _record_deleted(batch, obj)
    batch.write(session)


def _record_new(batch: _Batch, obj: Any) -> None:
    """A create, with the new object's values."""
    spec = _TRACKED.get(type(obj))
    if spec is not None:
        values = inspect(obj).dict
        batch.add(spec, "create", values["id"], values.get(spec.key), None, _snapshot(spec, values))


def _record_dirty(
    batch: _Batch, obj: Any, old_values: dict[tuple[type, int], dict[str, Any]]
) -> None:
    """An update, with the previous and new values of the attributes that changed."""
    spec = _TRACKED.get(type(obj))
    if spec is None:
        return
    state = inspect(obj)
    object_id = state.identity[0]
    stored = old_values.get((spec.model, object_id), {})
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name in spec.columns:
        history = state.attrs[name].history
        if history.added:
            new[name] = history.added[0]
            old[name] = history.deleted[0] if history.deleted else stored.get(name)
    batch.update(spec, object_id, state.dict.get(spec.key), old, new)


def _record_deleted(batch: _Batch, obj: Any) -> None:
    """A delete, with the values the object had in memory."""
    spec = _TRACKED.get(type(obj))
    if spec is not None:
        state = inspect(obj)
        values = state.dict
        batch.add(
            spec, "delete", state.identity[0], values.get(spec.key), _snapshot(spec, values), None
        )


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
