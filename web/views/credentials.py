"""`/credentials`: the vault, write-only: add, replace and delete credentials; list masked hints.

A stored secret never comes back to a page: the list shows the vault's masked hint, the edit form
starts empty, and a blank field keeps what is stored.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from connector.usage import require_unused, usage_by_credential
from inventory.errors import InvsyncError
from vault.errors import CredentialExistsError
from vault.keys import load_keyring
from vault.store import Vault
from web.failures import status_of
from web.http import db, instance_settings
from web.security import requires

bp = Blueprint("credentials", __name__)

# Lever needs no password, but Basic auth wants one: a single space, as Lever's own guide says.
DEFAULT_PASSWORD = " "
Page = str | tuple[str, int] | Response


def _vault() -> Vault:
    """The vault in this request's session."""
    return Vault(db(), load_keyring(instance_settings()))


@bp.get("/credentials")
@requires("admin")
def index() -> Page:
    """Stored credentials with their masked hints and where each is used, and the add form."""
    return _index()


def _index(error: str | None = None, status: int = 200, form: dict[str, str] | None = None) -> Page:
    """The list page, with a refusal and the non-secret fields typed, when there is one."""
    page = render_template(
        "credentials/index.html",
        credentials=_vault().list(),
        usage=usage_by_credential(db()),
        error=error,
        form=form or {},
    )
    return page, status


@bp.post("/credentials")
@requires("admin")
def add() -> Page:
    """Store a new credential (username = the Lever API key)."""
    name = request.form.get("name", "").strip()
    password = request.form.get("password") or DEFAULT_PASSWORD
    try:
        _vault().add(name, request.form.get("username", ""), password, _kind())
    except CredentialExistsError:
        message = f"a credential named {name!r} already exists: use its Edit link to replace it"
        return _index(message, 409, {"name": name, "kind": _kind()})
    except InvsyncError as exc:
        return _index(str(exc), status_of(exc), {"name": name, "kind": _kind()})
    flash(f"credential {name!r} stored", "success")
    return redirect(url_for("credentials.index"))


def _kind() -> str:
    """The credential kind the form chose (basic unless said otherwise)."""
    return request.form.get("kind") or "basic"


@bp.get("/credentials/<name>/edit")
@requires("admin")
def edit(name: str) -> Page:
    """The replace form: empty secret fields, since stored secrets are never shown."""
    return _edit_page(name)


def _edit_page(name: str, error: str | None = None, status: int = 200) -> Page:
    """The edit page of one credential."""
    info = _vault().info(name)
    users = usage_by_credential(db()).get(name)
    page = render_template("credentials/edit.html", info=info, usage=users, error=error)
    return page, status


@bp.post("/credentials/<name>")
@requires("admin")
def update(name: str) -> Page:
    """Replace a credential's username and/or password; a blank field keeps the stored value."""
    vault = _vault()
    username, password = request.form.get("username", ""), request.form.get("password", "")
    try:
        if not (username and password):
            old = vault.get(name)
            username, password = username or old.username, password or old.password
        vault.add(name, username, password, vault.info(name).kind, replace=True)
    except InvsyncError as exc:
        return _edit_page(name, str(exc), status_of(exc))
    flash(f"credential {name!r} replaced", "success")
    return redirect(url_for("credentials.index"))


@bp.post("/credentials/<name>/delete")
@requires("admin")
def delete(name: str) -> Page:
    """Remove a credential, unless an integration or workflow still uses it."""
    vault = _vault()
    vault.info(name)
    try:
        require_unused(db(), name)
    except InvsyncError as exc:
        return _index(str(exc), 409)
    vault.delete(name)
    flash(f"credential {name!r} deleted", "success")
    return redirect(url_for("credentials.index"))
