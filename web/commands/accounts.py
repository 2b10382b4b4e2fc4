"""`invsync user` and `invsync token`: web accounts with roles, and API tokens."""

from __future__ import annotations

import sys
from typing import Any

import click

from inventory.models import Account, ApiToken
from inventory.timeutil import iso, utcnow
from web import accounts
from web.commands.common import TABLE_OR_JSON, pass_ctx
from web.context import AppContext
from web.errors import AccountError
from web.output import write_json, write_table

ROLE = click.Choice(accounts.ROLES)


@click.group()
def user() -> None:
    """Web accounts: viewer (lists, reports), author (+ workflows), admin (everything)."""


def _read_password(from_stdin: bool) -> str:
    """A new password: one line from stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise AccountError("no password given: type it at a terminal or use --password-stdin")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="viewer, author or admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
def user_add(app: AppContext, name: str, role: str, password_stdin: bool) -> None:
    """Create an account that signs in to the web app."""
    password = _read_password(password_stdin)
    with app.transaction() as session:
        account = accounts.add_account(session, name, password, role)
        click.echo(f"added {account.role} {account.name!r}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
def user_passwd(app: AppContext, name: str, password_stdin: bool) -> None:
    """Set an account's password (its open browser sessions end)."""
    password = _read_password(password_stdin)
    with app.transaction() as session:
        account = accounts.set_password(session, name, password)
        click.echo(f"password of {account.name!r} changed")


@user.command("role")
@click.argument("name")
@click.argument("role", type=ROLE)
@pass_ctx
def user_role(app: AppContext, name: str, role: str) -> None:
    """Change an account's role."""
    with app.transaction() as session:
        account = accounts.set_role(session, name, role)
        click.echo(f"{account.name!r} is now {account.role}")


@user.command("list")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def user_list(app: AppContext, fmt: str) -> None:
    """List accounts and their roles."""
    with app.transaction() as session:
        rows = [account_to_dict(a) for a in accounts.list_accounts(session)]
    if fmt == "json":
        write_json(rows, sys.stdout)
    else:
        write_table(rows, ["name", "role", "disabled", "created_at", "last_login_at"], sys.stdout)


def account_to_dict(account: Account) -> dict[str, Any]:
    """An account as JSON: never its password hash."""
    return {
        "id": account.id,
        "name": account.name,
        "role": account.role,
        "disabled": account.disabled,
        "created_at": iso(account.created_at),
        "last_login_at": iso(account.last_login_at) if account.last_login_at else None,
    }


@click.group()
def token() -> None:
    """API tokens: `Authorization: Bearer TOKEN`, acting with the owner's role."""


@token.command("create")
@click.argument("user_name", metavar="USER")
@click.option("--name", "label", default=None, help="A label to tell tokens apart.")
@pass_ctx
def token_create(app: AppContext, user_name: str, label: str | None) -> None:
    """Make a new token for an account and print it once; only its hash is kept."""
    with app.transaction() as session:
        row, secret = accounts.create_token(session, user_name, label)
        click.echo(f"token {row.id} ({row.name!r}) for {row.account.name!r}; copy it now, it is "
                   "not shown again:", err=True)  # fmt: skip
    click.echo(secret)


@token.command("list")
@click.option("--user", "user_name", default=None, help="Only this account's tokens.")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def token_list(app: AppContext, user_name: str | None, fmt: str) -> None:
    """List tokens with their hint (last four characters), never the token."""
    with app.transaction() as session:
        rows = [token_to_dict(t) for t in accounts.list_tokens(session, user_name)]
    if fmt == "json":
        write_json(rows, sys.stdout)
    else:
        columns = ["id", "name", "account", "hint", "created_at", "last_used_at", "revoked_at"]
        write_table(rows, columns, sys.stdout)


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
def token_revoke(app: AppContext, token_id: int) -> None:
    """Revoke a token by id; it stops working at once."""
    with app.transaction() as session:
        row = accounts.revoke_token(session, token_id, now=utcnow())
        click.echo(f"token {row.id} ({row.name!r}) revoked")


def token_to_dict(row: ApiToken) -> dict[str, Any]:
    """A token as JSON: its label, owner and hint, never its value or hash."""
    return {
        "id": row.id,
        "name": row.name,
        "account": row.account.name,
        "hint": row.hint,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at) if row.last_used_at else None,
        "revoked_at": iso(row.revoked_at) if row.revoked_at else None,
    }


COMMANDS = [user, token]
