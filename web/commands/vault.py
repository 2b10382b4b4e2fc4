"""`invsync vault`: credentials, encrypted at rest."""

from __future__ import annotations

import sys

import click

from vault.keys import generate_key, load_keyring
from vault.rotation import rotate_master_key
from vault.store import Vault
from web.commands.common import TABLE_OR_JSON, pass_ctx
from web.context import AppContext
from web.output import write_json, write_table


@click.group()
def vault() -> None:
    """Credentials, encrypted at rest."""


@vault.command("add")
@click.argument("name")
@click.option("--username", required=True, help="For Lever: the API key.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--replace", is_flag=True, help="Overwrite a credential of the same name.")
@pass_ctx
def vault_add(
    app: AppContext, name: str, username: str, password_stdin: bool, replace: bool
) -> None:
    """Store a credential (Lever: key as username, any placeholder password)."""
    password = _read_password(password_stdin)
    with app.transaction() as session:
        info = Vault(session, load_keyring(app.settings)).add(
            name, username, password, replace=replace
        )
    click.echo(f"stored credential {info.name!r} (username {info.hint})")


def _read_password(from_stdin: bool) -> str:
    """The password from stdin (one line, kept as typed), a hidden prompt on a TTY, else empty."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if sys.stdin.isatty():
        return str(click.prompt("Password (Lever ignores it; a space will do)", hide_input=True,
                                default=" ", show_default=False))  # fmt: skip
    return ""


@vault.command("list")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table")
@pass_ctx
def vault_list(app: AppContext, fmt: str) -> None:
    """List credentials with a masked hint; secrets are never shown."""
    with app.transaction() as session:
        rows = [i.to_dict() for i in Vault(session, load_keyring(app.settings)).list()]
    if fmt == "json":
        write_json(rows, sys.stdout)
    else:
        write_table(rows, ["name", "kind", "username_hint", "updated_at"], sys.stdout)


@vault.command("delete")
@click.argument("name")
@pass_ctx
def vault_delete(app: AppContext, name: str) -> None:
    """Remove a credential."""
    with app.transaction() as session:
        Vault(session, load_keyring(app.settings)).delete(name)
    click.echo(f"deleted credential {name!r}")


@vault.command("generate-key")
def vault_generate_key() -> None:
    """Print a new master key, for setting INVSYNC_MASTER_KEY yourself (e.g. "NEW,OLD")."""
    click.echo(generate_key())


@vault.command("rotate-key")
@pass_ctx
def vault_rotate(app: AppContext) -> None:
    """Re-encrypt every credential under a new master key."""
    result = rotate_master_key(app.settings, app.sessions)
    click.echo(str(result))


COMMANDS = [vault]
