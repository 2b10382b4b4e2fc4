"""The one way to change people and SaaS users outside the sync upsert.

Each service applies a diff and writes the change rows of that very diff (`ChangeBatch`) on the
same connection, so the change log holds every change by construction and commits or rolls back
with it. Only fields that really differ are written; each changed row gets `updated_at` = now and
loses its sync fingerprint, so the next sync compares it in full. Services never commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_mapper

from inventory.changelog import ChangeBatch
from inventory.models import Person, SaasUser

__all__ = ["add_person", "add_records", "set_fields", "update_saas_users"]

_CHUNK = 500
# Each model's object type in the change log, and the attribute that names a record there.
_KINDS: dict[type, tuple[str, str]] = {
    Person: ("person", "email"),
    SaasUser: ("saas_user", "external_id"),
}


def update_saas_users(session: Session, changes: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Set fields of SaaS users by id (dicts of "id" and the fields), logging each real change;
    how many rows changed."""
    return _update_rows(session, SaasUser, changes, now)


def add_records(session: Session, objs: Sequence[Person | SaasUser], now: datetime) -> None:
    """Add new people or SaaS users and log a create for each, with the values it was stored
    with."""
    session.add_all(objs)
    session.flush()
    batch = ChangeBatch.of(session, now)
    for obj in objs:
        values = {attr.key: getattr(obj, attr.key) for attr in object_mapper(obj).column_attrs}
        batch.created(_KINDS[type(obj)][0], obj.id, values)
    batch.write(session)


def add_person(session: Session, values: Mapping[str, Any], now: datetime) -> Person:
    """Add one person (a hire from Lever, say) with these column values and log its create."""
    person = Person(**values, created_at=now, updated_at=now)
    add_records(session, [person], now)
    return person


def set_fields(
    session: Session, obj: Person | SaasUser, values: Mapping[str, Any], now: datetime
) -> bool:
    """Assign the values that differ to a loaded person or SaaS user and log the change; True
    when anything changed."""
    object_type, key = _KINDS[type(obj)]
    old = {name: getattr(obj, name) for name in values}
    new = {name: value for name, value in values.items() if old[name] != value}
    if not new:
        return False
    for name, value in new.items():
        setattr(obj, name, value)
    obj.updated_at, obj.fingerprint = now, None
    _log(session, now, object_type, [(obj.id, getattr(obj, key), old, new)])
    return True


def _update_rows(
    session: Session, model: Any, changes: Sequence[Mapping[str, Any]], now: datetime
) -> int:
    """One bulk UPDATE by primary key of the rows whose values differ, and their change rows."""
    object_type, key = _KINDS[model]
    wanted = _merged(changes)
    fields = sorted({name for values in wanted.values() for name in values})
    stored = _current(session, model, list(wanted), [key, *fields])
    diffs = [
        (row_id, old[key], old, new)
        for row_id, values in wanted.items()
        if (old := stored.get(row_id)) is not None and (new := _differing(old, values))
    ]
    if diffs:
        rows = [{**new, "id": row_id, "updated_at": now, "fingerprint": None}
                for row_id, _, _, new in diffs]  # fmt: skip
        rows.sort(key=sorted)  # rows setting the same fields go out in one executemany
        session.execute(update(model), rows)
        _log(session, now, object_type, diffs)
    return len(diffs)


def _merged(changes: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """The fields to set by id (a later dict for the same id adds to an earlier one)."""
    wanted: dict[int, dict[str, Any]] = {}
    for change in changes:
        fields = {name: value for name, value in change.items() if name != "id"}
        wanted.setdefault(change["id"], {}).update(fields)
    return wanted


def _differing(old: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that differ from what is stored."""
    return {name: value for name, value in values.items() if old[name] != value}


def _current(
    session: Session, model: Any, ids: Sequence[int], names: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """The stored values of some columns of the given rows, by id (one SELECT per 500 ids)."""
    columns = [getattr(model, name) for name in dict.fromkeys(names)]
    found: dict[int, dict[str, Any]] = {}
    for part in _chunks(ids):
        stmt = select(model.id, *columns).where(model.id.in_(part))
        found |= {row["id"]: dict(row) for row in session.execute(stmt).mappings()}
    return found


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """Slices small enough for any database's limit on bound parameters."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _log(
    session: Session,
    now: datetime,
    object_type: str,
    diffs: Sequence[tuple[int, Any, Mapping[str, Any], Mapping[str, Any]]],
) -> None:
    """Write the change rows of the applied diffs (id, key, old values, new values)."""
    batch = ChangeBatch.of(session, now)
    for row_id, key, old, new in diffs:
        batch.updated(object_type, row_id, key, old, new)
    batch.write(session)
