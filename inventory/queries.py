"""List queries for People and SaaS users: search, rule filters, sorting, keyset pages, export.

Every list is sorted by one column and then by id, so the order is total and a page's cursor
(the last row's sort value and id) says exactly where the next page starts; no OFFSET is used,
and on a column that is never null the cursor is a row-value comparison an index on the sort
key seeks straight to, so a deep page costs what the first one does. Text sorts ignore ASCII
case. Nulls sort last in both directions (a start date that is not known yet, say). A person's
`manager_email` is the email of the person their `manager_id` names, joined in (null when none
or when that person is gone). The search text `q` is split into words and every
word must appear (ignoring case) in one of the searched fields: full name, first name, last name
or email for people; name or email for SaaS users. The functions take a Session and never commit.

What keeps a page fast at a million rows:
* a key that may be null is read in two index-ordered parts, the rows that have one and then
  the nulls by id, each with its own keyset, instead of one sort of every row;
* on SQLite, the search words of three characters or more are first looked up in the list's
  FTS5 trigram table (migration 0005); when at most SEARCH_CAP rows hold them all, only those
  rows are read and sorted. A word common to more rows than that is tested row by row in list
  order, which finds a page quickly because such rows are many. PostgreSQL serves the same
  search from pg_trgm indexes, chosen by its planner;
* an `email` filter with `starts_with` or `eq` on a plain ASCII value (no spaces) also bounds the
  folded, indexed `email_key`, so the index seeks straight to the matching range.
The extra conditions only narrow what the rule itself then tests, so results never change.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, TypeAlias

from sqlalchemy import Row, Select, String, and_, column, func, literal, select, table, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from inventory.errors import ConfigError, NotFoundError
from inventory.models import CustomField, Person, SaasApp, SaasUser
from inventory.rules import (
    CUSTOM_PREFIX,
    AllOf,
    AnyOf,
    Condition,
    FieldSpec,
    Rule,
    compile_rule,
    specs_from_columns,
)
from inventory.timeutil import iso

__all__ = [
    "MAX_LIMIT",
    "PEOPLE_COLUMNS",
    "PEOPLE_FIELDS",
    "SAAS_USER_COLUMNS",
    "SAAS_USER_FIELDS",
    "SEARCH_CAP",
    "Page",
    "find_app",
    "iter_people",
    "iter_saas_users",
    "list_people",
    "list_saas_users",
    "manager_email_of",
    "people_fields",
    "person_detail",
    "person_to_dict",
    "saas_user_detail",
    "saas_user_to_dict",
]

MAX_LIMIT = 1000
# Above this many rows holding every search word, reading them all to sort costs more than
# walking the list in order and testing each row.
SEARCH_CAP = 10_000
_BAD_CURSOR = "invalid cursor: start again without `after`"
_AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"

_people = Person.__table__.c
_users = SaasUser.__table__.c
_apps = SaasApp.__table__.c
# A person's manager is another person: the list of people joins the table to itself.
_managers = Person.__table__.alias("manager")

PEOPLE_COLUMNS: Mapping[str, ColumnElement[Any]] = MappingProxyType(
    {
        name: _people[name]
        for name in (
            "username",
            "email",
            "first_name",
            "last_name",
            "full_name",
            "role",
            "job_title",
            "status",
            "created_at",
            "updated_at",
            "last_synced_at",
            "personal_email",
            "department",
            "location",
            "start_date",
        )
    }
    | {"manager_email": _managers.c.email}
)
SAAS_USER_COLUMNS: Mapping[str, ColumnElement[Any]] = MappingProxyType(
    {
        "app": _apps.name,
        **{
            name: _users[name]
            for name in (
                "external_id",
                "email",
                "name",
                "role",
                "status",
                "created_at",
                "deactivated_at",
                "last_login_at",
                "last_seen_at",
            )
        },
        "person_email": _people.email,
    }
)
PEOPLE_FIELDS: Mapping[str, FieldSpec] = MappingProxyType(specs_from_columns(PEOPLE_COLUMNS))
SAAS_USER_FIELDS: Mapping[str, FieldSpec] = MappingProxyType(specs_from_columns(SAAS_USER_COLUMNS))


@dataclass
class Page:
    """One page of a list, and the cursor of the next one (None on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


# --- JSON shapes -----------------------------------------------------------------------------


def person_to_dict(p: Person, manager_email: str | None = None) -> dict[str, Any]:
    """A person in the stable JSON shape of lists and exports, with their manager's email (which
    the caller looks up: the lists join it in, `manager_email_of` reads one)."""
    return {
        "username": p.username,
        "email": p.email,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "full_name": p.full_name,
        "role": p.role,
        "job_title": p.job_title,
        "status": p.status,
        "custom": dict(p.custom or {}),
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
        "last_synced_at": iso(p.last_synced_at),
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "department": p.department,
        "location": p.location,
        "personal_email": p.personal_email,
        "manager_email": manager_email,
    }


def manager_email_of(session: Session, person: Person) -> str | None:
    """The email of the person's manager, if they have one on record."""
    if person.manager_id is None:
        return None
    return session.scalar(select(Person.email).where(Person.id == person.manager_id))


def saas_user_to_dict(u: SaasUser, app_name: str, person_email: str | None) -> dict[str, Any]:
    """A SaaS user in the stable JSON shape, with its app's name and its person's email."""
    return {
        "app": app_name,
        "external_id": u.external_id,
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "status": u.status,
        "created_at": iso(u.created_at),
        "deactivated_at": iso(u.deactivated_at),
        "last_login_at": iso(u.last_login_at),
        "last_seen_at": iso(u.last_seen_at),
        "person_email": person_email,
    }


def people_fields(session: Session) -> dict[str, FieldSpec]:
    """The fields a People rule may test: the columns and every custom field (as text)."""
    names = session.scalars(select(CustomField.name).order_by(CustomField.name))
    custom = {CUSTOM_PREFIX + name: FieldSpec(CUSTOM_PREFIX + name) for name in names}
    return {**PEOPLE_FIELDS, **custom}


# --- what a list is made of ------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """One listable object type: its columns, sort keys, search fields and row shape."""

    columns: Mapping[str, ColumnElement[Any]]
    sort_keys: Mapping[str, ColumnElement[Any]]
    search: tuple[str, ...]
    id_column: ColumnElement[int]
    search_table: str
    nullable: frozenset[str]
    json_column: ColumnElement[Any] | None
    base: Callable[[ColumnElement[Any]], Select[Any]]
    to_dict: Callable[[_AnyRow], dict[str, Any]]
    ids: Callable[[_AnyRow], dict[str, Any]]


@dataclass(frozen=True)
class _Query:
    """What to select and how to order it."""

    where: Rule
    sort: str
    descending: bool
    now: datetime
    narrow: tuple[ColumnElement[bool], ...] = ()


def _sort_keys(columns: Mapping[str, ColumnElement[Any]]) -> dict[str, ColumnElement[Any]]:
    """What each column sorts by: text folded by lower(), everything else as it is."""
    kinds = specs_from_columns(columns)
    return {
        name: func.lower(column) if kinds[name].type == "string" else column
        for name, column in columns.items()
    }


def _nullable(columns: Mapping[str, ColumnElement[Any]], *more: str) -> frozenset[str]:
    """The columns that may be null (and so sort last), plus any the joins make nullable."""
    return frozenset(
        {name for name, column in columns.items() if getattr(column, "nullable", True)} | set(more)
    )


def _people_select(key: ColumnElement[Any]) -> Select[Any]:
    """People with their manager's email and their sort key, in one query."""
    return select(Person, _managers.c.email, key.label("sort_key")).outerjoin(
        _managers, Person.manager_id == _managers.c.id
    )


def _saas_users_select(key: ColumnElement[Any]) -> Select[Any]:
    """SaaS users with their app's name, their person's email and their sort key, in one query."""
    return (
        select(SaasUser, _apps.name, _people.email, key.label("sort_key"))
        .join(SaasApp, SaasUser.app_id == SaasApp.id)
        .outerjoin(Person, SaasUser.person_id == Person.id)
    )


_PEOPLE = _Source(
    columns=PEOPLE_COLUMNS,
    # email_key is the folded, unique and indexed email: the cheapest sort there is.
    sort_keys={**_sort_keys(PEOPLE_COLUMNS), "email": _people.email_key},
    search=("full_name", "first_name", "last_name", "email"),
    id_column=_people.id,
    search_table="people_search",
    nullable=_nullable(PEOPLE_COLUMNS, "manager_email"),
    json_column=_people.custom,
    base=_people_select,
    to_dict=lambda row: person_to_dict(row[0], row[1]),
    ids=lambda row: {"id": row[0].id},
)
_SAAS_USERS = _Source(
    columns=SAAS_USER_COLUMNS,
    sort_keys={**_sort_keys(SAAS_USER_COLUMNS), "email": _users.email_key},
    search=("name", "email"),
    id_column=_users.id,
    search_table="saas_users_search",
    nullable=_nullable(SAAS_USER_COLUMNS, "person_email"),
    json_column=None,
    base=_saas_users_select,
    to_dict=lambda row: saas_user_to_dict(row[0], row[1], row[2]),
    ids=lambda row: {"id": row[0].id, "person_id": row[0].person_id},
)


# --- public listing and export ---------------------------------------------------------------


def list_people(
    session: Session,
    *,
    q: str | None = None,
    rule: Rule | None = None,
    sort: str = "email",
    descending: bool = False,
    after: str | None = None,
    limit: int = 50,
    now: datetime,
    ids: bool = False,
) -> Page:
    """One page of people matching the search and the rule, from the cursor `after` on.

    With `ids`, each item also holds the person's database `id` (for links to the record).
    """
    query = _query(session, _PEOPLE, q, rule, sort, descending, now)
    return _page(session, _PEOPLE, query, after, _check_limit(limit, MAX_LIMIT), ids)


def list_saas_users(
    session: Session,
    *,
    app: str | None = None,
    q: str | None = None,
    rule: Rule | None = None,
    sort: str = "email",
    descending: bool = False,
    after: str | None = None,
    limit: int = 50,
    now: datetime,
    ids: bool = False,
) -> Page:
    """One page of SaaS users, of one app (by name, ignoring case) when `app` is given.

    With `ids`, each item also holds the user's `id` and its linked person's `person_id`.
    """
    query = _query(session, _SAAS_USERS, q, _with_app(app, rule), sort, descending, now)
    return _page(session, _SAAS_USERS, query, after, _check_limit(limit, MAX_LIMIT), ids)


def iter_people(
    session: Session,
    *,
    q: str | None = None,
    rule: Rule | None = None,
    sort: str = "email",
    descending: bool = False,
    now: datetime,
    batch: int = 1000,
    ids: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every matching person, read a keyset batch at a time so memory stays flat (export)."""
    query = _query(session, _PEOPLE, q, rule, sort, descending, now)
    return _stream(session, _PEOPLE, query, _check_limit(batch, None), ids)


def iter_saas_users(
    session: Session,
    *,
    app: str | None = None,
    q: str | None = None,
    rule: Rule | None = None,
    sort: str = "email",
    descending: bool = False,
    now: datetime,
    batch: int = 1000,
    ids: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every matching SaaS user, read a keyset batch at a time so memory stays flat (export)."""
    query = _query(session, _SAAS_USERS, q, _with_app(app, rule), sort, descending, now)
    return _stream(session, _SAAS_USERS, query, _check_limit(batch, None), ids)


# --- building the query ----------------------------------------------------------------------


def _query(
    session: Session,
    source: _Source,
    q: str | None,
    rule: Rule | None,
    sort: str,
    descending: bool,
    now: datetime,
) -> _Query:
    """Check the sort column, fold the search and the rule into one, and find what narrows it."""
    if sort not in source.sort_keys:
        raise ConfigError(f"cannot sort by {sort!r} (use one of {', '.join(source.columns)})")
    parts = (*_search_rules(source, q), *((rule,) if rule is not None else ()))
    where = AllOf(parts)
    narrow = (*_email_ranges(source, where), *_search_hits(session, source, q))
    return _Query(where, sort, descending, now, narrow)


def _search_rules(source: _Source, q: str | None) -> tuple[Rule, ...]:
    """One rule per word of `q`: the word appears in some searched field."""
    words = (q or "").split()
    return tuple(
        AnyOf(tuple(Condition(field, "contains", word) for field in source.search))
        for word in words
    )


def _with_app(app: str | None, rule: Rule | None) -> Rule | None:
    """The rule, narrowed to one SaaS app by name when `app` is given."""
    if not app:
        return rule
    by_app = Condition("app", "eq", app)
    return by_app if rule is None else AllOf((by_app, rule))


def _check_limit(limit: int, most: int | None) -> int:
    """A page or batch size of at least one (and at most `most`)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError("limit must be a whole number of at least 1")
    if most is not None and limit > most:
        raise ConfigError(f"limit must be at most {most}")
    return limit


# --- what narrows a query --------------------------------------------------------------------


class _Bytewise(FunctionElement[str]):
    """A text column compared byte by byte: as it is on SQLite, in "C" collation on PostgreSQL."""

    type = String()
    name = "bytewise"
    inherit_cache = True


@compiles(_Bytewise)
def _bytewise_sql(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite compares text bytewise already (BINARY collation)."""
    return compiler.process(element.clauses, **kw)


@compiles(_Bytewise, "postgresql")
def _bytewise_postgresql(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    """ "C" collation, which the email_key_c indexes of migration 0005 are built in."""
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def _conjuncts(rule: Rule) -> Iterator[Condition]:
    """The conditions every selected row must meet: the top level of nested all-of rules."""
    match rule:
        case AllOf(rules):
            for child in rules:
                yield from _conjuncts(child)
        case Condition():
            yield rule


def _email_ranges(source: _Source, rule: Rule) -> Iterator[ColumnElement[bool]]:
    """A range of the indexed email_key for each email `starts_with` or `eq` the rule requires.

    email_key is the stripped, case-folded email. For an ASCII value with no spaces, every email
    that passes the rule's own ASCII-folded test has a key in the range, so adding the range
    loses no row; any other value is left to the rule alone.
    """
    for condition in _conjuncts(rule):
        value = condition.value
        if condition.field != "email" or not _seekable(value):
            continue
        # The email sort key is the indexed email_key.
        key, low = _Bytewise(source.sort_keys["email"]), value.lower()
        if condition.op == "eq":
            yield key == low
        elif condition.op == "starts_with":
            yield and_(key >= low, key < low[:-1] + chr(ord(low[-1]) + 1))


def _seekable(value: Any) -> bool:
    """Non-empty printable ASCII text without spaces: what a range of email keys can stand for."""
    return isinstance(value, str) and value != "" and all("!" <= char <= "~" for char in value)


def _search_hits(
    session: Session, source: _Source, q: str | None
) -> tuple[ColumnElement[bool], ...]:
    """On SQLite, `id IN (rows holding every word)` from the trigram table, when they are few.

    Words shorter than three characters cannot be looked up by trigram; the rule tests them.
    """
    words = [word for word in (q or "").split() if len(word) >= 3]
    if not words or session.get_bind().dialect.name != "sqlite":
        return ()
    fts = table(source.search_table, column("rowid"), column(source.search_table))
    phrase = " AND ".join('"' + word.replace('"', '""') + '"' for word in words)
    hits = select(fts.c.rowid).where(fts.c[source.search_table].op("MATCH")(phrase))
    capped = select(func.count()).select_from(hits.limit(SEARCH_CAP + 1).subquery())
    if (session.scalar(capped) or 0) > SEARCH_CAP:
        return ()
    return (source.id_column.in_(hits),)


# --- ordering --------------------------------------------------------------------------------


def _filtered(source: _Source, query: _Query) -> Select[Any]:
    """The rows the search and the rule select, with their sort key, before any order."""
    key = source.sort_keys[query.sort]
    where = compile_rule(query.where, source.columns, query.now, source.json_column)
    return source.base(key).where(where, *query.narrow)


def _keyed(source: _Source, query: _Query, cursor: tuple[Any, int] | None) -> Select[Any]:
    """The rows that have a sort key, in (key, id) order (both reversed if descending).

    The cursor is a row-value comparison, so an index on the key seeks straight to it.
    """
    key, ids = source.sort_keys[query.sort], source.id_column
    statement = _filtered(source, query)
    if query.sort in source.nullable:
        statement = statement.where(key.is_not(None))
    if cursor is not None:
        here = tuple_(key, ids)
        there = tuple_(literal(cursor[0], key.type), literal(cursor[1], ids.type))
        statement = statement.where(here < there if query.descending else here > there)
    return statement.order_by(*((key.desc(), ids.desc()) if query.descending else (key, ids)))


def _keyless(source: _Source, query: _Query, last_id: int | None) -> Select[Any]:
    """The rows whose sort key is null, which come last in both directions, in id order."""
    key, ids = source.sort_keys[query.sort], source.id_column
    statement = _filtered(source, query).where(key.is_(None))
    if last_id is not None:
        statement = statement.where(ids < last_id if query.descending else ids > last_id)
    return statement.order_by(ids.desc() if query.descending else ids)


def _rows(
    session: Session, source: _Source, query: _Query, cursor: tuple[Any, int] | None, count: int
) -> list[_AnyRow]:
    """Up to `count` rows from the cursor on: keyed rows first, then (if the key may be null)
    the keyless ones, each part read in its own index order."""
    keyed: list[_AnyRow] = []
    if cursor is None or cursor[0] is not None:
        keyed = list(session.execute(_keyed(source, query, cursor).limit(count)).all())
    if query.sort not in source.nullable or len(keyed) == count:
        return keyed
    last_id = cursor[1] if cursor is not None and cursor[0] is None else None
    statement = _keyless(source, query, last_id).limit(count - len(keyed))
    return keyed + list(session.execute(statement).all())


# --- pages and streams -----------------------------------------------------------------------


def _page(
    session: Session,
    source: _Source,
    query: _Query,
    after: str | None,
    limit: int,
    ids: bool = False,
) -> Page:
    """Fetch one page plus one row, which tells whether there is a next page."""
    cursor = None
    if after is not None:
        kind = specs_from_columns(source.columns)[query.sort].type
        cursor = _decode_cursor(after, kind)
    rows = _rows(session, source, query, cursor, limit + 1)
    items = [_item(source, row, ids) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items, _encode_cursor(rows[limit - 1]) if more else None)


def _item(source: _Source, row: _AnyRow, ids: bool) -> dict[str, Any]:
    """A row in its JSON shape, with its database ids first when asked for."""
    return {**source.ids(row), **source.to_dict(row)} if ids else source.to_dict(row)


def _stream(
    session: Session, source: _Source, query: _Query, batch: int, ids: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield page after page until the last; nothing is read before the first item is asked."""
    after: str | None = None
    while True:
        page = _page(session, source, query, after, batch, ids)
        yield from page.items
        if page.next_cursor is None:
            return
        after = page.next_cursor


# --- single records ----------------------------------------------------------------------


def find_app(session: Session, name: str) -> str | None:
    """The stored name of the SaaS app called `name` (ignoring case), if there is one."""
    stmt = select(SaasApp.name).where(func.lower(SaasApp.name) == name.lower())
    return session.scalars(stmt.order_by(SaasApp.id).limit(1)).first()


def person_detail(session: Session, person_id: int) -> dict[str, Any]:
    """A person in the JSON shape, with its `id` and its SaaS accounts (`saas_users`)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError(f"no person with id {person_id}")
    accounts = session.execute(
        select(SaasUser, SaasApp.name)
        .join(SaasApp, SaasUser.app_id == SaasApp.id)
        .where(SaasUser.person_id == person_id)
        .order_by(func.lower(SaasApp.name), SaasUser.email_key, SaasUser.id)
    ).all()
    users = [{"id": u.id, **saas_user_to_dict(u, app, person.email)} for u, app in accounts]
    manager = manager_email_of(session, person)
    return {"id": person.id, **person_to_dict(person, manager), "saas_users": users}


def saas_user_detail(session: Session, user_id: int, app: str | None = None) -> dict[str, Any]:
    """A SaaS user in the JSON shape, with its `id` and its linked `person` (id, email, name).

    With `app`, a user of another app is not found either, so one app's pages show only its users.
    """
    found = session.execute(
        select(SaasUser, SaasApp.name)
        .join(SaasApp, SaasUser.app_id == SaasApp.id)
        .where(SaasUser.id == user_id)
    ).first()
    if found is None or (app is not None and found[1].lower() != app.lower()):
        raise NotFoundError(f"no {app or 'SaaS'} user with id {user_id}")
    user, app_name = found
    person = user.person
    email = person.email if person else None
    linked = {"id": person.id, "email": email, "full_name": person.full_name} if person else None
    return {"id": user.id, **saas_user_to_dict(user, app_name, email), "person": linked}


# --- cursors ---------------------------------------------------------------------------------


def _encode_cursor(row: _AnyRow) -> str:
    """Urlsafe base64 of JSON [sort value, id], datetimes to the microsecond, dates as days."""
    value = row.sort_key
    if isinstance(value, date):
        value = value.isoformat()
    text = json.dumps([value, row[0].id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, kind: str) -> tuple[Any, int]:
    """The sort value and id a cursor holds; anything else is a ConfigError."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        decoded = json.loads(raw)
        if not isinstance(decoded, list) or len(decoded) != 2:
            raise ValueError(decoded)
        value, last_id = decoded
        return _cursor_value(value, kind), _cursor_id(last_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise ConfigError(_BAD_CURSOR) from None


def _cursor_value(value: Any, kind: str) -> Any:
    """A cursor's sort value, checked against the sort column's type (ValueError if wrong)."""
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(value)
        return moment
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    raise ValueError(value)


def _cursor_id(value: Any) -> int:
    """A cursor's row id (ValueError unless a whole number)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value
