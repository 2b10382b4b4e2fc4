"""The fast validation path agrees with the marshmallow schema on every record it accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.lever.schemas import _SCHEMA, _fast, load_user
from connector.lever.sim import generate_users

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 2**62), st.floats(allow_nan=False),
    st.text(max_size=8), st.lists(st.text(max_size=3), max_size=2), st.just(" "), st.just("a@b"),
)  # fmt: skip
KEYS = [
    "id", "email", "name", "username", "accessRole", "photo", "externalDirectoryId", "jobTitle",
    "managerId", "linkedContactIds", "createdAt", "deactivatedAt", "lastLoggedInAt", "extra",
]  # fmt: skip


def schema_result(raw: dict[str, Any]) -> dict[str, Any] | None:
    """What marshmallow alone makes of a record, or None when it refuses it."""
    errors = _SCHEMA.validate(raw)
    return None if errors else _SCHEMA.load(raw)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), ODD_VALUES))
def test_fast_path_never_accepts_what_the_schema_refuses(raw: dict[str, Any]) -> None:
    fast = _fast(raw)
    if fast is not None:
        assert fast == schema_result(raw)


def test_fast_path_takes_realistic_records_and_matches_the_schema() -> None:
    users = generate_users(500, seed=11)
    for raw in users:
        fast = _fast(raw)
        assert fast is not None, raw
        assert fast == schema_result(raw)
        assert load_user(raw) == fast


def test_unknown_keys_survive_the_fast_path() -> None:
    raw = {**generate_users(1, seed=2)[0], "team": {"name": "Talent"}}
    assert load_user(raw)["team"] == {"name": "Talent"}
