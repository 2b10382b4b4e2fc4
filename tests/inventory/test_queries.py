"""People and SaaS-user lists: JSON shape, search, rule filters, sorting, keyset pages, export."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from inventory import queries
from inventory.errors import ConfigError, RuleError
from inventory.models import CustomField, Person, SaasApp, SaasUser
from inventory.queries import (
    PEOPLE_COLUMNS,
    SAAS_USER_COLUMNS,
    iter_people,
    iter_saas_users,
    list_people,
    list_saas_users,
    people_fields,
    person_to_dict,
    saas_user_to_dict,
)
from inventory.rules import parse_filters, parse_rule

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC)
T2 = T1 + timedelta(microseconds=1)
D1, D2 = date(2024, 7, 1), date(2024, 7, 15)
BAD_CURSOR = "invalid cursor: start again without `after`"

PERSON_KEYS = [
    "username",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "role",
    "job_title",
    "status",
    "custom",
    "created_at",
    "updated_at",
    "last_synced_at",
    "start_date",
    "department",
    "location",
    "personal_email",
    "manager_email",
]
SAAS_USER_KEYS = [
    "app",
    "external_id",
    "email",
    "name",
    "role",
    "status",
    "created_at",
    "deactivated_at",
    "last_login_at",
    "last_seen_at",
    "person_email",
]


@pytest.fixture
def database_url(shared_database_url: str) -> str:
    """One database per backend for the module: its tests flush and roll back, never commit."""
    return shared_database_url


def person(email: str, **fields: Any) -> Person:
    """A person with its sync key filled in and fixed record timestamps."""
    fields.setdefault("created_at", datetime(2024, 1, 1, tzinfo=UTC))
    fields.setdefault("updated_at", datetime(2024, 1, 2, tzinfo=UTC))
    return Person(email=email, email_key=email.lower(), **fields)


def add_people(session: Session) -> dict[str, Person]:
    """A handful of varied people, by email."""
    rows = [
        person(
            "zoe@example.com",
            username="zoe",
            first_name="Zoë",
            last_name="Ørsted",
            full_name="Zoë Ørsted",
            role="Admin",
            job_title="CTO",
            last_synced_at=T1,
            custom={"Lever ID": "u-1"},
        ),
        person(
            "ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            role="admin",
            last_synced_at=T1,
            custom={"Lever ID": "u-2"},
        ),
        person(
            "BOB@Example.com",
            first_name="Bob",
            last_name="Stone",
            full_name="Bob Stone",
            role="interviewer",
            job_title="Engineer",
            status="deactivated",
        ),
        person(
            "carol@example.org",
            full_name="Carol 100% Real",
            role="Interviewer",
            job_title="engineer",
            last_synced_at=T2,
        ),
        person("dan_x@example.com", full_name="Dan X", custom={"Lever ID": ""}),
        person("eve@example.com", full_name="Eve", role="ADMIN", job_title="Engineer"),
    ]
    session.add_all(rows)
    session.flush()
    return {row.email: row for row in rows}


HIRES = [
    # email, full name, status, start day (from `today`), department, location, managed by Mia
    ("hana@corp.example", "Hana Day", "pre_start", 0, "Engineering", "Berlin", True),
    ("ivo@corp.example", "Ivo Five", "pre_start", 5, "Sales", "Remote", True),
    ("jan@corp.example", "Jan Last", "pre_start", 29, "Sales", "Lisbon", False),
    ("kim@corp.example", "Kim Late", "pre_start", 30, "Support", "Berlin", True),
    ("lee@corp.example", "Lee Past", "pre_start", -1, "Support", None, False),
    ("max@corp.example", "Max Undated", "pre_start", None, None, None, False),
    ("nia@corp.example", "Nia Cancelled", "cancelled", 3, "Sales", "Remote", True),
    ("oli@corp.example", "Oli Active", "active", 2, "Engineering", "Berlin", False),
]


def add_hires(session: Session, today: date) -> dict[str, Person]:
    """Mia, an active manager, and the people HIRES lists around `today`: pre-start people who
    start today, in 5, 29 and 30 days, who were due yesterday and with no date yet, a cancelled
    hire and an active person; by email (shared with the dashboard tests)."""
    mia = person("mia@corp.example", full_name="Mia Manager", department="Engineering")
    session.add(mia)
    session.flush()
    rows = [
        person(email, full_name=name, status=status, department=department, location=location,
               start_date=None if day is None else today + timedelta(days=day),
               personal_email=email.replace("corp", "home"),
               manager_id=mia.id if managed else None)
        for email, name, status, day, department, location, managed in HIRES
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return {row.email: row for row in [mia, *rows]}


@pytest.fixture
def hires(session: Session) -> dict[str, Person]:
    """Mia and the HIRES around D1."""
    return add_hires(session, D1)


@pytest.fixture
def people(session: Session) -> dict[str, Person]:
    """Six varied people."""
    return add_people(session)


@pytest.fixture
def many_people(session: Session) -> list[str]:
    """The six people and 25 more with ties and nulls in role, last_synced_at and start_date
    (most have none, as only hires do); their emails."""
    add_people(session)
    roles = ["admin", "Admin", None, "team member", ""]
    synced = [T1, T2, None]
    starts = [D2, None, D1, None, None, D2, None]
    session.add_all(
        person(
            f"user{i:02}@example.net",
            full_name=f"User {i:02}",
            role=roles[i % len(roles)],
            job_title=None if i % 2 else f"Job {i % 4}",
            last_synced_at=synced[i % len(synced)],
            start_date=starts[i % len(starts)],
        )
        for i in range(25)
    )
    session.flush()
    return list(session.scalars(Person.__table__.select().with_only_columns(Person.email)))


@pytest.fixture
def saas(session: Session, people: dict[str, Person]) -> dict[str, SaasApp]:
    """Lever with four accounts (two linked to people) and another app with one."""
    lever, other = SaasApp(name="Lever", vendor="Lever"), SaasApp(name="Other")
    session.add_all([lever, other])
    session.flush()
    accounts = [
        (lever, "l-1", "zoe@example.com", "Zoë Ørsted", people["zoe@example.com"]),
        (lever, "l-2", "ADA@example.com", "Ada Lovelace", people["ada@example.com"]),
        (lever, "l-3", "ghost@example.com", "Ghost User", None),
        (lever, "l-4", None, None, None),
        (other, "o-1", "zoe@example.com", "Zoe O", people["zoe@example.com"]),
    ]
    session.add_all(
        SaasUser(
            app_id=app.id,
            external_id=external_id,
            email=email,
            email_key=email.lower() if email else None,
            name=name,
            role="Interviewer" if external_id != "l-1" else "Super Admin",
            created_at=T1,
            last_login_at=T2 if external_id in ("l-1", "o-1") else None,
            person_id=linked.id if linked else None,
        )
        for app, external_id, email, name, linked in accounts
    )
    session.flush()
    return {"Lever": lever, "Other": other}


def emails(page_or_items: Any) -> list[str]:
    """The emails of a page's items (or of a list of items)."""
    items = getattr(page_or_items, "items", page_or_items)
    return [item["email"] for item in items]


def encode(value: Any) -> str:
    """A cursor-shaped string holding any JSON value."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


# --- JSON shapes -------------------------------------------------------------------------------


def test_person_shape(people: dict[str, Person]) -> None:
    item = person_to_dict(people["zoe@example.com"])
    assert list(item) == PERSON_KEYS
    assert item["full_name"] == "Zoë Ørsted"
    assert item["custom"] == {"Lever ID": "u-1"}
    assert item["created_at"] == "2024-01-01T00:00:00.000Z"
    assert item["last_synced_at"] == "2024-05-01T08:30:00.123Z"
    assert person_to_dict(people["eve@example.com"])["last_synced_at"] is None


def test_saas_user_shape(session: Session, saas: dict[str, SaasApp]) -> None:
    page = list_saas_users(session, app="Lever", now=NOW)
    item = next(u for u in page.items if u["external_id"] == "l-1")
    assert list(item) == SAAS_USER_KEYS
    assert item == {
        "app": "Lever",
        "external_id": "l-1",
        "email": "zoe@example.com",
        "name": "Zoë Ørsted",
        "role": "Super Admin",
        "status": "active",
        "created_at": "2024-05-01T08:30:00.123Z",
        "deactivated_at": None,
        "last_login_at": "2024-05-01T08:30:00.123Z",
        "last_seen_at": None,
        "person_email": "zoe@example.com",
    }


def test_saas_user_to_dict_takes_the_app_and_person_from_the_caller() -> None:
    user = SaasUser(external_id="x", status="active")
    item = saas_user_to_dict(user, "Lever", None)
    assert (item["app"], item["person_email"], item["created_at"]) == ("Lever", None, None)


# --- search and filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("zoë", ["zoe@example.com"]),
        ("ZOË", []),  # only ASCII letters fold, in SQL as in rules evaluated in Python
        ("lovelace", ["ada@example.com"]),
        ("ada lovelace", ["ada@example.com"]),  # every word, in any searched field
        ("stone bob", ["BOB@Example.com"]),
        ("EXAMPLE.ORG", ["carol@example.org"]),
        ("100%", ["carol@example.org"]),
        ("_x", ["dan_x@example.com"]),
        ("%", ["carol@example.org"]),
        ("nobody", []),
        ("   ", None),
        (None, None),
    ],
)
def test_search(
    session: Session, people: dict[str, Person], q: str | None, expected: list[str] | None
) -> None:
    found = emails(list_people(session, q=q, now=NOW))
    assert found == (expected if expected is not None else emails(list_people(session, now=NOW)))


def test_filter_by_rule(session: Session, people: dict[str, Person]) -> None:
    session.add(CustomField(name="Lever ID"))
    doc = {
        "all": [
            {"field": "role", "op": "eq", "value": "ADMIN"},
            {"field": "custom.Lever ID", "op": "is_not_empty"},
        ]
    }
    page = list_people(session, rule=parse_rule(doc, people_fields(session)), now=NOW)
    assert emails(page) == ["ada@example.com", "zoe@example.com"]


def test_filter_by_rule_and_search(session: Session, people: dict[str, Person]) -> None:
    rule = parse_rule({"field": "last_synced_at", "op": "newer_than_days", "value": 32})
    assert emails(list_people(session, rule=rule, now=NOW)) == [
        "ada@example.com",
        "carol@example.org",
        "zoe@example.com",
    ]
    assert emails(list_people(session, q="zo", rule=rule, now=NOW)) == ["zoe@example.com"]
    later = T2 + timedelta(days=32)  # T1 is a microsecond too old now
    assert emails(list_people(session, rule=rule, now=later)) == ["carol@example.org"]


def test_people_fields_include_custom_fields(session: Session) -> None:
    session.add_all([CustomField(name="Lever ID"), CustomField(name="Cost centre", type="number")])
    session.flush()
    fields = people_fields(session)
    assert list(fields)[: len(PEOPLE_COLUMNS)] == list(PEOPLE_COLUMNS)
    assert fields["custom.Cost centre"].type == "string"
    assert fields["last_synced_at"].type == "datetime"
    with pytest.raises(RuleError, match=r"unknown field 'custom\.Other'"):
        parse_rule({"field": "custom.Other", "op": "is_empty"}, fields)


def test_a_rule_naming_an_unknown_column_is_refused(session: Session) -> None:
    rule = parse_rule({"field": "person_email", "op": "is_empty"})
    with pytest.raises(RuleError, match="unknown field 'person_email'"):
        list_people(session, rule=rule, now=NOW)


# --- sorting -----------------------------------------------------------------------------------


def expected_order(session: Session, sort: str, descending: bool) -> list[str]:
    """The order the list promises, computed in Python: nulls last, text by folded value, id."""
    rows = list(session.scalars(Person.__table__.select().with_only_columns(Person.id)))
    by_id = {p.id: p for p in session.query(Person).filter(Person.id.in_(rows))}

    def key(p: Person) -> Any:
        value = p.email_key if sort == "email" else getattr(p, sort)
        return value.lower() if isinstance(value, str) else value

    present = sorted(
        (p for p in by_id.values() if key(p) is not None),
        key=lambda p: (key(p), p.id),
        reverse=descending,
    )
    absent = sorted(
        (p for p in by_id.values() if key(p) is None), key=lambda p: p.id, reverse=descending
    )
    return [p.email for p in present + absent]


SORTS = [
    (sort, descending)
    for sort in (
        "email",
        "role",
        "job_title",
        "last_synced_at",
        "full_name",
        "created_at",
        "start_date",
    )
    for descending in (False, True)
]


@pytest.mark.parametrize(("sort", "descending"), SORTS)
def test_sort(session: Session, many_people: list[str], sort: str, descending: bool) -> None:
    page = list_people(session, sort=sort, descending=descending, limit=1000, now=NOW)
    assert emails(page) == expected_order(session, sort, descending)


def test_nulls_sort_last_both_ways(session: Session, people: dict[str, Person]) -> None:
    up = list_people(session, sort="job_title", now=NOW).items
    down = list_people(session, sort="job_title", descending=True, now=NOW).items
    assert [p["job_title"] for p in up] == ["CTO", "Engineer", "engineer", "Engineer", None, None]
    assert [p["job_title"] for p in down] == ["Engineer", "engineer", "Engineer", "CTO", None, None]


def test_unknown_sort_column(session: Session) -> None:
    with pytest.raises(ConfigError) as caught:
        list_people(session, sort="id", now=NOW)
    assert str(caught.value).startswith("cannot sort by 'id' (use one of username, email, ")


@pytest.mark.parametrize("limit", [0, -1, 1001, True])
def test_limit_is_checked(session: Session, limit: int) -> None:
    with pytest.raises(ConfigError, match="limit must be"):
        list_people(session, limit=limit, now=NOW)


# --- keyset pagination -------------------------------------------------------------------------


def walk(session: Session, limit: int, **options: Any) -> list[list[str]]:
    """Every page of a people list, following the cursors."""
    pages, after = [], None
    while True:
        page = list_people(session, after=after, limit=limit, now=NOW, **options)
        pages.append(emails(page))
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


@pytest.mark.parametrize(("sort", "descending"), SORTS)
@pytest.mark.parametrize("limit", [1, 4, 31])
def test_pages_visit_every_row_once(
    session: Session, many_people: list[str], sort: str, descending: bool, limit: int
) -> None:
    pages = walk(session, limit, sort=sort, descending=descending)
    flat = [email for page in pages for email in page]
    assert flat == expected_order(session, sort, descending)
    assert sorted(flat) == sorted(many_people)
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit


def test_the_last_page_has_no_cursor(session: Session, people: dict[str, Person]) -> None:
    assert list_people(session, limit=6, now=NOW).next_cursor is None
    assert list_people(session, limit=5, now=NOW).next_cursor is not None


def test_pages_follow_a_filter(session: Session, many_people: list[str]) -> None:
    rule = parse_rule({"field": "role", "op": "eq", "value": "admin"})
    pages = walk(session, 2, q="example", rule=rule, sort="last_synced_at")
    flat = [email for page in pages for email in page]
    whole = list_people(session, q="example", rule=rule, sort="last_synced_at", limit=1000, now=NOW)
    assert flat == emails(whole)
    assert len(flat) == 13


def test_cursor_is_opaque_urlsafe_text(session: Session, many_people: list[str]) -> None:
    cursor = list_people(session, sort="last_synced_at", limit=1, now=NOW).next_cursor
    assert cursor is not None
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("email", "!!!"),
        ("email", "a"),
        ("email", base64.urlsafe_b64encode(b"\xff\xfe").decode()),
        ("email", encode("not a list")),
        ("email", encode({"a": 1, "b": 2})),
        ("email", encode(["x"])),
        ("email", encode(["x", 1, 2])),
        ("email", encode(["x", "1"])),
        ("email", encode(["x", True])),
        ("email", encode([5, 1])),
        ("last_synced_at", encode(["yesterday", 1])),
        ("last_synced_at", encode(["2024-01-01T00:00:00", 1])),
        ("last_synced_at", encode([5, 1])),
        ("start_date", encode(["2024-07-01T00:00:00", 1])),
        ("start_date", encode(["July", 1])),
        ("start_date", encode([20240701, 1])),
    ],
)
def test_bad_cursor(session: Session, people: dict[str, Person], sort: str, cursor: str) -> None:
    with pytest.raises(ConfigError) as caught:
        list_people(session, sort=sort, after=cursor, now=NOW)
    assert str(caught.value) == BAD_CURSOR


# --- hires: pre-start people, start dates, managers ---------------------------------------------

PRE_START = ["hana", "ivo", "jan", "kim", "lee", "max"]


def names(page_or_items: Any) -> list[str]:
    """The part before the @ of each email, which is enough to tell the hires apart."""
    return [email.split("@")[0] for email in emails(page_or_items)]


def filtered(session: Session, *filters: str, **options: Any) -> list[str]:
    """The names of the people the `field:op:value` filters keep, as the list pages read them."""
    rule = parse_filters(filters, people_fields(session))
    return names(list_people(session, rule=rule, limit=1000, now=NOW, **options))


def test_hire_fields_and_the_managers_email_are_in_the_shape(
    session: Session, hires: dict[str, Person]
) -> None:
    [hana] = list_people(session, q="hana", now=NOW).items
    assert list(hana) == PERSON_KEYS
    assert {k: hana[k] for k in PERSON_KEYS[-6:]} == {
        "last_synced_at": None,
        "start_date": "2024-07-01",
        "department": "Engineering",
        "location": "Berlin",
        "personal_email": "hana@home.example",
        "manager_email": "mia@corp.example",
    }
    [mia] = list_people(session, q="mia", now=NOW).items
    assert (mia["start_date"], mia["manager_email"]) == (None, None)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["status:eq:pre_start"], PRE_START),
        (["status:eq:PRE_START"], PRE_START),
        (["status:eq:cancelled"], ["nia"]),
        (["status:in:pre_start,cancelled"], [*PRE_START, "nia"]),
    ],
)
def test_people_are_filtered_by_status(
    session: Session, hires: dict[str, Person], filters: list[str], expected: list[str]
) -> None:
    assert filtered(session, *filters) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["start_date:eq:2024-07-01"], ["hana"]),  # on a day
        (["start_date:gt:2024-07-06"], ["jan", "kim"]),  # after it
        (["start_date:lt:2024-07-01"], ["lee"]),  # before it
        (["start_date:gt:2024-07-01", "start_date:lt:2024-07-31"], ["ivo", "jan", "nia", "oli"]),
        (["start_date:in:2024-07-01,2024-07-31"], ["hana", "kim"]),
        (["start_date:ne:2024-07-01", "status:eq:pre_start"], ["ivo", "jan", "kim", "lee", "max"]),
        (["start_date:is_empty:", "status:ne:active"], ["max"]),
    ],
)
def test_people_are_filtered_by_start_date(
    session: Session, hires: dict[str, Person], filters: list[str], expected: list[str]
) -> None:
    assert filtered(session, *filters) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start_date:eq:July", "'eq' needs a date as YYYY-MM-DD, got 'July'"),
        ("start_date:gt:2024-07-01T10:00:00", "'gt' needs a date as YYYY-MM-DD"),
        ("start_date:older_than_days:3", "'older_than_days' cannot test 'start_date'"),
    ],
)
def test_a_start_date_filter_needs_a_day(session: Session, text: str, message: str) -> None:
    with pytest.raises(RuleError, match=re.escape(message)):
        parse_filters([text], people_fields(session))


@pytest.mark.parametrize(
    ("descending", "expected"),
    [
        (False, ["lee", "hana", "ivo", "jan", "kim", "max"]),
        (True, ["kim", "jan", "ivo", "hana", "lee", "max"]),  # the undated last, either way
    ],
)
@pytest.mark.parametrize("limit", [1, 2, 4, 5])
def test_pre_start_people_page_by_start_date_with_the_undated_last(
    session: Session, hires: dict[str, Person], descending: bool, expected: list[str], limit: int
) -> None:
    rule = parse_filters(["status:eq:pre_start"], people_fields(session))
    pages = walk(session, limit, rule=rule, sort="start_date", descending=descending)
    assert [[email.split("@")[0] for email in page] for page in pages] == [
        expected[i : i + limit] for i in range(0, len(expected), limit)
    ]


def test_people_are_filtered_and_sorted_by_their_managers_email(
    session: Session, hires: dict[str, Person]
) -> None:
    assert filtered(session, "manager_email:eq:MIA@corp.example") == ["hana", "ivo", "kim", "nia"]
    by_manager = filtered(session, "status:eq:pre_start", sort="manager_email")
    assert by_manager == ["hana", "ivo", "kim", "jan", "lee", "max"]  # ties and no manager: by id
    backwards = filtered(session, "status:eq:pre_start", sort="manager_email", descending=True)
    assert backwards == ["kim", "ivo", "hana", "max", "lee", "jan"]  # no manager still last


def test_a_manager_who_is_gone_leaves_no_email(session: Session, hires: dict[str, Person]) -> None:
    hires["jan@corp.example"].manager_id = hires["max@corp.example"].id + 1000
    session.flush()
    [jan] = list_people(session, q="jan", now=NOW).items
    assert jan["manager_email"] is None
    ivo = hires["ivo@corp.example"]
    assert queries.person_detail(session, ivo.id)["manager_email"] == "mia@corp.example"
    assert queries.manager_email_of(session, hires["jan@corp.example"]) is None


# --- export streams ----------------------------------------------------------------------------


def selects(statements: list[str]) -> list[str]:
    """The SELECT statements among those run."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_iter_people_streams_every_row_in_batches(
    session: Session, many_people: list[str], statements: list[str]
) -> None:
    statements.clear()
    stream = iter_people(session, sort="role", descending=True, now=NOW, batch=10)
    assert selects(statements) == []  # nothing is read before it is asked for
    first = [next(stream) for _ in range(10)]
    assert len(selects(statements)) == 1
    rest = list(stream)
    # 31 rows: batches of 10, 10, 10 and 1, and one more read where the people with a role give
    # way to those without one (each part is read in its own index order)
    assert len(selects(statements)) == 5
    later = selects(statements)[1:]  # each starts at a cursor, or at the first null role
    assert all(re.search(r"people\.id\)? <", s) or "role) IS NULL" in s for s in later)
    assert emails(first + rest) == expected_order(session, "role", True)


def test_iter_people_filters_like_list_people(session: Session, many_people: list[str]) -> None:
    rule = parse_rule({"field": "role", "op": "is_empty"})
    streamed = emails(list(iter_people(session, q="user", rule=rule, now=NOW, batch=3)))
    assert streamed == emails(list_people(session, q="user", rule=rule, limit=1000, now=NOW))
    assert len(streamed) == 10


def test_iter_people_of_nothing(session: Session) -> None:
    assert list(iter_people(session, now=NOW)) == []


def test_iter_batch_is_checked(session: Session) -> None:
    with pytest.raises(ConfigError, match="limit must be a whole number of at least 1"):
        iter_people(session, now=NOW, batch=0)


# --- SaaS users --------------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["Lever", "lever", "LEVER"])
def test_saas_users_of_one_app(session: Session, saas: dict[str, SaasApp], app: str) -> None:
    page = list_saas_users(session, app=app, now=NOW)
    assert [u["external_id"] for u in page.items] == ["l-2", "l-3", "l-1", "l-4"]
    assert {u["app"] for u in page.items} == {"Lever"}


@pytest.mark.parametrize("app", [None, ""])
def test_saas_users_of_every_app(
    session: Session, saas: dict[str, SaasApp], app: str | None
) -> None:
    page = list_saas_users(session, app=app, now=NOW)
    assert [u["external_id"] for u in page.items] == ["l-2", "l-3", "l-1", "o-1", "l-4"]


def test_unknown_app_is_an_empty_page(session: Session, saas: dict[str, SaasApp]) -> None:
    page = list_saas_users(session, app="Workday", now=NOW)
    assert (page.items, page.next_cursor) == ([], None)


def test_person_email_comes_from_one_joined_query(
    session: Session, saas: dict[str, SaasApp], statements: list[str]
) -> None:
    session.expire_all()
    statements.clear()
    page = list_saas_users(session, app="Lever", now=NOW)
    assert {u["external_id"]: u["person_email"] for u in page.items} == {
        "l-1": "zoe@example.com",
        "l-2": "ada@example.com",
        "l-3": None,
        "l-4": None,
    }
    # the users with an email, then the one without; both joined, never a query per row
    assert len(selects(statements)) == 2
    assert all("LEFT OUTER JOIN people" in s for s in selects(statements))


def test_saas_users_sort_by_person_email_nulls_last(
    session: Session, saas: dict[str, SaasApp]
) -> None:
    options: dict[str, Any] = {"sort": "person_email", "descending": True, "now": NOW}
    page = list_saas_users(session, limit=2, **options)
    rest = list_saas_users(session, after=page.next_cursor, **options)
    found = [u["external_id"] for u in page.items + rest.items]
    assert found == ["o-1", "l-1", "l-2", "l-4", "l-3"]  # the nulls, by id descending


@pytest.mark.parametrize(
    ("q", "expected"),
    [("zoë", ["l-1"]), ("ghost", ["l-3"]), ("ADA@", ["l-2"]), ("o", ["l-2", "l-3", "l-1"])],
)
def test_saas_users_search(
    session: Session, saas: dict[str, SaasApp], q: str, expected: list[str]
) -> None:
    page = list_saas_users(session, app="lever", q=q, now=NOW)
    assert [u["external_id"] for u in page.items] == expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"field": "person_email", "op": "is_empty"}, ["l-3", "l-4"]),
        ({"field": "role", "op": "eq", "value": "interviewer"}, ["l-2", "l-3", "l-4"]),
        ({"field": "last_login_at", "op": "older_than_days", "value": 7}, ["l-1"]),
        ({"not": {"field": "app", "op": "eq", "value": "other"}}, ["l-2", "l-3", "l-1", "l-4"]),
    ],
)
def test_saas_users_filter_by_rule(
    session: Session, saas: dict[str, SaasApp], doc: Any, expected: list[str]
) -> None:
    rule = parse_rule(doc, queries.SAAS_USER_FIELDS)
    page = list_saas_users(session, app="Lever", rule=rule, now=NOW)
    assert [u["external_id"] for u in page.items] == expected


def test_saas_users_refuse_custom_fields(session: Session) -> None:
    rule = parse_rule({"field": "custom.Team", "op": "is_empty"})
    with pytest.raises(RuleError, match="custom fields cannot be tested here"):
        list_saas_users(session, rule=rule, now=NOW)


def test_iter_saas_users(session: Session, saas: dict[str, SaasApp]) -> None:
    streamed = list(iter_saas_users(session, app="Lever", sort="name", now=NOW, batch=1))
    assert [u["name"] for u in streamed] == ["Ada Lovelace", "Ghost User", "Zoë Ørsted", None]


def test_saas_user_columns() -> None:
    assert list(SAAS_USER_COLUMNS) == [k for k in SAAS_USER_KEYS]


# --- portability -------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["email", "role", "last_synced_at"])
def test_keyset_statements_compile_for_postgresql(session: Session, sort: str) -> None:
    source = queries._PEOPLE
    query = queries._query(session, source, None, None, sort, True, NOW)
    cursor = ("x", 3) if sort != "last_synced_at" else (T1, 3)
    keyed = str(queries._keyed(source, query, cursor).compile(dialect=postgresql.dialect()))
    keyless = str(queries._keyless(source, query, 3).compile(dialect=postgresql.dialect()))
    assert "OFFSET" not in keyed + keyless
    assert ") < (" in keyed  # a row-value cursor an index can seek to
    assert ("IS NOT NULL" in keyed) == (sort != "email")
    assert "IS NULL" in keyless and "people.id <" in keyless


def test_exported_names_exist() -> None:
    assert all(hasattr(queries, name) for name in queries.__all__)
