"""The rule engine: condition trees shared by integration filters and workflow criteria.

A rule is JSON: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a condition
``{"field": "status", "op": "eq", "value": "active"}``. The same rule is evaluated in Python on a
record (`evaluate`) and compiled to a SQL WHERE clause for selecting records (`compile_rule`);
both give the same answer for every operator.

Operators and their semantics:

* ``eq`` / ``ne`` — equal / not equal. Text compares case-insensitively (emails and roles are
  compared that way across invsync). ``eq null`` matches a missing or null field.
* ``in`` / ``not_in`` — ``eq`` against any value of a list; a list may hold null.
* ``contains`` / ``starts_with`` / ``ends_with`` — case-insensitive text tests; ``%`` and ``_``
  are plain characters. An empty value matches every non-null text.
* ``is_empty`` / ``is_not_empty`` — null or ``""`` (for non-text fields: null).
* ``gt`` / ``lt`` — strictly greater / less than a number or an ISO-8601 datetime (a datetime
  without an offset is read as UTC), or for a date field an ISO-8601 date (``YYYY-MM-DD``).
* ``older_than_days N`` — a non-null datetime earlier than ``now - N days``;
  ``newer_than_days N`` — a non-null datetime at or after ``now - N days`` (future ones too).

Null and type rules: ``ne`` and ``not_in`` are the exact negations of ``eq`` and ``in``, so they
are true on a null field (unless the value names null); every other test is false on null.
A text test is false on a value that is not text, a number test on a value that is not a number,
a datetime test on a value that is neither a datetime nor an ISO-8601 string. ``not`` negates.

Date fields (a calendar day, such as a start date) take ``eq`` / ``ne`` / ``in`` / ``not_in``
(on a day), ``gt`` / ``lt`` (after / before a day; two of them make a between) and the emptiness
tests. Their values are ISO-8601 dates, read as dates when the rule is parsed with field specs or
compiled to SQL; a record's date may be a `date` or ISO-8601 date text.
``{"all": []}`` is true and ``{"any": []}`` is false.

Fields are column names; ``custom.<name>`` reads a custom field (``record["custom"][name]`` in
Python, the JSON column in SQL). Custom fields hold text, so they take text tests only (a
number or boolean stored in one by hand would read as its text in SQL but match no text test in
Python: keep custom values text).

`parse_rule` checks a document before anything runs; its RuleError names where the fault is, as
in ``rule all[1].op: unknown operator 'equals' (use one of eq, ne, ...)``. Given field specs, it
also refuses unknown fields and tests a field's type cannot take; `compile_rule` checks the same
against the columns it is given.

Case folding covers ASCII letters only: ``"ADA"`` equals ``"ada"`` and ``"Zoë"`` equals
``"zoë"``, but ``"ZOË"`` does not equal ``"zoë"``. That is all SQLite's ``lower()`` can do, so the
engine does exactly that everywhere: in Python, and on PostgreSQL by folding under the ``"C"``
collation, whatever the database's locale. Python and SQL therefore agree on both backends.
(A SQLite build with the ICU extension folds more; invsync does not load it.)
"""

from __future__ import annotations

import math
import operator
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeAlias, cast

from sqlalchemy import String, and_, false, literal, not_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from inventory.errors import RuleError
from inventory.timeutil import iso

__all__ = [
    "CUSTOM_PREFIX",
    "FIELD_TYPES",
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "Condition",
    "FieldSpec",
    "Not",
    "Rule",
    "compile_rule",
    "evaluate",
    "parse_filter",
    "parse_filters",
    "parse_rule",
    "specs_from_columns",
    "split_filter",
    "to_doc",
]

FIELD_TYPES = ("string", "datetime", "date", "number", "bool")
CUSTOM_PREFIX = "custom."
MAX_DEPTH = 32
MAX_DAYS = 100_000

_KIND_NOUN = {
    "string": "text",
    "datetime": "a datetime",
    "date": "a date",
    "number": "a number",
    "bool": "true or false",
}
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_LIKE_ESCAPE = "/"


@dataclass(frozen=True)
class FieldSpec:
    """A field a rule may test, with the type its values must have."""

    name: str
    type: str = "string"

    def __post_init__(self) -> None:
        """Refuse a type the engine cannot compare."""
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field type must be one of {', '.join(FIELD_TYPES)}")


@dataclass(frozen=True)
class Condition:
    """A leaf test: field, operator and a parsed value (tuple for lists, datetime for dates)."""

    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class AllOf:
    """True when every child is true (and when there are none)."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    """True when some child is true (never when there are none)."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    """The negation of one child."""

    rule: Rule


Rule: TypeAlias = AllOf | AnyOf | Not | Condition
Path = tuple[str, ...]


# --- parsing ---------------------------------------------------------------------------------


def parse_rule(doc: Any, fields: Mapping[str, FieldSpec] | None = None) -> Rule:
    """Validate a rule document and build its tree; with `fields`, also check names and types."""
    return _parse(doc, fields, (), 0)


def _error(path: Path, message: str) -> RuleError:
    """A RuleError whose message starts with where in the document the fault is."""
    where = "rule " + ".".join(path) if path else "rule"
    return RuleError(f"{where}: {message}")


def _parse(doc: Any, fields: Mapping[str, FieldSpec] | None, path: Path, depth: int) -> Rule:
    """Parse one node, a group or a condition."""
    if depth > MAX_DEPTH:
        raise _error(path, f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(doc, Mapping):
        raise _error(path, "expected an object with all, any, not, or field and op")
    if any(key in doc for key in ("all", "any", "not")):
        return _parse_group(doc, fields, path, depth)
    return _parse_condition(doc, fields, path)


def _parse_group(
    doc: Mapping[str, Any], fields: Mapping[str, FieldSpec] | None, path: Path, depth: int
) -> Rule:
    """Parse an all, any or not node, which must have that one key only."""
    if len(doc) != 1:
        raise _error(path, f"expected exactly one of all, any or not, got {', '.join(doc)}")
    key, body = next(iter(doc.items()))
    if key == "not":
        return Not(_parse(body, fields, (*path, "not"), depth + 1))
    if not isinstance(body, list):
        raise _error((*path, key), "expected a list of conditions")
    children = tuple(
        _parse(item, fields, (*path, f"{key}[{i}]"), depth + 1) for i, item in enumerate(body)
    )
    return AllOf(children) if key == "all" else AnyOf(children)


def _parse_condition(
    doc: Mapping[str, Any], fields: Mapping[str, FieldSpec] | None, path: Path
) -> Condition:
    """Parse a field-operator-value test."""
    extra = sorted(set(doc) - {"field", "op", "value"})
    if extra:
        raise _error(path, f"unexpected key {extra[0]!r} (a condition has field, op and value)")
    field = _parse_field(doc.get("field"), fields, (*path, "field"))
    op = _parse_op(doc.get("op"), (*path, "op"))
    condition = Condition(field, op, _parse_value(op, doc, (*path, "value")))
    kind = _field_kind(field, fields)
    if kind is not None:
        condition = _typed(condition, kind, path)
        _check_kind(condition, kind, path)
    return condition


def _parse_field(field: Any, fields: Mapping[str, FieldSpec] | None, path: Path) -> str:
    """A field name: text, known when `fields` is given, a quote-free custom field name."""
    if not isinstance(field, str) or not field:
        raise _error(path, "missing (name the field to test)")
    if field.startswith(CUSTOM_PREFIX):
        _check_custom_name(field[len(CUSTOM_PREFIX) :], path)
    if fields is not None and field not in fields:
        raise _error(path, f"unknown field {field!r} (use one of {', '.join(fields)})")
    return field


def _check_custom_name(name: str, path: Path) -> None:
    """Custom field names become JSON paths, so they must be non-empty and quote-free."""
    if not name or '"' in name or "\\" in name:
        raise _error(path, "a custom field needs a name without quotes or backslashes")


def _parse_op(op: Any, path: Path) -> str:
    """An operator name from OPERATORS."""
    if op not in OPERATORS:
        shown = "missing" if op is None else f"unknown operator {op!r}"
        raise _error(path, f"{shown} (use one of {', '.join(OPERATORS)})")
    return cast(str, op)


def _parse_value(op: str, doc: Mapping[str, Any], path: Path) -> Any:
    """The value the operator needs, checked for shape and converted (lists to tuples...)."""
    if op in _NO_VALUE_OPS:
        if doc.get("value") is not None:
            raise _error(path, f"{op!r} takes no value")
        return None
    if "value" not in doc:
        raise _error(path, f"missing ({op!r} needs a value)")
    read = _OPS[op].value
    assert read is not None  # operators that take no value returned above
    return read(op, doc["value"], path)


def _parse_scalar(op: str, value: Any, path: Path) -> Any:
    """Text, a number, true/false or null."""
    if value is None or isinstance(value, str | int | float):
        return value
    raise _error(path, f"{op!r} needs text, a number, true/false or null, got {value!r}")


def _parse_list(op: str, value: Any, path: Path) -> tuple[Any, ...]:
    """A list of scalars."""
    if not isinstance(value, list):
        raise _error(path, f"{op!r} needs a list of values, got {value!r}")
    return tuple(
        _parse_scalar(op, item, (*path[:-1], f"value[{i}]")) for i, item in enumerate(value)
    )


def _parse_text(op: str, value: Any, path: Path) -> str:
    """Text."""
    if not isinstance(value, str):
        raise _error(path, f"{op!r} needs text, got {value!r}")
    return value


def _parse_bound(op: str, value: Any, path: Path) -> float | int | datetime:
    """A number or an ISO-8601 datetime (read as UTC when it has no offset)."""
    if _is_number(value):
        return cast(float | int, value)
    parsed = _as_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _error(path, f"{op!r} needs a number or an ISO-8601 datetime, got {value!r}")
    return parsed


def _parse_days(op: str, value: Any, path: Path) -> int:
    """A whole number of days within a range datetimes can represent."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise _error(path, f"{op!r} needs a whole number of days from 0 to {MAX_DAYS}")
    return value


# --- type checks, shared by parse_rule (with fields) and compile_rule (with columns) --------


def _field_kind(field: str, fields: Mapping[str, FieldSpec] | None) -> str | None:
    """The type a field's values have: custom fields are text; others as `fields` says."""
    if field.startswith(CUSTOM_PREFIX):
        return "string"
    return fields[field].type if fields is not None else None


def _check_kind(condition: Condition, kind: str, path: Path) -> None:
    """Refuse an operator or a value the field's type cannot take."""
    field, op = condition.field, condition.op
    if op not in _KIND_OPS[kind]:
        raise _error((*path, "op"), f"{op!r} cannot test {field!r}, which holds {_KIND_NOUN[kind]}")
    if kind == "datetime" and op in ("eq", "ne") and condition.value is not None:
        raise _error((*path, "value"), "compare datetimes with gt, lt or the *_days operators")
    if not all(_fits(kind, value) for value in _values(condition)):
        noun = _KIND_NOUN[kind]
        raise _error((*path, "value"), f"{field!r} holds {noun}, so {op!r} needs {noun} too")


def _typed(condition: Condition, kind: str, path: Path) -> Condition:
    """The condition with a date field's values read as dates (other kinds are left as parsed)."""
    if kind != "date" or condition.op not in _KIND_OPS["date"]:
        return condition
    if condition.op in _LIST_OPS:
        value: Any = tuple(_read_date(condition.op, v, path) for v in condition.value)
    elif condition.op in _NO_VALUE_OPS:
        return condition
    else:
        value = _read_date(condition.op, condition.value, path)
    return replace(condition, value=value)


def _read_date(op: str, value: Any, path: Path) -> date | None:
    """A date value: a date, ISO-8601 date text, or a datetime at midnight UTC (how `gt` and `lt`
    read a bare date); null stays null."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime) and _aware(value).time() == time():
        return _aware(value).date()
    found = _as_date(value)
    if found is None:
        raise _error((*path, "value"), f"{op!r} needs a date as YYYY-MM-DD, got {value!r}")
    return found


def _values(condition: Condition) -> Iterable[Any]:
    """The values a condition compares against (none for is_empty or the *_days operators)."""
    if condition.op in _LIST_OPS:
        return condition.value
    if condition.op in _NO_VALUE_OPS | _DAYS_OPS:
        return ()
    return (condition.value,)


def _fits(kind: str, value: Any) -> bool:
    """Whether a rule value may be compared with a field of this type (null always may)."""
    if value is None:
        return True
    if kind == "number":
        return _is_number(value)
    if kind == "date":
        return isinstance(value, date) and not isinstance(value, datetime)
    expected = {"string": str, "datetime": datetime, "bool": bool}[kind]
    return isinstance(value, expected)


def specs_from_columns(columns: Mapping[str, ColumnElement[Any]]) -> dict[str, FieldSpec]:
    """Field specs for named columns, typed from each column's Python type."""
    return {name: FieldSpec(name, _column_kind(column)) for name, column in columns.items()}


def _column_kind(column: ColumnElement[Any]) -> str:
    """The rule type of a column, from the Python type of its (innermost) SQL type."""
    sql_type = column.type
    while isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        return "string"
    if issubclass(python_type, bool):
        return "bool"
    if issubclass(python_type, datetime):
        return "datetime"
    if issubclass(python_type, date):
        return "date"
    return "number" if issubclass(python_type, int | float) else "string"


# --- `field:op:value` filters -----------------------------------------------------------------
# The one short form of a condition, for list pages (`f=`), saved views and the API (`filter=`).


def parse_filters(texts: Sequence[str], fields: Mapping[str, FieldSpec]) -> Rule | None:
    """The rule all the filters make together (None when there are none)."""
    rules = tuple(parse_filter(text, fields) for text in texts)
    if not rules:
        return None
    return rules[0] if len(rules) == 1 else AllOf(rules)


def parse_filter(text: str, fields: Mapping[str, FieldSpec]) -> Rule:
    """One `field:op:value` filter as a checked condition; its error names the filter."""
    field, op, value = split_filter(text, fields)
    try:
        return parse_rule(_filter_doc(field, op, value, fields.get(field)), fields)
    except RuleError as exc:
        raise RuleError(f"filter {text!r}: {exc}") from None


def split_filter(text: str, fields: Iterable[str] = ()) -> tuple[str, str, str]:
    """FIELD, OP and VALUE of `FIELD:OP:VALUE`. A known field's name may hold colons (custom
    field names can), so the longest known name the text starts with wins; the value is the
    rest of the text, colons included."""
    for name in sorted(fields, key=len, reverse=True):
        if text.startswith(name + ":"):
            op, _, value = text[len(name) + 1 :].partition(":")
            if op:
                return name, op, value
    field, sep, rest = text.partition(":")
    op, _, value = rest.partition(":")
    if not sep or not field or not op:
        raise RuleError(f"filter {text!r}: write it as field:op:value, e.g. status:eq:active")
    return field, op, value


def _filter_doc(field: str, op: str, value: str, spec: FieldSpec | None) -> dict[str, Any]:
    """The rule document of one filter, its value typed as the operator and field need: list
    items split on commas and stripped, days as a whole number, numbers and true/false parsed
    for such fields; any other value is the text exactly as written."""
    doc: dict[str, Any] = {"field": field, "op": op}
    if op in _NO_VALUE_OPS:
        return doc
    kind = spec.type if spec is not None else "string"
    if op in _LIST_OPS:
        doc["value"] = [_filter_value(part.strip(), kind) for part in value.split(",")]
    elif op in _DAYS_OPS:
        doc["value"] = int(value.strip()) if value.strip().isdigit() else value
    else:
        doc["value"] = _filter_value(value, kind)
    return doc


def _filter_value(text: str, kind: str) -> Any:
    """Text as a number (an integer when it is one; `1e3` is 1000.0; nan and inf stay text) or
    as true/false, for fields of those kinds; otherwise unchanged."""
    if kind == "bool" and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    if kind != "number":
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


# --- evaluation in Python --------------------------------------------------------------------


def evaluate(rule: Rule, record: Mapping[str, Any], now: datetime) -> bool:
    """Whether a record (a dict; custom fields under "custom") matches the rule at time `now`."""
    match rule:
        case AllOf(rules):
            return all(evaluate(child, record, now) for child in rules)
        case AnyOf(rules):
            return any(evaluate(child, record, now) for child in rules)
        case Not(child):
            return not evaluate(child, record, now)
        case Condition(field, op, value):
            return _OPS[op].python(_lookup(record, field), value, _aware(now))
    raise TypeError(f"not a rule: {rule!r}")


def _lookup(record: Mapping[str, Any], field: str) -> Any:
    """A field's value: a top-level key, else one level down ("custom.Lever ID"); else None."""
    if field in record:
        return record[field]
    head, _, rest = field.partition(".")
    nested = record.get(head)
    return nested.get(rest) if rest and isinstance(nested, Mapping) else None


def _fold(text: str) -> str:
    """Lower-case ASCII letters only, as SQLite's lower() does."""
    return text.translate(_ASCII_LOWER)


def _is_number(value: Any) -> bool:
    """An int or float, but not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _aware(moment: datetime) -> datetime:
    """An aware UTC datetime; naive ones are taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _as_date(value: Any) -> date | None:
    """A date, or ISO-8601 date text read as one; anything else (a datetime too) is None."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _as_datetime(value: Any) -> datetime | None:
    """A datetime, or an ISO-8601 string read as one, as aware UTC; anything else is None."""
    if isinstance(value, datetime):
        return _aware(value)
    if not isinstance(value, str):
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _py_eq(actual: Any, value: Any, now: datetime | None = None) -> bool:
    """Equality under the engine's rules: null to null, text folded, bools apart from numbers."""
    if value is None:
        return actual is None
    if isinstance(value, str):
        return isinstance(actual, str) and _fold(actual) == _fold(value)
    if isinstance(value, date):
        return _as_date(actual) == value
    if isinstance(value, bool):
        return isinstance(actual, bool) and actual == value
    return _is_number(actual) and bool(actual == value)


def _py_in(actual: Any, values: tuple[Any, ...], now: datetime) -> bool:
    """Equal to some value of the list."""
    return any(_py_eq(actual, value) for value in values)


def _py_text(test: Callable[[str, str], bool]) -> Callable[[Any, str, datetime], bool]:
    """A case-insensitive text test that is false on anything but text."""
    return lambda actual, value, now: isinstance(actual, str) and test(_fold(actual), _fold(value))


def _py_is_empty(actual: Any, value: None, now: datetime) -> bool:
    """Null or empty text."""
    return actual is None or actual == ""


def _py_compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any, datetime], bool]:
    """A strict comparison of like with like: numbers with numbers, datetimes with datetimes."""

    def compare(actual: Any, bound: Any, now: datetime) -> bool:
        if isinstance(bound, datetime):
            moment = _as_datetime(actual)
            return moment is not None and test(moment, bound)
        if isinstance(bound, date):
            day = _as_date(actual)
            return day is not None and test(day, bound)
        return _is_number(actual) and test(actual, bound)

    return compare


def _py_older(actual: Any, days: int, now: datetime) -> bool:
    """A datetime earlier than `days` days before now."""
    moment = _as_datetime(actual)
    return moment is not None and moment < now - timedelta(days=days)


def _py_newer(actual: Any, days: int, now: datetime) -> bool:
    """A datetime at or after `days` days before now."""
    moment = _as_datetime(actual)
    return moment is not None and moment >= now - timedelta(days=days)


def _py_not(test: Callable[[Any, Any, datetime], bool]) -> Callable[[Any, Any, datetime], bool]:
    """The exact negation of a test."""
    return lambda actual, value, now: not test(actual, value, now)


# --- compilation to SQL ----------------------------------------------------------------------
# Every leaf compiles to an expression that is never NULL (a null column is tested explicitly),
# so NOT, AND and OR behave in SQL exactly as not, and, or do in Python.


class _AsciiLower(FunctionElement[str]):
    """lower() folding ASCII letters only, on every backend, as Python's side of the engine does."""

    type = String()
    name = "ascii_lower"
    inherit_cache = True


@compiles(_AsciiLower)
def _fold_sql(element: _AsciiLower, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite's lower() folds ASCII letters only already."""
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(_AsciiLower, "postgresql")
def _fold_postgresql(element: _AsciiLower, compiler: SQLCompiler, **kw: Any) -> str:
    """PostgreSQL's lower() follows the collation; under "C" it folds ASCII letters only."""
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "C")'


@dataclass(frozen=True)
class _Target:
    """A column a condition tests, with its rule type."""

    column: ColumnElement[Any]
    kind: str


@dataclass(frozen=True)
class _SqlContext:
    """What compilation needs besides the rule: columns, their types, the JSON column, now."""

    columns: Mapping[str, ColumnElement[Any]]
    specs: Mapping[str, FieldSpec]
    json_column: ColumnElement[Any] | None
    now: datetime


def compile_rule(
    rule: Rule,
    columns: Mapping[str, ColumnElement[Any]],
    now: datetime,
    json_column: ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause selecting the rows the rule matches; "custom.X" reads `json_column`."""
    context = _SqlContext(columns, specs_from_columns(columns), json_column, _aware(now))
    return _compile(rule, context, ())


def _compile(rule: Rule, context: _SqlContext, path: Path) -> ColumnElement[bool]:
    """Compile one node."""
    match rule:
        case AllOf(rules):
            return and_(true(), *_compile_all(rules, context, (*path, "all")))
        case AnyOf(rules):
            return or_(false(), *_compile_all(rules, context, (*path, "any")))
        case Not(child):
            return not_(_compile(child, context, (*path, "not")))
        case Condition():
            return _compile_condition(rule, context, path)
    raise TypeError(f"not a rule: {rule!r}")


def _compile_all(
    rules: tuple[Rule, ...], context: _SqlContext, path: Path
) -> list[ColumnElement[bool]]:
    """Compile the children of a group; the last path step names the group ("all", "any")."""
    *parent, group = path
    return [_compile(child, context, (*parent, f"{group}[{i}]")) for i, child in enumerate(rules)]


def _compile_condition(
    condition: Condition, context: _SqlContext, path: Path
) -> ColumnElement[bool]:
    """Compile a leaf after checking the column can take the test."""
    target = _target(condition.field, context, (*path, "field"))
    condition = _typed(condition, target.kind, path)
    _check_kind(condition, target.kind, path)
    return _OPS[condition.op].sql(target, condition.value, context.now)


def _target(field: str, context: _SqlContext, path: Path) -> _Target:
    """The column a field names, or the text of a custom field inside the JSON column."""
    if field.startswith(CUSTOM_PREFIX):
        if context.json_column is None:
            raise _error(path, f"custom fields cannot be tested here ({field!r})")
        _check_custom_name(field[len(CUSTOM_PREFIX) :], path)
        element = cast(Any, context.json_column)[field[len(CUSTOM_PREFIX) :]]
        return _Target(element.as_string(), "string")
    if field not in context.columns:
        raise _error(path, f"unknown field {field!r} (use one of {', '.join(context.columns)})")
    return _Target(context.columns[field], context.specs[field].type)


def _bind(target: _Target, value: Any) -> ColumnElement[Any]:
    """A value bound with the column's own type, not one guessed from the value (1.5 as int)."""
    return literal(value, target.column.type)


def _present(column: ColumnElement[Any], test: ColumnElement[bool]) -> ColumnElement[bool]:
    """`test` on a non-null column, false (never NULL) on a null one."""
    return and_(column.is_not(None), test)


def _sql_eq(target: _Target, value: Any, now: datetime) -> ColumnElement[bool]:
    """Equality: IS NULL for null, lower() on both sides for text."""
    column = target.column
    if value is None:
        return column.is_(None)
    if isinstance(value, str):
        return _present(column, _AsciiLower(column) == _AsciiLower(value))
    return _present(column, column == _bind(target, value))


def _sql_in(target: _Target, values: tuple[Any, ...], now: datetime) -> ColumnElement[bool]:
    """Membership: nulls, text (folded) and other values each tested their own way."""
    column = target.column
    texts = [_AsciiLower(value) for value in values if isinstance(value, str)]
    others = [value for value in values if value is not None and not isinstance(value, str)]
    parts: list[ColumnElement[bool]] = [column.is_(None)] if None in values else []
    if texts:
        parts.append(_present(column, _AsciiLower(column).in_(texts)))
    if others:
        parts.append(_present(column, column.in_([_bind(target, value) for value in others])))
    return or_(false(), *parts)


def _sql_like(prefix: str, suffix: str) -> Callable[[_Target, str, datetime], ColumnElement[bool]]:
    """A case-insensitive LIKE test with the value's own % and _ escaped."""

    def like(target: _Target, value: str, now: datetime) -> ColumnElement[bool]:
        pattern = prefix + _escape_like(value) + suffix
        test = _AsciiLower(target.column).like(_AsciiLower(pattern), escape=_LIKE_ESCAPE)
        return _present(target.column, test)

    return like


def _escape_like(value: str) -> str:
    """Make %, _ and the escape character itself match literally."""
    for char in (_LIKE_ESCAPE, "%", "_"):
        value = value.replace(char, _LIKE_ESCAPE + char)
    return value


def _sql_is_empty(target: _Target, value: None, now: datetime) -> ColumnElement[bool]:
    """Null, or empty text for text columns."""
    if target.kind == "string":
        return or_(target.column.is_(None), target.column == "")
    return target.column.is_(None)


def _sql_older(target: _Target, days: int, now: datetime) -> ColumnElement[bool]:
    """Earlier than `days` days before now."""
    return _present(target.column, target.column < _bind(target, now - timedelta(days=days)))


def _sql_newer(target: _Target, days: int, now: datetime) -> ColumnElement[bool]:
    """At or after `days` days before now."""
    return _present(target.column, target.column >= _bind(target, now - timedelta(days=days)))


def _negate(
    compile_: Callable[[_Target, Any, datetime], ColumnElement[bool]],
) -> Callable[[_Target, Any, datetime], ColumnElement[bool]]:
    """The exact negation of a never-NULL test."""
    return lambda target, value, now: not_(compile_(target, value, now))


def _sql_compare(
    test: Callable[[ColumnElement[Any], ColumnElement[Any]], ColumnElement[bool]],
) -> Callable[[_Target, Any, datetime], ColumnElement[bool]]:
    """A comparison with a bound, false on a null column."""
    return lambda target, bound, now: _present(
        target.column, test(target.column, _bind(target, bound))
    )


# --- the operators -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Op:
    """One operator in one row: the value it reads, the field types it fits, and what it means
    in Python and in SQL side by side, so the two evaluations cannot drift apart."""

    value: Callable[[str, Any, Path], Any] | None  # None: it takes no value
    kinds: frozenset[str]
    python: Callable[[Any, Any, datetime], bool]
    sql: Callable[[_Target, Any, datetime], ColumnElement[bool]]


_ANY_KIND = frozenset(FIELD_TYPES)
_LISTABLE = frozenset({"string", "date", "number", "bool"})
_TEXT = frozenset({"string"})
_ORDERED = frozenset({"number", "datetime", "date"})
_TIME = frozenset({"datetime"})
_OPS: dict[str, _Op] = {
    "eq": _Op(_parse_scalar, _ANY_KIND, _py_eq, _sql_eq),
    "ne": _Op(_parse_scalar, _ANY_KIND, _py_not(_py_eq), _negate(_sql_eq)),
    "in": _Op(_parse_list, _LISTABLE, _py_in, _sql_in),
    "not_in": _Op(_parse_list, _LISTABLE, _py_not(_py_in), _negate(_sql_in)),
    "contains": _Op(_parse_text, _TEXT, _py_text(lambda a, v: v in a), _sql_like("%", "%")),
    "starts_with": _Op(_parse_text, _TEXT, _py_text(str.startswith), _sql_like("", "%")),
    "ends_with": _Op(_parse_text, _TEXT, _py_text(str.endswith), _sql_like("%", "")),
    "is_empty": _Op(None, _ANY_KIND, _py_is_empty, _sql_is_empty),
    "is_not_empty": _Op(None, _ANY_KIND, _py_not(_py_is_empty), _negate(_sql_is_empty)),
    "gt": _Op(_parse_bound, _ORDERED, _py_compare(operator.gt), _sql_compare(operator.gt)),
    "lt": _Op(_parse_bound, _ORDERED, _py_compare(operator.lt), _sql_compare(operator.lt)),
    "older_than_days": _Op(_parse_days, _TIME, _py_older, _sql_older),
    "newer_than_days": _Op(_parse_days, _TIME, _py_newer, _sql_newer),
}  # fmt: skip
OPERATORS = tuple(_OPS)
_LIST_OPS = frozenset(op for op, row in _OPS.items() if row.value is _parse_list)
_DAYS_OPS = frozenset(op for op, row in _OPS.items() if row.value is _parse_days)
_NO_VALUE_OPS = frozenset(op for op, row in _OPS.items() if row.value is None)
_KIND_OPS = {kind: frozenset(op for op, row in _OPS.items() if kind in row.kinds)
             for kind in FIELD_TYPES}  # fmt: skip


# --- back to JSON ----------------------------------------------------------------------------


def to_doc(rule: Rule) -> Any:
    """The JSON document of a rule, as parse_rule reads it, for storing a parsed rule."""
    match rule:
        case AllOf(rules):
            return {"all": [to_doc(child) for child in rules]}
        case AnyOf(rules):
            return {"any": [to_doc(child) for child in rules]}
        case Not(child):
            return {"not": to_doc(child)}
        case Condition(field, op, value):
            return _condition_doc(field, op, value)
    raise TypeError(f"not a rule: {rule!r}")


def _condition_doc(field: str, op: str, value: Any) -> dict[str, Any]:
    """A condition as JSON: lists as lists, datetimes as ISO-8601 UTC, no value where none."""
    doc: dict[str, Any] = {"field": field, "op": op}
    if op in _NO_VALUE_OPS:
        return doc
    doc["value"] = [_doc_value(v) for v in value] if isinstance(value, tuple) else _doc_value(value)
    return doc


def _doc_value(value: Any) -> Any:
    """A value as JSON: datetimes as ISO-8601 UTC, dates as YYYY-MM-DD, the rest as it is."""
    if isinstance(value, datetime):
        return iso(value) if value.microsecond % 1000 == 0 else value.isoformat()
    return value.isoformat() if isinstance(value, date) else value
