"""`invsync user` and `invsync token` as admins meet them: real processes and exit codes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.web.conftest import Run
from web.accounts import add_account

PASSWORD = "a long enough password"


def test_admin_adds_accounts_and_lists_them_without_hashes(invsync: Run) -> None:
    added = invsync("user", "add", "alice", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added admin 'alice'"
    listed = invsync("user", "list", "--format", "json")
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["disabled"]) for r in rows] == [("alice", "admin", False)]
    assert "scrypt" not in listed.stdout and PASSWORD not in listed.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "bob", "--role", "admin", "--password-stdin"), "short",
         "invsync: error: password too short: use at least 8 characters"),
        (("user", "add", "bob", "--role", "admin"), "",
         "invsync: error: no password given: type it at a terminal or use --password-stdin"),
        (("token", "create", "nobody"), "", "invsync: error: no account named 'nobody'"),
        (("user", "role", "alice", "viewer"), "",
         "invsync: error: cannot demote the last admin: make another admin first"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_and_exit_2(
    invsync: Run,
    session_factory: sessionmaker[Session],
    args: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    with session_factory.begin() as session:  # in-process: `user add` has a test of its own
        add_account(session, "alice", PASSWORD, "admin")
    done = invsync(*args, stdin=stdin)
    assert done.returncode == 2
    assert done.stderr.strip() == message


def test_a_token_is_printed_once_listed_by_hint_and_revoked(invsync: Run) -> None:
    invsync("user", "add", "alice", "--role", "author", "--password-stdin", stdin=PASSWORD)
    made = invsync("token", "create", "alice", "--name", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("ivs_") and "not shown again" in made.stderr
    listed = json.loads(invsync("token", "list", "--format", "json").stdout)
    assert [(t["name"], t["account"], t["hint"]) for t in listed] == [
        ("ci", "alice", "…" + token[-4:])
    ]
    assert token not in json.dumps(listed)
    revoked = invsync("token", "revoke", str(listed[0]["id"]))
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    again = json.loads(invsync("token", "list", "--format", "json").stdout)
    assert again[0]["revoked_at"] is not None
