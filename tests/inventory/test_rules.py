"""The rule engine: parsing and its errors, every operator in Python, and SQL that agrees."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql

from inventory.errors import ConfigError, RuleError
from inventory.rules import (
    OPERATORS,
    AllOf,
    AnyOf,
    Condition,
    FieldSpec,
    Not,
    Rule,
    compile_rule,
    evaluate,
    parse_rule,
    specs_from_columns,
    to_doc,
)
from inventory.types import UTCDateTime

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
BOUNDARY = NOW - timedelta(days=30)
MICRO = timedelta(microseconds=1)

FIELDS = {
    "status": FieldSpec("status"),
    "role": FieldSpec("role"),
    "created_at": FieldSpec("created_at", "datetime"),
    "score": FieldSpec("score", "number"),
    "active": FieldSpec("active", "bool"),
    "custom.Team": FieldSpec("custom.Team"),
}


def leaf(field: str, op: str, *value: Any) -> dict[str, Any]:
    """A condition document; the value is left out when none is given."""
    return {"field": field, "op": op, **({"value": value[0]} if value else {})}


def check(doc: Any, record: dict[str, Any]) -> bool:
    """Parse and evaluate a document on a record at NOW."""
    return evaluate(parse_rule(doc), record, NOW)


# --- parsing -----------------------------------------------------------------------------------


def test_parse_builds_the_tree() -> None:
    doc = {
        "all": [
            leaf("status", "eq", "active"),
            {"not": leaf("role", "in", ["admin", None])},
            {"any": [leaf("created_at", "gt", "2024-01-01T00:00:00Z"), leaf("role", "is_empty")]},
        ]
    }
    assert parse_rule(doc, FIELDS) == AllOf(
        (
            Condition("status", "eq", "active"),
            Not(Condition("role", "in", ("admin", None))),
            AnyOf(
                (
                    Condition("created_at", "gt", datetime(2024, 1, 1, tzinfo=UTC)),
                    Condition("role", "is_empty"),
                )
            ),
        )
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"all": []},
        {"any": [leaf("role", "in", ["a", 1, True, None]), leaf("score", "lt", 2.5)]},
        {"not": leaf("created_at", "lt", "2024-05-01T10:00:00.000Z")},
        leaf("created_at", "gt", "2024-05-01T10:00:00.123456+00:00"),
        leaf("created_at", "older_than_days", 30),
        leaf("custom.Lever ID", "is_not_empty"),
    ],
)
def test_to_doc_round_trips(doc: Any) -> None:
    assert to_doc(parse_rule(doc)) == doc


def test_datetime_values_are_read_as_utc() -> None:
    naive = parse_rule(leaf("created_at", "gt", "2024-05-01T10:00:00"))
    offset = parse_rule(leaf("created_at", "gt", "2024-05-01T12:00:00+02:00"))
    assert naive == offset == Condition("created_at", "gt", datetime(2024, 5, 1, 10, tzinfo=UTC))


def deeply_nested(depth: int) -> dict[str, Any]:
    """A chain of `not` nodes `depth` deep."""
    doc: dict[str, Any] = leaf("status", "is_empty")
    for _ in range(depth):
        doc = {"not": doc}
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"all": [leaf("status", "eq", "a"), leaf("status", "equals", "a")]},
            "rule all[1].op: unknown operator 'equals' (use one of eq, ne, in, not_in,",
        ),
        ({"field": "status", "value": 1}, "rule op: missing (use one of eq,"),
        ({"op": "eq", "value": 1}, "rule field: missing (name the field to test)"),
        ({"field": 5, "op": "eq", "value": 1}, "rule field: missing"),
        (leaf("status", "eq"), "rule value: missing ('eq' needs a value)"),
        (leaf("status", "in", "admin"), "rule value: 'in' needs a list of values, got 'admin'"),
        (leaf("status", "not_in", ["a", {}]), "rule value[1]: 'not_in' needs text, a number"),
        (leaf("status", "eq", ["a"]), "rule value: 'eq' needs text, a number, true/false or null"),
        (leaf("status", "contains", 5), "rule value: 'contains' needs text, got 5"),
        (leaf("status", "starts_with", None), "rule value: 'starts_with' needs text"),
        (leaf("status", "is_empty", "x"), "rule value: 'is_empty' takes no value"),
        (leaf("created_at", "gt", "yesterday"), "'gt' needs a number or an ISO-8601 datetime"),
        (leaf("created_at", "lt", True), "'lt' needs a number or an ISO-8601 datetime"),
        (leaf("created_at", "older_than_days", -1), "needs a whole number of days from 0 to"),
        (leaf("created_at", "older_than_days", 1.5), "needs a whole number of days"),
        (leaf("created_at", "newer_than_days", True), "needs a whole number of days"),
        (leaf("created_at", "newer_than_days", "30"), "needs a whole number of days"),
        (leaf("created_at", "newer_than_days", 10**9), "needs a whole number of days"),
        (leaf("status", "eq", "a") | {"values": []}, "rule: unexpected key 'values'"),
        ([], "rule: expected an object with all, any, not, or field and op"),
        ({"all": {}}, "rule all: expected a list of conditions"),
        ({"any": [{"all": "x"}]}, "rule any[0].all: expected a list of conditions"),
        ({"not": 5}, "rule not: expected an object"),
        ({"all": [], "any": []}, "rule: expected exactly one of all, any or not, got all, any"),
        ({"not": leaf("x", "eq", 1), "field": "x"}, "expected exactly one of all, any or not"),
        (deeply_nested(40), "nested deeper than 32 levels"),
        (leaf("custom.Team", "gt", 5), "rule op: 'gt' cannot test 'custom.Team', which holds text"),
        (leaf("custom.Team", "eq", 5), "rule value: 'custom.Team' holds text, so 'eq' needs text"),
        (leaf("custom.", "eq", "x"), "rule field: a custom field needs a name without quotes"),
        (leaf('custom.a"b', "eq", "x"), "rule field: a custom field needs a name without quotes"),
    ],
)
def test_parse_errors_name_the_path(doc: Any, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(doc)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (leaf("nope", "eq", 1), "rule field: unknown field 'nope' (use one of status, role,"),
        (leaf("custom.Other", "eq", "x"), "unknown field 'custom.Other'"),
        (leaf("status", "gt", 5), "rule op: 'gt' cannot test 'status', which holds text"),
        (leaf("status", "eq", 5), "rule value: 'status' holds text, so 'eq' needs text too"),
        (leaf("status", "in", ["a", 5]), "'status' holds text, so 'in' needs text too"),
        (leaf("created_at", "eq", "2024-01-01"), "compare datetimes with gt, lt or the *_days"),
        (leaf("created_at", "in", []), "'in' cannot test 'created_at', which holds a datetime"),
        (leaf("created_at", "contains", "2024"), "'contains' cannot test 'created_at'"),
        (leaf("created_at", "gt", 5), "'created_at' holds a datetime, so 'gt' needs a datetime"),
        (leaf("score", "gt", "2024-01-01"), "'score' holds a number, so 'gt' needs a number too"),
        (leaf("score", "eq", True), "'score' holds a number, so 'eq' needs a number too"),
        (leaf("score", "older_than_days", 1), "'older_than_days' cannot test 'score'"),
        (leaf("active", "eq", 1), "'active' holds true or false, so 'eq' needs true or false"),
        (leaf("active", "gt", 1), "'gt' cannot test 'active', which holds true or false"),
    ],
)
def test_parse_with_fields_checks_names_and_types(doc: Any, message: str) -> None:
    with pytest.raises(RuleError, match=None) as caught:
        parse_rule({"any": [doc]}, FIELDS)
    assert message.removeprefix("rule ") in str(caught.value)
    assert str(caught.value).startswith("rule any[0].")


@pytest.mark.parametrize(
    "doc",
    [
        leaf("created_at", "eq", None),
        leaf("created_at", "ne", None),
        leaf("score", "in", [1, 2.5, None]),
        leaf("active", "eq", False),
        leaf("custom.Team", "contains", "core"),
    ],
)
def test_parse_with_fields_accepts_what_the_type_allows(doc: Any) -> None:
    parse_rule(doc, FIELDS)


def test_rule_errors_are_configuration_errors() -> None:
    with pytest.raises(ConfigError):
        parse_rule({"field": "x"})


def test_field_spec_refuses_an_unknown_type() -> None:
    with pytest.raises(ValueError, match="field type must be one of string, datetime"):
        FieldSpec("x", "text")


# --- every operator, in Python -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "record", "expected"),
    [
        (leaf("role", "eq", "admin"), {"role": "ADMIN"}, True),
        (leaf("role", "eq", "Zoë"), {"role": "zoë"}, True),
        (leaf("role", "eq", "zoë"), {"role": "ZOË"}, False),  # only ASCII letters fold
        (leaf("role", "eq", "admin"), {"role": "admin "}, False),
        (leaf("role", "eq", "admin"), {"role": None}, False),
        (leaf("role", "eq", "admin"), {}, False),
        (leaf("role", "eq", None), {"role": None}, True),
        (leaf("role", "eq", None), {}, True),
        (leaf("role", "eq", None), {"role": ""}, False),
        (leaf("role", "eq", ""), {"role": ""}, True),
        (leaf("role", "eq", "1"), {"role": 1}, False),
        (leaf("score", "eq", 1), {"score": 1.0}, True),
        (leaf("score", "eq", 1), {"score": True}, False),
        (leaf("active", "eq", True), {"active": True}, True),
        (leaf("active", "eq", True), {"active": 1}, False),
        (leaf("role", "ne", "admin"), {"role": "Admin"}, False),
        (leaf("role", "ne", "admin"), {"role": "user"}, True),
        (leaf("role", "ne", "admin"), {"role": None}, True),
        (leaf("role", "ne", None), {"role": None}, False),
        (leaf("role", "ne", None), {"role": ""}, True),
        (leaf("role", "in", ["Admin", "user"]), {"role": "USER"}, True),
        (leaf("role", "in", ["admin"]), {"role": None}, False),
        (leaf("role", "in", ["admin", None]), {"role": None}, True),
        (leaf("role", "in", []), {"role": "admin"}, False),
        (leaf("role", "not_in", ["admin"]), {"role": None}, True),
        (leaf("role", "not_in", ["admin"]), {"role": "ADMIN"}, False),
        (leaf("role", "not_in", ["admin", None]), {"role": None}, False),
        (leaf("role", "not_in", []), {"role": None}, True),
        (leaf("name", "contains", "LOVE"), {"name": "Ada Lovelace"}, True),
        (leaf("name", "contains", "ë"), {"name": "Zoë"}, True),
        (leaf("name", "contains", "%"), {"name": "100% real"}, True),
        (leaf("name", "contains", "%"), {"name": "100 real"}, False),
        (leaf("name", "contains", "_"), {"name": "a-b"}, False),
        (leaf("name", "contains", ""), {"name": ""}, True),
        (leaf("name", "contains", ""), {"name": None}, False),
        (leaf("name", "contains", "1"), {"name": 100}, False),
        (leaf("email", "starts_with", "ADA@"), {"email": "ada@example.com"}, True),
        (leaf("email", "starts_with", "da@"), {"email": "ada@example.com"}, False),
        (leaf("email", "starts_with", "x"), {"email": None}, False),
        (leaf("email", "ends_with", "@EXAMPLE.com"), {"email": "ada@example.com"}, True),
        (leaf("email", "ends_with", "example"), {"email": "ada@example.com"}, False),
        (leaf("role", "is_empty"), {"role": None}, True),
        (leaf("role", "is_empty"), {}, True),
        (leaf("role", "is_empty"), {"role": ""}, True),
        (leaf("role", "is_empty"), {"role": " "}, False),
        (leaf("score", "is_empty"), {"score": 0}, False),
        (leaf("role", "is_not_empty"), {"role": ""}, False),
        (leaf("role", "is_not_empty"), {"role": "a"}, True),
        (leaf("score", "gt", 2), {"score": 2.5}, True),
        (leaf("score", "gt", 2), {"score": 2}, False),
        (leaf("score", "gt", 2), {"score": None}, False),
        (leaf("score", "gt", 2), {"score": "3"}, False),
        (leaf("score", "lt", 2), {"score": -1}, True),
        (leaf("score", "lt", 2), {"score": None}, False),
        (leaf("seen", "gt", "2024-05-02T12:00:00Z"), {"seen": BOUNDARY + MICRO}, True),
        (leaf("seen", "gt", "2024-05-02T12:00:00Z"), {"seen": BOUNDARY}, False),
        (leaf("seen", "lt", "2024-05-02T12:00:00Z"), {"seen": BOUNDARY - MICRO}, True),
        (leaf("seen", "lt", "2024-05-02T12:00:00Z"), {"seen": BOUNDARY}, False),
        (leaf("seen", "lt", "2024-05-02T12:00:00Z"), {"seen": None}, False),
        (leaf("seen", "lt", "2024-05-02T12:00:00Z"), {"seen": "2024-05-01T00:00:00.000Z"}, True),
        (leaf("seen", "lt", "2024-05-02T12:00:00Z"), {"seen": "not a date"}, False),
        (leaf("seen", "lt", "2024-05-02T12:00:00Z"), {"seen": 1714608000000}, False),
        (leaf("seen", "lt", "2024-05-02T12:00:00Z"), {"seen": datetime(2024, 5, 1)}, True),
        (leaf("seen", "older_than_days", 30), {"seen": BOUNDARY - MICRO}, True),
        (leaf("seen", "older_than_days", 30), {"seen": BOUNDARY}, False),
        (leaf("seen", "older_than_days", 30), {"seen": None}, False),
        (leaf("seen", "older_than_days", 0), {"seen": NOW - MICRO}, True),
        (leaf("seen", "newer_than_days", 30), {"seen": BOUNDARY}, True),
        (leaf("seen", "newer_than_days", 30), {"seen": BOUNDARY - MICRO}, False),
        (leaf("seen", "newer_than_days", 30), {"seen": NOW + timedelta(days=9)}, True),
        (leaf("seen", "newer_than_days", 30), {"seen": None}, False),
        (leaf("seen", "newer_than_days", 30), {"seen": "2024-05-02T12:00:00.000Z"}, True),
    ],
)
def test_operator(doc: Any, record: dict[str, Any], expected: bool) -> None:
    assert check(doc, record) is expected


def test_now_is_a_parameter() -> None:
    rule = parse_rule(leaf("seen", "older_than_days", 1))
    record = {"seen": datetime(2024, 1, 1, tzinfo=UTC)}
    assert not evaluate(rule, record, datetime(2024, 1, 2, tzinfo=UTC))
    assert evaluate(rule, record, datetime(2024, 1, 2, 0, 0, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"all": []}, True),
        ({"any": []}, False),
        ({"not": {"all": []}}, False),
        ({"not": {"any": []}}, True),
        ({"all": [leaf("role", "eq", "admin"), leaf("status", "eq", "active")]}, True),
        ({"all": [leaf("role", "eq", "admin"), leaf("status", "eq", "gone")]}, False),
        ({"any": [leaf("role", "eq", "user"), leaf("status", "eq", "ACTIVE")]}, True),
        ({"any": [leaf("role", "eq", "user"), leaf("status", "eq", "gone")]}, False),
        ({"not": leaf("role", "eq", "admin")}, False),
        ({"not": {"not": leaf("role", "eq", "admin")}}, True),
        ({"not": leaf("team", "eq", "x")}, True),
        (
            {
                "all": [
                    {"any": [leaf("role", "eq", "user"), {"not": leaf("status", "eq", "gone")}]},
                    {"not": {"any": [leaf("role", "is_empty"), leaf("status", "in", [])]}},
                ]
            },
            True,
        ),
    ],
)
def test_nesting(doc: Any, expected: bool) -> None:
    assert check(doc, {"role": "Admin", "status": "active", "team": None}) is expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (leaf("custom.Lever ID", "eq", "ABC-1"), True),
        (leaf("custom.Team", "eq", None), True),
        (leaf("custom.Team", "is_empty"), True),
        (leaf("custom.Missing", "is_empty"), True),
        (leaf("custom.Missing", "ne", "x"), True),
        (leaf("custom.Lever ID", "starts_with", "abc"), True),
        (leaf("custom.Lever ID", "in", ["x", "abc-1"]), True),
        (leaf("custom.Lever ID", "contains", "z"), False),
    ],
)
def test_custom_fields_are_read_from_custom(doc: Any, expected: bool) -> None:
    assert check(doc, {"custom": {"Lever ID": "abc-1", "Team": None}}) is expected


def test_custom_fields_of_a_record_without_custom_are_null() -> None:
    assert check(leaf("custom.Team", "is_empty"), {"custom": None})
    assert check(leaf("custom.Team", "eq", None), {})


# --- compiling to SQL --------------------------------------------------------------------------

metadata = MetaData()
rows_table = Table(
    "rule_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=True),
    Column("email", String(200), nullable=True),
    Column("role", String(200), nullable=True),
    Column("seen_at", UTCDateTime(), nullable=True),
    Column("score", Float, nullable=True),
    Column("active", Boolean, nullable=True),
    Column("custom", JSON, nullable=True),
)
COLUMNS = {name: rows_table.c[name] for name in ("name", "email", "role", "seen_at", "score")}
COLUMNS["active"] = rows_table.c.active
T = ("name", "email", "role", "seen_at", "score", "active", "custom")
ROWS: list[dict[str, Any]] = [
    dict(zip(("id", *T), values, strict=True))
    for values in [
        (1, "Zoë Ørsted", "Zoe@Example.com", "Admin", BOUNDARY, 1.5, True, {"Team": "Core"}),
        (2, "ZOË", "zoë@example.com", "ADMIN", BOUNDARY - MICRO, 10, False, {"Team": "ZOË"}),
        (3, "zoe", "ZOE@EXAMPLE.COM", "admin ", BOUNDARY + MICRO, 0, None, {"Team": ""}),
        (4, None, None, None, None, None, None, {}),
        (5, "", "", "", NOW, -2, True, {"Team": None, "Lever ID": ""}),
        (6, "100% real", "a%b@example.com", "interviewer", NOW + timedelta(days=1), 10.0, False,
         None),
        (7, "under_score", "x_y@example.com", "Interviewer", NOW - timedelta(days=365), 3, True,
         {"Team": "a%b"}),
        (8, "x/y path", "slash/ok@example.com", "super admin", NOW - timedelta(days=366), 1.5,
         None, {"Team": "x_y", "Lever ID": "ABC-1"}),
        (9, "Ada Lovelace", "ada@EXAMPLE.com", "Admin", BOUNDARY - timedelta(days=1), None, True,
         {"Lever ID": "zoë"}),
        (10, "Ëmile Zoë", "emile@example.com", "ëditor", NOW - timedelta(days=1), 7, False,
         {"Team": "Ëditors", "Lever ID": "abc-1"}),
    ]
]  # fmt: skip

TEXT_FIELDS = ("name", "email", "role", "custom.Team", "custom.Lever ID")
TEXTS: tuple[str, ...] = ("zoë", "ZOË", "Zoë", "zoe", "admin", "ADMIN", "", "a%b", "x_y")
TEXTS += ("%", "_", "/", "Ë", "ë", "abc-1", "@example.com", "example", "x/y", "ad")
TEXT_LISTS: tuple[list[str | None], ...] = (
    ["admin", "zoë"],
    [None, "Admin"],
    [],
    ["ZOË", "interviewer", "x_y"],
)
MOMENTS = (BOUNDARY.isoformat(), "2024-05-02T12:00:00.000001Z", "2024-05-02", "2024-05-31T12:00")
DAYS = (0, 1, 29, 30, 365, 366, 100_000)


def leaves() -> Iterator[dict[str, Any]]:
    """A condition for every operator over every kind of field, with awkward values."""
    for field in TEXT_FIELDS:
        yield from (leaf(field, op, v) for op in ("eq", "ne") for v in (*TEXTS, None))
        yield from (leaf(field, op, v) for op in ("in", "not_in") for v in TEXT_LISTS)
        for op in ("contains", "starts_with", "ends_with"):
            yield from (leaf(field, op, v) for v in TEXTS)
    for field in (*TEXT_FIELDS, "seen_at", "score", "active"):
        yield from (leaf(field, "is_empty"), leaf(field, "is_not_empty"))
        yield from (leaf(field, "eq", None), leaf(field, "ne", None))
    yield from (leaf("seen_at", op, v) for op in ("gt", "lt") for v in MOMENTS)
    yield from (
        leaf("seen_at", op, d) for op in ("older_than_days", "newer_than_days") for d in DAYS
    )
    yield from (leaf("score", op, v) for op in ("eq", "ne", "gt", "lt") for v in (0, 1.5, 10, -2))
    yield from (leaf("score", op, v) for op in ("in", "not_in") for v in ([10, 1.5], [None, 0]))
    yield from (leaf("active", op, v) for op in ("eq", "ne") for v in (True, False))
    yield from (leaf("active", op, v) for op in ("in", "not_in") for v in ([True, None], [False]))


def combinations(docs: list[dict[str, Any]]) -> Iterator[Any]:
    """Groups and negations over random leaves, and the empty groups."""
    pick = random.Random(20240601).choice
    yield from ({"all": []}, {"any": []}, {"not": {"all": []}}, {"not": {"any": []}})
    for _ in range(150):
        a, b, c = pick(docs), pick(docs), pick(docs)
        yield {"all": [a, {"not": b}]}
        yield {"any": [a, {"all": [b, c]}]}
        yield {"not": {"any": [{"not": a}, b, c]}}


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection to a table holding ROWS."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(rows_table), ROWS)
        yield connection


def selected_by_sql(conn: Connection, rule: Rule) -> set[int]:
    """The ids the compiled rule selects."""
    where = compile_rule(rule, COLUMNS, NOW, json_column=rows_table.c.custom)
    return set(conn.scalars(select(rows_table.c.id).where(where)))


def selected_by_python(rule: Rule) -> set[int]:
    """The ids evaluate() accepts."""
    return {int(row["id"]) for row in ROWS if evaluate(rule, row, NOW)}


def test_every_operator_is_exercised() -> None:
    assert {doc["op"] for doc in leaves()} == set(OPERATORS)


def test_python_and_sql_agree(conn: Connection) -> None:
    docs = list(leaves())
    rules = [parse_rule(doc) for doc in docs]
    rules += [Not(rule) for rule in rules]
    rules += [parse_rule(doc) for doc in combinations(docs)]
    disagreements = [
        (to_doc(rule), sorted(python), sorted(sql))
        for rule in rules
        if (python := selected_by_python(rule)) != (sql := selected_by_sql(conn, rule))
    ]
    assert disagreements == []


def test_the_agreement_data_discriminates(conn: Connection) -> None:
    partial = {
        doc["op"] for doc in leaves() if 0 < len(selected_by_sql(conn, parse_rule(doc))) < len(ROWS)
    }
    assert partial == set(OPERATORS)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (leaf("role", "eq", "ADMIN"), {1, 2, 9}),
        (leaf("name", "contains", "zoë"), {1, 10}),
        (leaf("name", "contains", "%"), {6}),
        (leaf("email", "contains", "_"), {7}),
        (leaf("name", "contains", "/"), {8}),
        (leaf("role", "ne", "admin"), {3, 4, 5, 6, 7, 8, 10}),
        (leaf("custom.Team", "is_empty"), {3, 4, 5, 6, 9}),
        (leaf("custom.Lever ID", "eq", "abc-1"), {8, 10}),
        (leaf("seen_at", "older_than_days", 30), {2, 7, 8, 9}),
        (leaf("seen_at", "newer_than_days", 30), {1, 3, 5, 6, 10}),
        (leaf("score", "gt", 1.5), {2, 6, 7, 10}),
        (leaf("active", "ne", True), {2, 3, 4, 6, 8, 10}),
    ],
)
def test_sql_selects(conn: Connection, doc: Any, expected: set[int]) -> None:
    assert selected_by_sql(conn, parse_rule(doc)) == expected


@pytest.mark.parametrize(
    ("doc", "json_column", "message"),
    [
        (leaf("nope", "eq", "x"), True, "rule field: unknown field 'nope' (use one of name,"),
        (leaf("custom.Team", "eq", "x"), False, "rule field: custom fields cannot be tested here"),
        (leaf("seen_at", "contains", "2024"), True, "rule op: 'contains' cannot test 'seen_at'"),
        (leaf("name", "gt", 3), True, "rule op: 'gt' cannot test 'name', which holds text"),
        (
            {"all": [{"not": leaf("score", "eq", "3")}]},
            True,
            "rule all[0].not.value: 'score' holds a number, so 'eq' needs a number too",
        ),
    ],
)
def test_compile_checks_the_columns(doc: Any, json_column: bool, message: str) -> None:
    custom = rows_table.c.custom if json_column else None
    with pytest.raises(RuleError) as caught:
        compile_rule(parse_rule(doc), COLUMNS, NOW, json_column=custom)
    assert message in str(caught.value)


def test_specs_follow_column_types() -> None:
    assert {name: spec.type for name, spec in specs_from_columns(COLUMNS).items()} == {
        "name": "string",
        "email": "string",
        "role": "string",
        "seen_at": "datetime",
        "score": "number",
        "active": "bool",
    }


def test_every_rule_compiles_for_postgresql() -> None:
    dialect = postgresql.dialect()
    for doc in leaves():
        where = compile_rule(parse_rule(doc), COLUMNS, NOW, json_column=rows_table.c.custom)
        assert select(rows_table.c.id).where(where).compile(dialect=dialect).string


def postgresql_sql(doc: Any) -> str:
    """The WHERE clause of a rule as PostgreSQL would receive it."""
    where = compile_rule(parse_rule(doc), COLUMNS, NOW, json_column=rows_table.c.custom)
    dialect = postgresql.dialect(paramstyle="named")
    return str(where.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}))


def test_postgresql_folds_ascii_letters_only_whatever_the_locale() -> None:
    sql = postgresql_sql(leaf("custom.Team", "contains", "Zoë"))
    assert 'lower((CAST((rule_rows.custom ->> :custom_1::TEXT) AS VARCHAR)) COLLATE "C")' in sql
    assert "LIKE lower((:ascii_lower_1::VARCHAR) COLLATE \"C\") ESCAPE '/'" in sql


def test_values_are_bound_with_the_column_type() -> None:
    sql = postgresql_sql({"any": [leaf("score", "in", [10, 1.5]), leaf("score", "eq", 10)]})
    assert "INTEGER" not in sql


def test_like_patterns_escape_wildcards() -> None:
    where = compile_rule(parse_rule(leaf("name", "contains", "5%_/")), COLUMNS, NOW)
    compiled = where.compile(compile_kwargs={"literal_binds": True})
    assert "'%5/%/_//%'" in str(compiled)
    assert "ESCAPE '/'" in str(compiled)


def test_exported_names_exist() -> None:
    from inventory import rules

    assert all(hasattr(rules, name) for name in rules.__all__)


# --- date fields ---------------------------------------------------------------------------------

DAY = date(2024, 6, 1)
ONE_DAY = timedelta(days=1)
DATE_FIELDS = {"starts_on": FieldSpec("starts_on", "date")}
dated_table = Table(
    "dated_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("starts_on", Date, nullable=True),
)
DATED_ROWS = [
    {"id": 1, "starts_on": DAY - ONE_DAY},
    {"id": 2, "starts_on": DAY},
    {"id": 3, "starts_on": DAY + ONE_DAY},
    {"id": 4, "starts_on": None},
]
DATE_RULES = [
    (leaf("starts_on", "eq", "2024-06-01"), {2}),
    (leaf("starts_on", "ne", "2024-06-01"), {1, 3, 4}),
    (leaf("starts_on", "in", ["2024-05-31", "2024-06-02"]), {1, 3}),
    (leaf("starts_on", "not_in", ["2024-05-31", None]), {2, 3}),
    (leaf("starts_on", "gt", "2024-06-01"), {3}),
    (leaf("starts_on", "lt", "2024-06-01"), {1}),
    ({"all": [leaf("starts_on", "gt", "2024-05-30"), leaf("starts_on", "lt", "2024-06-02")]},
     {1, 2}),
    (leaf("starts_on", "eq", None), {4}),
    (leaf("starts_on", "is_empty"), {4}),
    (leaf("starts_on", "is_not_empty"), {1, 2, 3}),
]  # fmt: skip


@pytest.fixture
def dated(engine: Engine) -> Iterator[Connection]:
    """A connection to a table holding DATED_ROWS."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(dated_table), DATED_ROWS)
        yield connection


def test_a_date_column_is_a_date_field() -> None:
    assert specs_from_columns({"starts_on": dated_table.c.starts_on})["starts_on"].type == "date"


@pytest.mark.parametrize(
    ("doc", "value"),
    [
        (leaf("starts_on", "eq", "2024-06-01"), DAY),
        (leaf("starts_on", "gt", "2024-06-01"), DAY),
        (leaf("starts_on", "lt", "2024-06-01T00:00:00Z"), DAY),
        (leaf("starts_on", "in", ["2024-06-01", None]), (DAY, None)),
        (leaf("starts_on", "ne", None), None),
    ],
)
def test_date_values_are_read_as_days(doc: Any, value: Any) -> None:
    assert parse_rule(doc, DATE_FIELDS) == Condition("starts_on", doc["op"], value)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (leaf("starts_on", "eq", "June 1st"), "rule value: 'eq' needs a date as YYYY-MM-DD"),
        (leaf("starts_on", "eq", 20240601), "'eq' needs a date as YYYY-MM-DD, got 20240601"),
        (leaf("starts_on", "gt", "2024-06-01T09:00:00Z"), "'gt' needs a date as YYYY-MM-DD"),
        (leaf("starts_on", "in", ["2024-06-01", "soon"]), "'in' needs a date as YYYY-MM-DD"),
        (leaf("starts_on", "older_than_days", 3), "'older_than_days' cannot test 'starts_on', "
                                                  "which holds a date"),
        (leaf("starts_on", "contains", "2024"), "'contains' cannot test 'starts_on'"),
    ],
)  # fmt: skip
def test_a_date_field_takes_days_only(doc: Any, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(doc, DATE_FIELDS)
    assert message in str(caught.value)
    columns = {"starts_on": dated_table.c.starts_on}
    with pytest.raises(RuleError) as compiled:  # compiling checks the same without field specs
        compile_rule(Condition(doc["field"], doc["op"], doc["value"]), columns, NOW)
    assert message.removeprefix("rule value: ") in str(compiled.value)


def test_date_rules_round_trip_as_day_text() -> None:
    rule = parse_rule(DATE_RULES[2][0], DATE_FIELDS)
    assert to_doc(rule) == leaf("starts_on", "in", ["2024-05-31", "2024-06-02"])
    assert parse_rule(to_doc(rule), DATE_FIELDS) == rule


@pytest.mark.parametrize(("doc", "expected"), DATE_RULES)
def test_date_rules_select_alike_in_sql_and_in_python(
    dated: Connection, doc: Any, expected: set[int]
) -> None:
    rule = parse_rule(doc, DATE_FIELDS)
    where = compile_rule(rule, {"starts_on": dated_table.c.starts_on}, NOW)
    assert set(dated.scalars(select(dated_table.c.id).where(where))) == expected
    assert {row["id"] for row in DATED_ROWS if evaluate(rule, row, NOW)} == expected
    as_text = [{**row, "starts_on": row["starts_on"] and row["starts_on"].isoformat()}
               for row in DATED_ROWS]  # fmt: skip
    assert {row["id"] for row in as_text if evaluate(rule, row, NOW)} == expected
    assert {row["id"] for row in DATED_ROWS if evaluate(Not(rule), row, NOW)} == {
        1,
        2,
        3,
        4,
    } - expected


# --- the same agreement, as a property over generated rows and rules ---------------------------

ALPHABET = "aAeEzZëËß%_/ -@."
TEXT = st.text(alphabet=ALPHABET, max_size=6)
NUMBERS = st.one_of(st.sampled_from([-2, 0, 1.5, 3, 10, 10.0]), st.integers(-1000, 1000),
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))  # fmt: skip
MOMENTS_ST = st.one_of(
    st.sampled_from([BOUNDARY, BOUNDARY - MICRO, BOUNDARY + MICRO, NOW]),
    st.datetimes(datetime(2023, 1, 1), datetime(2025, 1, 1), timezones=st.just(UTC)),
)
TEXT_COLUMNS = ("name", "email", "role", "custom.Team")


def _row(i: int) -> st.SearchStrategy[dict[str, Any]]:
    """One awkward row: any column may be null, custom fields may be missing."""
    custom = st.one_of(st.none(), st.dictionaries(st.just("Team"), st.none() | TEXT))
    return st.fixed_dictionaries({
        "id": st.just(i), "name": st.none() | TEXT, "email": st.none() | TEXT,
        "role": st.none() | TEXT, "seen_at": st.none() | MOMENTS_ST, "score": st.none() | NUMBERS,
        "active": st.none() | st.booleans(), "custom": custom,
    })  # fmt: skip


ROWS_ST = st.integers(1, 8).flatmap(lambda n: st.tuples(*(_row(i) for i in range(1, n + 1))))


def _leaf(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A condition fitting its field's type, with generated values (texts from `text`)."""
    text_leaf = st.one_of(
        st.builds(leaf, st.sampled_from(TEXT_COLUMNS), st.sampled_from(["eq", "ne"]),
                  st.none() | text),
        st.builds(leaf, st.sampled_from(TEXT_COLUMNS), st.sampled_from(["in", "not_in"]),
                  st.lists(st.none() | text, max_size=3)),
        st.builds(leaf, st.sampled_from(TEXT_COLUMNS),
                  st.sampled_from(["contains", "starts_with", "ends_with"]), text),
    )  # fmt: skip
    fields = st.sampled_from([*TEXT_COLUMNS, "seen_at", "score", "active"])
    days = st.sampled_from(["older_than_days", "newer_than_days"])
    return st.one_of(
        text_leaf,
        st.builds(leaf, fields, st.sampled_from(["is_empty", "is_not_empty"])),
        st.builds(leaf, st.just("score"), st.sampled_from(["eq", "ne", "gt", "lt"]), NUMBERS),
        st.builds(leaf, st.just("score"), st.sampled_from(["in", "not_in"]),
                  st.lists(st.none() | NUMBERS, max_size=3)),
        st.builds(leaf, st.just("seen_at"), st.sampled_from(["gt", "lt"]),
                  MOMENTS_ST.map(datetime.isoformat)),
        st.builds(leaf, st.just("seen_at"), days, st.integers(0, 800)),
        st.builds(leaf, st.just("active"), st.sampled_from(["eq", "ne"]),
                  st.none() | st.booleans()),
    )  # fmt: skip


def _rules(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Rule documents: leaves nested in all / any / not groups."""
    return st.recursive(
        _leaf(text),
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda rules: {"all": rules}),
            st.lists(children, max_size=3).map(lambda rules: {"any": rules}),
            children.map(lambda rule: {"not": rule}),
        ),
        max_leaves=6,
    )


def _near(texts: list[str]) -> st.SearchStrategy[str]:
    """Texts the rows hold, in another case or cut short, so tests often nearly match."""
    if not texts:
        return TEXT
    held = st.sampled_from(texts)
    return st.one_of(TEXT, held.map(str.swapcase), held.map(str.upper), held.map(lambda t: t[1:]))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(rows=ROWS_ST, data=st.data())
def test_python_and_sql_agree_on_generated_rows_and_rules(
    engine: Engine, rows: tuple[dict[str, Any], ...], data: st.DataObject
) -> None:
    texts = [v for row in rows for v in (row["name"], row["email"], row["role"]) if v]
    docs = data.draw(st.lists(_rules(_near(texts)), min_size=1, max_size=5))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(rows_table.delete())
        conn.execute(insert(rows_table), list(rows))
        for doc in docs:
            rule = parse_rule(doc)
            python = {row["id"] for row in rows if evaluate(rule, row, NOW)}
            where = compile_rule(rule, COLUMNS, NOW, json_column=rows_table.c.custom)
            sql = set(conn.scalars(select(rows_table.c.id).where(where)))
            assert python == sql, (doc, rows)
