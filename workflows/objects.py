"""The object types a workflow runs over — SaaS users and people: the fields its rules may test,
how its criteria select records in SQL, and how its records load for a walk.

People rules test the People columns a workflow author needs (names, role, status and a hire's
department, location, start date as a date, personal email) and custom fields as
``custom.NAME`` (text), in Python on a record (`workflows.context.person_data`) and compiled to
SQL over the people table, with the same answers on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, aliased, joinedload

from inventory.models import Person, SaasApp, SaasUser
from inventory.queries import SAAS_USER_COLUMNS, SAAS_USER_FIELDS
from inventory.rules import (
    CUSTOM_PREFIX,
    FieldSpec,
    Rule,
    compile_rule,
    evaluate,
    specs_from_columns,
)
from workflows.context import Record
from workflows.registry import SAAS_USERS

__all__ = [
    "CHUNK",
    "OBJECTS",
    "PEOPLE",
    "PERSON_COLUMNS",
    "PERSON_FIELDS",
    "SAAS_USERS",
    "load_records",
    "load_users",
    "rule_fields",
    "select_ids",
]

PEOPLE = "people"
OBJECTS = (SAAS_USERS, PEOPLE)
CHUNK = 500
_people = Person.__table__.c
PERSON_COLUMNS: Mapping[str, ColumnElement[Any]] = MappingProxyType(
    {
        name: _people[name]
        for name in (
            "email", "full_name", "first_name", "last_name", "role", "job_title", "status",
            "department", "location", "start_date", "personal_email",
        )
    }
)  # fmt: skip
PERSON_FIELDS: Mapping[str, FieldSpec] = MappingProxyType(specs_from_columns(PERSON_COLUMNS))


class _AnyCustom(Mapping[str, FieldSpec]):
    """Field specs that also admit any custom field (when the custom fields are not known)."""

    def __init__(self, base: Mapping[str, FieldSpec]) -> None:
        self.base = base

    def __getitem__(self, name: str) -> FieldSpec:
        """A known field, or a custom field as text."""
        if name in self.base:
            return self.base[name]
        if name.startswith(CUSTOM_PREFIX):
            return FieldSpec(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        """The known fields (what an unknown field's problem lists)."""
        return iter(self.base)

    def __len__(self) -> int:
        """How many fields are known."""
        return len(self.base)


def rule_fields(obj: str, custom: Iterable[str] | None = None) -> Mapping[str, FieldSpec]:
    """The fields a rule over the object type may test: SaaS-user columns; or person columns
    and custom fields (the named ones, or any ``custom.NAME`` when `custom` is None)."""
    if obj != PEOPLE:
        return SAAS_USER_FIELDS
    if custom is None:
        return _AnyCustom(PERSON_FIELDS)
    named = {CUSTOM_PREFIX + name: FieldSpec(CUSTOM_PREFIX + name) for name in sorted(custom)}
    return {**PERSON_FIELDS, **named}


# -- selecting records -----------------------------------------------------------------------


def select_ids(
    session: Session,
    rule: Rule,
    now: datetime,
    record_ids: Iterable[int] | None = None,
    obj: str = SAAS_USERS,
) -> list[int]:
    """Ids of the records (SaaS users or people) the criteria match: in SQL over every record,
    or in Python over the given ones (the records an event names)."""
    if record_ids is None:
        select_all = _select_people if obj == PEOPLE else _select_users
        return select_all(session, rule, now)
    ids = sorted(set(record_ids))
    return [r.id for r in _chunked(session, obj, ids) if evaluate(rule, r.data(), now)]


def _select_users(session: Session, rule: Rule, now: datetime) -> list[int]:
    """Ids of the SaaS users the rule matches, in SQL."""
    stmt = (
        select(SaasUser.id)
        .join(SaasApp, SaasUser.app_id == SaasApp.id)
        .outerjoin(Person, SaasUser.person_id == Person.id)
        .where(compile_rule(rule, SAAS_USER_COLUMNS, now))
        .order_by(SaasUser.id)
    )
    return list(session.scalars(stmt))


def _select_people(session: Session, rule: Rule, now: datetime) -> list[int]:
    """Ids of the people the rule matches, in SQL (custom fields in the JSON column)."""
    where = compile_rule(rule, PERSON_COLUMNS, now, json_column=_people.custom)
    return list(session.scalars(select(Person.id).where(where).order_by(Person.id)))


def _chunked(session: Session, obj: str, ids: Sequence[int]) -> Iterator[Record]:
    """Records by id, a chunk at a time."""
    for start in range(0, len(ids), CHUNK):
        yield from load_records(session, obj, ids[start : start + CHUNK])


# -- loading records -------------------------------------------------------------------------


def load_records(session: Session, obj: str, ids: Sequence[int]) -> list[Record]:
    """Records of the object type by id, in id order (one query); missing ids are left out."""
    if obj == PEOPLE:
        return _load_people(session, ids)
    return [Record(user) for user in load_users(session, ids)]


def load_users(session: Session, ids: Sequence[int]) -> list[SaasUser]:
    """SaaS users by id, with their app and person, in id order (one query)."""
    stmt = (
        select(SaasUser)
        .where(SaasUser.id.in_(ids))
        .options(joinedload(SaasUser.app), joinedload(SaasUser.person))
        .order_by(SaasUser.id)
    )
    return list(session.scalars(stmt))


def _load_people(session: Session, ids: Sequence[int]) -> list[Record]:
    """People by id, each with its manager's email (the person `manager_id` names)."""
    manager = aliased(Person)
    stmt = (
        select(Person, manager.email)
        .outerjoin(manager, manager.id == Person.manager_id)
        .where(Person.id.in_(ids))
        .order_by(Person.id)
    )
    return [Record(person, email) for person, email in session.execute(stmt)]
