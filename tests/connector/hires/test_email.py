"""Work emails from the integration's format: folded names, numbered collisions, checked formats."""

from __future__ import annotations

import pytest

from connector.errors import EmailFormatError
from connector.hires.email import check_format, fold, work_email

FORMAT = "{first}.{last}@example.com"


def free(_address: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Ada", "Lovelace", "ada.lovelace@example.com"),
        ("Zoë", "Ångström", "zoe.angstrom@example.com"),
        ("Jürgen", "Großmann", "jurgen.grossmann@example.com"),
        ("Søren", "Kierkegaard", "soren.kierkegaard@example.com"),
        ("Anne-Marie", "O'Neil da Silva", "anne-marie.oneildasilva@example.com"),
        ("Łukasz", "Żółć", "lukasz.zolc@example.com"),
        ("Cher", None, "cher@example.com"),
    ],
)
def test_names_fold_to_plain_lower_case_addresses(
    first: str, last: str | None, expected: str
) -> None:
    assert work_email(FORMAT, first, last, free).address == expected


def test_a_taken_address_is_numbered_from_two_and_says_which_was_taken() -> None:
    taken = {"ada.lovelace@example.com", "ada.lovelace2@example.com"}
    given = work_email(FORMAT, "Ada", "Lovelace", taken.__contains__)
    assert given.address == "ada.lovelace3@example.com"
    assert given.instead_of == "ada.lovelace@example.com"


def test_a_free_address_reports_no_collision() -> None:
    assert work_email(FORMAT, "Ada", "Lovelace", free).instead_of is None


def test_initials_placeholders() -> None:
    assert work_email("{f}{last}@corp.example", "Grace", "Hopper", free).address == (
        "ghopper@corp.example"
    )


def test_a_name_without_letters_is_refused() -> None:
    with pytest.raises(EmailFormatError, match="no letters"):
        work_email(FORMAT, "李", "", free)


def test_fold_keeps_digits_and_hyphens_only() -> None:
    assert fold(" Mary-Jane 2nd! ") == "mary-jane2nd"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{first}.{surname}@example.com", "unknown placeholder {surname}"),
        ("first.last@example.com", "must give a name placeholder"),
        ("{first}.{last}", "must give a name placeholder"),
        ("{first}@{last}.com", "must give a name placeholder"),
        ("{first", "cannot read"),
    ],
)
def test_bad_formats_are_refused_naming_the_fix(text: str, message: str) -> None:
    with pytest.raises(EmailFormatError, match=message) as caught:
        check_format(text)
    assert "{first}.{last}@example.com" in str(caught.value)
