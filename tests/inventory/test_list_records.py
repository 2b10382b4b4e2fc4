"""Single records for detail pages, list rows with ids for links, and one record's history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from inventory.changelog import list_changes, set_actor
from inventory.errors import ConfigError, NotFoundError
from inventory.models import Person, SaasApp, SaasUser
from inventory.queries import (
    find_app,
    iter_people,
    iter_saas_users,
    list_people,
    list_saas_users,
    person_detail,
    person_to_dict,
    saas_user_detail,
)
from inventory.records import add_records, set_fields

NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def records(session: Session) -> dict[str, int]:
    """Ann with a Lever account, Bob without one, and a Lever user linked to nobody."""
    ann = Person(email="ann@example.com", email_key="ann@example.com", full_name="Ann")
    bob = Person(email="bob@example.com", email_key="bob@example.com", custom={"Desk": "4"})
    lever = SaasApp(name="Lever")
    session.add(lever)
    add_records(session, [ann, bob], NOW)
    linked = SaasUser(
        app_id=lever.id,
        external_id="l-1",
        email="ann@example.com",
        email_key="ann@example.com",
        name="Ann",
        role="admin",
        person_id=ann.id,
    )
    alone = SaasUser(app_id=lever.id, external_id="l-2", email="x@example.com", role="interviewer")
    add_records(session, [linked, alone], NOW)
    return {"ann": ann.id, "bob": bob.id, "linked": linked.id, "alone": alone.id}  # fmt: skip


def test_find_app_ignores_case(session: Session, records: dict[str, int]) -> None:
    assert find_app(session, "LEVER") == "Lever" and find_app(session, "nope") is None


def test_person_detail_has_the_json_shape_id_and_accounts(
    session: Session, records: dict[str, int]
) -> None:
    detail = person_detail(session, records["ann"])
    ann = session.get(Person, records["ann"])
    assert ann is not None
    assert {k: v for k, v in detail.items() if k not in ("id", "saas_users")} == person_to_dict(ann)
    assert detail["id"] == records["ann"]
    [account] = detail["saas_users"]
    assert (account["id"], account["app"], account["role"]) == (records["linked"], "Lever", "admin")
    assert person_detail(session, records["bob"])["saas_users"] == []
    with pytest.raises(NotFoundError, match="no person with id 0"):
        person_detail(session, 0)


def test_saas_user_detail_names_its_person_and_its_app(
    session: Session, records: dict[str, int]
) -> None:
    linked = saas_user_detail(session, records["linked"], app="lever")
    assert linked["person"] == {
        "id": records["ann"],
        "email": "ann@example.com",
        "full_name": "Ann",
    }
    assert linked["person_email"] == "ann@example.com" and linked["id"] == records["linked"]
    assert saas_user_detail(session, records["alone"])["person"] is None
    with pytest.raises(NotFoundError, match="no Other user with id"):
        saas_user_detail(session, records["linked"], app="Other")


def test_rows_carry_ids_only_when_asked(session: Session, records: dict[str, int]) -> None:
    plain = list_people(session, now=NOW).items[0]
    assert "id" not in plain
    with_ids = list_people(session, now=NOW, ids=True).items[0]
    assert with_ids == {"id": records["ann"], **plain}
    users = list_saas_users(session, app="Lever", now=NOW, ids=True).items
    assert [(u["id"], u["person_id"]) for u in users] == [
        (records["linked"], records["ann"]), (records["alone"], None)
    ]  # fmt: skip
    assert [p["id"] for p in iter_people(session, now=NOW, ids=True)] == [
        records["ann"], records["bob"]
    ]  # fmt: skip
    assert "id" not in next(iter_saas_users(session, now=NOW))


def test_one_records_history_newest_first(session: Session, records: dict[str, int]) -> None:
    set_actor(session, "web", "admin")
    bob = session.get(Person, records["bob"])
    assert bob is not None
    set_fields(session, bob, {"role": "admin"}, NOW)
    session.flush()
    history = list(list_changes(session, object_type="person", object_id=records["bob"]))
    assert [c["action"] for c in history] == ["update", "create"]
    assert all(c["object"]["id"] == records["bob"] for c in history)
    with pytest.raises(ConfigError, match="needs its object type"):
        list_changes(session, object_id=records["bob"])
