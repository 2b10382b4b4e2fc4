"""Last activity imported from a CSV: roles and last logins set, bad rows reported by line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from inventory.errors import ConfigError, NotFoundError
from inventory.settings import Settings
from tests.conftest import Sim, sync_lever
from tests.workflows.conftest import NOW, accounts
from workflows.logins import import_activity, parse_activity


def lines(text: str) -> list[str]:
    """A CSV file's lines."""
    return text.splitlines(keepends=True)


def test_rows_set_role_and_last_login_and_bad_rows_are_reported(
    synced: Sim, session: Session
) -> None:
    users = [u for u in synced[0].users if not u["deactivatedAt"]]
    first, second = users[0], users[1]
    text = (
        "\ufeffEmail,Role,Last_Activity\n"
        f"{first['email'].upper()},admin,2026-06-02\n"
        f"{second['email']},,1780444800000\n"
        "nobody@example.com,admin,2021-01-01\n"
        ",admin,2021-01-01\n"
        f"{first['email']},admin,last tuesday\n"
    )
    result = import_activity(session, "Lever", lines(text), NOW)
    assert (result.rows, result.updated, result.unchanged) == (5, 2, 0)
    assert [(e.line, e.message.split(" ")[0]) for e in result.errors] == [
        (4, "no"), (5, "no"), (6, "last_activity"),
    ]  # fmt: skip
    assert "no Lever SaaS user has this email" in result.errors[0].message
    found = accounts(session)
    assert found[first["id"]].role == "admin"
    assert found[first["id"]].last_login_at == datetime(2026, 6, 2, tzinfo=UTC)
    assert found[second["id"]].last_login_at == datetime(2026, 6, 3, tzinfo=UTC)
    assert found[second["id"]].role == second["accessRole"]
    assert result.to_dict()["errors"] == 3


def test_last_login_only_moves_forward(synced: Sim, session: Session) -> None:
    user = next(u for u in synced[0].users if u["lastLoggedInAt"])
    result = import_activity(session, "Lever", lines(f"email,last_activity\n{user['email']},"
                                                     "2001-01-01T00:00:00Z\n"), NOW)  # fmt: skip
    assert (result.updated, result.unchanged) == (0, 1)
    assert accounts(session)[user["id"]].last_login_at == parse_activity(
        str(user["lastLoggedInAt"])
    )


def test_an_address_with_two_accounts_is_not_guessed(
    synced: Sim, settings: Settings, session_factory: sessionmaker[Session], session: Session
) -> None:
    first = synced[0].users[0]
    synced[0].add_user(email=first["email"])
    sync_lever(session_factory, settings)
    result = import_activity(session, "Lever", lines(f"email\n{first['email']}\n"), NOW)
    assert "2 Lever SaaS users have this email" in result.errors[0].message


@pytest.mark.parametrize(
    ("text", "error"),
    [("role,last_activity\nadmin,2020-01-01\n", ConfigError), ("", ConfigError)],
)
def test_a_file_without_an_email_column_is_refused(
    synced: Sim, session: Session, text: str, error: type[Exception]
) -> None:
    with pytest.raises(error, match="no email column"):
        import_activity(session, "Lever", lines(text), NOW)


def test_an_unknown_app_is_refused(synced: Sim, session: Session) -> None:
    with pytest.raises(NotFoundError, match="no SaaS app named 'Lucidchart'"):
        import_activity(session, "Lucidchart", lines("email\n"), NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T09:30:00Z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01 11:30:00+02:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("1714555800000", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_activity_formats(text: str, expected: datetime) -> None:
    assert parse_activity(text) == expected
