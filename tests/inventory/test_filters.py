"""The one `field:op:value` filter form, shared by list pages, saved views and the API."""

from __future__ import annotations

import pytest

from inventory.errors import RuleError
from inventory.rules import AllOf, Condition, FieldSpec, parse_filter, parse_filters

FIELDS = {
    "email": FieldSpec("email"),
    "role": FieldSpec("role"),
    "score": FieldSpec("score", "number"),
    "admin": FieldSpec("admin", "bool"),
    "seen": FieldSpec("seen", "datetime"),
    "custom.cost:centre": FieldSpec("custom.cost:centre"),
    "custom.cost": FieldSpec("custom.cost"),
}


def one(text: str) -> Condition:
    rule = parse_filter(text, FIELDS)
    assert isinstance(rule, Condition)
    return rule


@pytest.mark.parametrize(
    ("text", "value"),
    [("score:eq:12", 12), ("score:gt:1e3", 1000.0), ("score:lt:-0.5", -0.5)],
)
def test_numbers_are_read_as_numbers_for_number_fields(text: str, value: float) -> None:
    got = one(text).value
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text", ["score:eq:nan", "score:eq:inf", "score:eq:twelve"])
def test_a_number_field_refuses_what_is_not_a_finite_number(text: str) -> None:
    with pytest.raises(RuleError, match=f"filter '{text}'"):
        parse_filter(text, FIELDS)


def test_text_values_keep_their_spaces_colons_and_look_of_numbers() -> None:
    assert one("role:eq: Team lead ").value == " Team lead "
    assert one("email:eq:a:b@x").value == "a:b@x"
    assert one("role:eq:1e3").value == "1e3"


def test_list_items_are_split_on_commas_and_stripped() -> None:
    assert one("role:in:Admin, Interviewer ,Employee").value == (
        "Admin",
        "Interviewer",
        "Employee",
    )


def test_true_and_false_for_bool_fields_and_whole_days() -> None:
    assert one("admin:eq:TRUE").value is True
    assert one("seen:older_than_days: 30").value == 30


def test_the_longest_known_field_name_wins_even_with_colons() -> None:
    assert one("custom.cost:centre:eq:EU-1").field == "custom.cost:centre"
    assert (one("custom.cost:eq:x:y").field, one("custom.cost:eq:x:y").value) == (
        "custom.cost",
        "x:y",
    )


def test_an_operator_without_a_value_needs_none() -> None:
    assert one("role:is_empty").op == "is_empty"


@pytest.mark.parametrize("text", ["status", "role:", ":eq:x", ""])
def test_a_filter_without_field_and_operator_names_the_form(text: str) -> None:
    with pytest.raises(RuleError, match=r"write it as field:op:value, e\.g\. status:eq:active"):
        parse_filter(text, FIELDS)


def test_an_unknown_field_or_operator_names_the_filter() -> None:
    with pytest.raises(RuleError, match="filter 'colour:eq:red'"):
        parse_filter("colour:eq:red", FIELDS)
    with pytest.raises(RuleError, match="filter 'role:like:x'"):
        parse_filter("role:like:x", FIELDS)


def test_several_filters_all_hold_and_none_is_no_rule() -> None:
    assert parse_filters([], FIELDS) is None
    both = parse_filters(["role:eq:a", "email:contains:x"], FIELDS)
    assert isinstance(both, AllOf) and len(both.rules) == 2
