"""Accounts and tokens as the services keep them: hashed, throttled, revocable."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.errors import NotFoundError
from inventory.models import Account, ApiToken
from inventory.settings import Settings
from inventory.timeutil import utcnow
from web import accounts
from web.errors import AccountError, AuthError, LoginThrottledError
from web.security import load_secret_key

PASSWORD = "a long enough password"


def test_passwords_are_stored_as_scrypt_hashes_only(session: Session) -> None:
    accounts.add_account(session, "Alice", PASSWORD, "admin")
    stored = session.scalar(select(Account.password_hash))
    assert stored is not None and stored.startswith("scrypt:") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("name", "password", "role", "message"),
    [
        ("bob", "short", "viewer", "password too short: use at least 8 characters"),
        ("bob", PASSWORD, "owner", "unknown role 'owner': use one of viewer, author, admin"),
        ("  ", PASSWORD, "viewer", "account name must be 1 to 200 characters"),
        ("ALICE", PASSWORD, "viewer", "account 'ALICE' already exists"),
    ],
)
def test_bad_accounts_are_refused_with_the_fix(
    session: Session, name: str, password: str, role: str, message: str
) -> None:
    accounts.add_account(session, "alice", PASSWORD, "admin")
    with pytest.raises(AccountError) as caught:
        accounts.add_account(session, name, password, role)
    assert str(caught.value) == message


def test_roles_include_the_ones_below() -> None:
    assert accounts.role_allows("admin", "viewer") and accounts.role_allows("author", "author")
    assert not accounts.role_allows("viewer", "author")
    assert not accounts.role_allows("author", "admin")


def test_sign_in_matches_names_in_any_case_and_stamps_the_time(session: Session) -> None:
    accounts.add_account(session, "Alice", PASSWORD, "author")
    now = utcnow()
    signed = accounts.authenticate(session, "aLICE", PASSWORD, now=now)
    assert signed.name == "Alice" and signed.last_login_at == now


def test_the_fifth_failure_locks_the_name_until_the_lockout_ends(session: Session) -> None:
    accounts.add_account(session, "alice", PASSWORD, "viewer")
    start = utcnow()
    for i in range(5):
        with pytest.raises(AuthError):
            accounts.authenticate(session, "alice", "wrong", now=start + timedelta(seconds=i))
    with pytest.raises(LoginThrottledError, match="try again in 15 minutes"):
        accounts.authenticate(session, "alice", PASSWORD, now=start + timedelta(seconds=10))
    later = start + timedelta(minutes=16)
    assert accounts.authenticate(session, "alice", PASSWORD, now=later).name == "alice"


def test_failures_spread_beyond_the_window_never_lock(session: Session) -> None:
    accounts.add_account(session, "alice", PASSWORD, "viewer")
    start = utcnow()
    for i in range(8):
        with pytest.raises(AuthError) as caught:
            accounts.authenticate(session, "alice", "wrong", now=start + timedelta(minutes=4 * i))
        assert not isinstance(caught.value, LoginThrottledError)


def test_a_disabled_account_cannot_sign_in(session: Session) -> None:
    account = accounts.add_account(session, "alice", PASSWORD, "viewer")
    account.disabled = True
    with pytest.raises(AuthError, match="wrong name or password"):
        accounts.authenticate(session, "alice", PASSWORD, now=utcnow())


def test_the_last_admin_cannot_be_demoted(session: Session) -> None:
    accounts.add_account(session, "alice", PASSWORD, "admin")
    with pytest.raises(AccountError, match="last admin"):
        accounts.set_role(session, "alice", "viewer")
    accounts.add_account(session, "bob", PASSWORD, "admin")
    assert accounts.set_role(session, "alice", "viewer").role == "viewer"


def test_tokens_are_kept_as_hashes_and_stop_working_when_revoked(session: Session) -> None:
    accounts.add_account(session, "alice", PASSWORD, "author")
    row, token = accounts.create_token(session, "alice", "ci")
    assert token.startswith("ivs_") and len(token) > 40
    assert session.scalar(select(ApiToken.token_hash)) != token
    assert row.hint == "…" + token[-4:]
    now = utcnow()
    assert accounts.account_for_token(session, token, now=now).name == "alice"
    assert row.last_used_at == now
    accounts.revoke_token(session, row.id, now=now)
    with pytest.raises(AuthError, match="invalid or revoked API token"):
        accounts.account_for_token(session, token, now=now)
    with pytest.raises(NotFoundError, match="no API token with id 999"):
        accounts.revoke_token(session, 999, now=now)


def test_the_session_key_file_is_made_once_with_owner_only_access(settings: Settings) -> None:
    first = load_secret_key(settings)
    assert load_secret_key(settings) == first and len(first) >= 40
    assert stat.S_IMODE(settings.secret_key_file.stat().st_mode) == 0o600
    assert load_secret_key(replace(settings, secret_key="from-env")) == "from-env"


def test_last_use_is_kept_to_the_minute(session: Session) -> None:
    accounts.add_account(session, "alice", PASSWORD, "viewer")
    row, token = accounts.create_token(session, "alice", "ci")
    first = utcnow()
    accounts.account_for_token(session, token, now=first)
    accounts.account_for_token(session, token, now=first + timedelta(seconds=30))
    assert row.last_used_at == first
    later = first + timedelta(minutes=2)
    accounts.account_for_token(session, token, now=later)
    assert row.last_used_at == later
