"""Lever user records are validated and typed, keeping Lever's own camelCase field names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.errors import ConnectorError, RecordError
from connector.lever.schemas import MAX_MS, LeverUserSchema, load_user

CREATED_MS = 1733206956064


def lever_user(**overrides: Any) -> dict[str, Any]:
    """A user exactly as Lever sends it: every key present, optional ones null."""
    user = {
        "id": "c21d911f-aaaa-4bbb-8ccc-0123456789ab",
        "name": "Ann Example",
        "username": "ann",
        "email": "ann@example.com",
        "accessRole": "super admin",
        "photo": None,
        "createdAt": CREATED_MS,
        "deactivatedAt": None,
        "externalDirectoryId": None,
        "linkedContactIds": None,
        "jobTitle": None,
        "managerId": None,
    }
    return {**user, **overrides}


def test_a_full_record_loads_with_typed_values_under_lever_names() -> None:
    record = load_user(
        lever_user(
            deactivatedAt=CREATED_MS + 1000,
            lastLoggedInAt=CREATED_MS + 2000,
            linkedContactIds=["x-1", "x-2"],
            jobTitle="Recruiter",
        )
    )
    assert record["id"] == "c21d911f-aaaa-4bbb-8ccc-0123456789ab"
    assert record["accessRole"] == "super admin"
    assert record["createdAt"] == datetime(2024, 12, 3, 6, 22, 36, 64000, tzinfo=UTC)
    assert record["deactivatedAt"] == datetime(2024, 12, 3, 6, 22, 37, 64000, tzinfo=UTC)
    assert record["lastLoggedInAt"].tzinfo is UTC
    assert record["linkedContactIds"] == ["x-1", "x-2"]
    assert record["jobTitle"] == "Recruiter"


def test_unknown_keys_are_kept_as_they_are_for_custom_mappings() -> None:
    record = load_user(lever_user(customRole={"id": "r1"}, newFlag=True))
    assert record["customRole"] == {"id": "r1"}
    assert record["newFlag"] is True


def test_missing_optional_keys_load_as_none() -> None:
    record = load_user({"id": "u1", "email": "a@example.com"})
    optional = ["name", "username", "accessRole", "photo", "externalDirectoryId", "jobTitle"]
    optional += ["managerId", "linkedContactIds", "createdAt", "deactivatedAt", "lastLoggedInAt"]
    assert {name: record[name] for name in optional} == dict.fromkeys(optional)


def test_the_email_is_stripped() -> None:
    assert load_user(lever_user(email="  Ann@Example.com \n"))["email"] == "Ann@Example.com"


@pytest.mark.parametrize("ms", [0, CREATED_MS, MAX_MS])
def test_timestamps_are_milliseconds_across_the_whole_range(ms: int) -> None:
    assert load_user(lever_user(createdAt=ms))["createdAt"].timestamp() == pytest.approx(ms / 1000)


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"email": None}, "c21d911f-aaaa-4bbb-8ccc-0123456789ab", "email: Field may not be null."),
        ({"email": "ann.example.com"}, "ann.example.com", "email: Not an email address."),
        ({"id": ""}, "ann@example.com", "id: Must not be blank."),
        ({"id": 42}, "ann@example.com", "id: Not a valid string."),
        (
            {"deactivatedAt": 1733206956.064},
            "ann@example.com",
            "deactivatedAt: Not an integer number of milliseconds.",
        ),
        ({"deactivatedAt": -1}, "ann@example.com", "deactivatedAt: Milliseconds out of range."),
        (
            {"deactivatedAt": "1733206956064"},
            "ann@example.com",
            "deactivatedAt: Not an integer number of milliseconds.",
        ),
    ],
)
def test_a_bad_field_names_the_record_and_the_field(
    overrides: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(RecordError) as caught:
        load_user(lever_user(**overrides))
    assert (caught.value.key, str(caught.value)) == (key, message)


@pytest.mark.parametrize(
    ("overrides", "field", "loaded"),
    [
        ({"createdAt": True}, "createdAt", None),
        ({"createdAt": "1733206956064"}, "createdAt", None),
        ({"lastLoggedInAt": -1}, "lastLoggedInAt", None),
        ({"createdAt": MAX_MS + 1}, "createdAt", None),
        ({"name": ["Ann"]}, "name", ["Ann"]),
        ({"jobTitle": {"a": 1}}, "jobTitle", {"a": 1}),
        ({"accessRole": True}, "accessRole", True),
        ({"linkedContactIds": ["a", 7]}, "linkedContactIds", ["a", 7]),
    ],
)
def test_an_odd_informative_field_never_refuses_the_record(
    overrides: dict[str, Any], field: str, loaded: Any
) -> None:
    """Only the id, the email and the deactivation time can make a record an error."""
    assert load_user(lever_user(**overrides))[field] == loaded


def test_several_problems_are_joined_on_one_line() -> None:
    with pytest.raises(RecordError) as caught:
        load_user({"name": "x"})
    assert caught.value.key == "<unknown>"
    assert (
        str(caught.value)
        == "id: Missing data for required field.; email: Missing data for required field."
    )


@pytest.mark.parametrize("raw", [None, [], "ann@example.com", 7])
def test_a_record_that_is_not_an_object_is_a_record_error(raw: Any) -> None:
    with pytest.raises(RecordError, match=r"^record: Not a JSON object\.$") as caught:
        load_user(raw)
    assert caught.value.key == "<unknown>"


def test_a_record_error_is_a_skippable_connector_error_without_a_status() -> None:
    with pytest.raises(ConnectorError) as caught:
        load_user({})
    assert isinstance(caught.value, RecordError)
    assert caught.value.status is None


def test_the_schema_can_be_used_directly_and_keeps_unknown_keys() -> None:
    assert LeverUserSchema().load(lever_user(extra=1))["extra"] == 1
