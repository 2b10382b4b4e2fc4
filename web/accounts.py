"""Web accounts and API tokens: roles, scrypt-hashed passwords, throttled sign-in, hashed tokens.

Roles are ordered: a viewer reads lists, dashboards and reports; an author also builds and runs
workflows; an admin also manages the vault, integrations and accounts. Services take a Session
and never commit.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from inventory.errors import NotFoundError
from inventory.models import Account, ApiToken, LoginThrottle
from web.errors import AccountError, AuthError, LoginThrottledError

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "account_for_token",
    "add_account",
    "authenticate",
    "create_token",
    "get_account",
    "list_accounts",
    "list_tokens",
    "revoke_token",
    "role_allows",
    "set_disabled",
    "set_password",
    "set_role",
]

ROLES = ("viewer", "author", "admin")
MIN_PASSWORD = 8
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
TOKEN_PREFIX = "ivs_"
# "Last used" is kept to the minute, so a busy script does not write on every request.
LAST_USED_EVERY = timedelta(minutes=1)
_BAD_LOGIN = "wrong name or password"


@functools.cache
def _dummy_hash() -> str:
    """A real hash to check when the name is unknown, so timing does not tell which names exist."""
    return generate_password_hash(secrets.token_hex(8), method="scrypt")


def role_allows(have: str, need: str) -> bool:
    """Whether a role includes another: admin ⊇ author ⊇ viewer."""
    return ROLES.index(have) >= ROLES.index(need)


def _name_key(name: str) -> str:
    """Account names match case-insensitively."""
    return name.strip().casefold()


def _check_role(role: str) -> str:
    """A known role, or a one-line error listing them."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> str:
    """A password long enough to resist guessing."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD} characters")
    return password


def add_account(session: Session, name: str, password: str, role: str) -> Account:
    """Create an account; its name is unique regardless of case."""
    name = name.strip()
    if not name or len(name) > 200:
        raise AccountError("account name must be 1 to 200 characters")
    _check_role(role)
    if session.scalar(select(Account.id).where(Account.name_key == _name_key(name))) is not None:
        raise AccountError(f"account {name!r} already exists")
    account = Account(
        name=name,
        name_key=_name_key(name),
        password_hash=generate_password_hash(_check_password(password), method="scrypt"),
        role=role,
    )
    session.add(account)
    session.flush()
    return account


def get_account(session: Session, name: str) -> Account:
    """The account with this name, or a not-found error naming it."""
    account = session.scalar(select(Account).where(Account.name_key == _name_key(name)))
    if account is None:
        raise NotFoundError(f"no account named {name!r}")
    return account


def list_accounts(session: Session) -> list[Account]:
    """Every account, by name."""
    return list(session.scalars(select(Account).order_by(Account.name_key)))


def set_password(session: Session, name: str, password: str) -> Account:
    """Replace an account's password."""
    account = get_account(session, name)
    account.password_hash = generate_password_hash(_check_password(password), method="scrypt")
    return account


def set_role(session: Session, name: str, role: str) -> Account:
    """Change an account's role, keeping at least one enabled admin."""
    account = get_account(session, name)
    if account.role == "admin" and _check_role(role) != "admin" and _admins(session) <= 1:
        raise AccountError("cannot demote the last admin: make another admin first")
    account.role = _check_role(role)
    return account


def set_disabled(session: Session, name: str, disabled: bool) -> Account:
    """Disable or enable an account, keeping at least one enabled admin."""
    account = get_account(session, name)
    if disabled and account.role == "admin" and not account.disabled and _admins(session) <= 1:
        raise AccountError("cannot disable the last admin: make another admin first")
    account.disabled = disabled
    return account


def _admins(session: Session) -> int:
    """How many enabled admins there are."""
    query = select(func.count()).where(Account.role == "admin", Account.disabled.is_(False))
    return int(session.scalar(query) or 0)


def authenticate(session: Session, name: str, password: str, *, now: datetime) -> Account:
    """The account for a name and password; failures count towards a short lockout per name."""
    key = _name_key(name)
    throttle = session.get(LoginThrottle, key)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
        raise LoginThrottledError(f"too many failed sign-ins: try again in {minutes} minutes")
    account = session.scalar(select(Account).where(Account.name_key == key))
    hashed = account.password_hash if account is not None else _dummy_hash()
    ok = check_password_hash(hashed, password)
    if account is None or not ok or account.disabled:
        _count_failure(session, key, throttle, now)
        raise AuthError(_BAD_LOGIN)
    if throttle is not None:
        session.delete(throttle)
    account.last_login_at = now
    return account


def _count_failure(
    session: Session, key: str, throttle: LoginThrottle | None, now: datetime
) -> None:
    """Record a failed sign-in; the fifth within the window locks the name for a while."""
    if throttle is None:
        throttle = LoginThrottle(name_key=key, failures=0)
        session.add(throttle)
    if throttle.first_failure_at is None or now - throttle.first_failure_at > FAILURE_WINDOW:
        throttle.failures, throttle.first_failure_at, throttle.locked_until = 0, now, None
    throttle.failures += 1
    if throttle.failures >= MAX_FAILURES:
        throttle.locked_until = now + LOCKOUT
    session.flush()


def _token_hash(token: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 is a safe way to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, account_name: str, label: str | None) -> tuple[ApiToken, str]:
    """A new API token for an account: the stored row and the token itself, shown only once."""
    account = get_account(session, account_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        account=account,
        name=(label or "token").strip()[:200] or "token",
        token_hash=_token_hash(token),
        hint=f"…{token[-4:]}",
    )
    session.add(row)
    session.flush()
    return row, token


def list_tokens(session: Session, account_name: str | None = None) -> list[ApiToken]:
    """Tokens (never their value), newest first, of one account or of all."""
    query = select(ApiToken).join(Account).order_by(ApiToken.id.desc())
    if account_name is not None:
        query = query.where(Account.name_key == _name_key(account_name))
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    """Revoke a token by id; it stops working at once."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(f"no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def account_for_token(session: Session, token: str, *, now: datetime) -> Account:
    """The enabled account a live bearer token belongs to; anything else is one auth error."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or row.account.disabled:
        raise AuthError("invalid or revoked API token")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
    return row.account
