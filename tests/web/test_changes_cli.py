"""`invsync changes list` as users and scripts meet it: real processes, real exit codes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from inventory.changelog import set_actor
from inventory.models import Person, SaasApp, SaasUser
from inventory.records import add_records, set_fields
from inventory.timeutil import utcnow
from tests.web.conftest import Run


@pytest.fixture
def history(session: Session) -> None:
    """Four changes: run 7 adds a person and an account, run 8 renames, a web user deactivates."""
    set_actor(session, "integration", "lever", 7)
    person = Person(email="Zoë@Example.com", email_key="zoë@example.com", full_name="Zoë")
    account = SaasUser(app=SaasApp(name="Lever"), external_id="u-1", person=person)
    add_records(session, [person, account], utcnow())
    session.commit()
    set_actor(session, "integration", "lever", 8)
    set_fields(session, person, {"full_name": "Zoë Müller"}, utcnow())
    session.commit()
    set_actor(session, "web", "admin@example.com")
    set_fields(session, account, {"status": "deactivated"}, utcnow())
    session.commit()


def test_json_lists_every_change_newest_first_in_the_stable_shape(
    invsync: Run, history: None
) -> None:
    listed = invsync("changes", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 4
    assert [(r["action"], r["object"]["type"]) for r in rows[:2]] == [
        ("deactivate", "saas_user"),
        ("update", "person"),
    ]
    assert {(r["action"], r["object"]["type"]) for r in rows[2:]} == {
        ("create", "saas_user"),
        ("create", "person"),
    }
    newest = rows[0]
    assert set(newest) == {"id", "at", "actor", "run_id", "action", "object", "before", "after"}
    assert newest["actor"] == {"kind": "web", "name": "admin@example.com"}
    assert newest["run_id"] is None
    assert newest["object"]["key"] == "u-1" and isinstance(newest["object"]["id"], int)
    assert (newest["before"], newest["after"]) == ({"status": "active"}, {"status": "deactivated"})
    assert newest["at"].endswith("Z") and len(newest["at"]) == len("2024-12-03T06:22:36.064Z")
    renamed = rows[1]
    assert (renamed["before"], renamed["after"]) == (
        {"full_name": "Zoë"},
        {"full_name": "Zoë Müller"},
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--object", "person"], [("update", 8), ("create", 7)]),
        (["--object", "saas_user"], [("deactivate", None), ("create", 7)]),
        (["--run", "8"], [("update", 8)]),
        (["--run", "7", "--object", "saas_user"], [("create", 7)]),
        (["--limit", "1"], [("deactivate", None)]),
        (["--run", "99"], []),
    ],
)
def test_filters(invsync: Run, history: None, args: list[str], expected: list[object]) -> None:
    listed = invsync("changes", "list", "--format", "json", *args)
    assert listed.returncode == 0, listed.stderr
    assert [(r["action"], r["run_id"]) for r in json.loads(listed.stdout)] == expected


def test_the_table_shows_one_line_per_change(invsync: Run, history: None) -> None:
    listed = invsync("changes", "list")
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["id", "at", "actor", "run", "action", "object", "key", "fields"]
    assert len(lines) == 4
    assert "web:admin@example.com" in lines[0] and "deactivate" in lines[0]
    assert "integration:lever" in lines[1] and "full_name" in lines[1]


def test_an_unknown_object_type_is_a_usage_error(invsync: Run) -> None:
    listed = invsync("changes", "list", "--object", "laptop")
    assert listed.returncode == 2
    assert "Traceback" not in listed.stderr
    [line] = listed.stderr.strip().splitlines()
    assert "laptop" in line
