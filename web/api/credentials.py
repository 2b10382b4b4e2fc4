"""`/api/v1/credentials`: the vault over HTTP. Secrets go in and never come out: answers carry
the name, kind, a masked hint and timestamps only."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for

from vault.keys import load_keyring
from vault.store import Vault
from web.api import bp, schemas
from web.api.spec import body, operation
from web.http import db, instance_settings
from web.security import requires


def _vault() -> Vault:
    """The vault in this request's session."""
    return Vault(db(), load_keyring(instance_settings()))


@bp.get("/credentials")
@requires("admin")
@operation("credentials", schemas.CredentialList)
def list_credentials() -> dict[str, Any]:
    """List credentials with masked hints."""
    items = [info.to_dict() for info in _vault().list()]
    return schemas.CredentialList().dump({"items": items})


@bp.post("/credentials")
@requires("admin")
@operation(
    "credentials", schemas.Credential, status=201, body=schemas.CredentialCreate,
    errors=(409,), headers={201: ("Location",)},
)  # fmt: skip
def create_credential() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Store a new credential (for Lever: the API key as username)."""
    new = body(schemas.CredentialCreate())
    info = _vault().add(new["name"], new["username"], new["password"], new["kind"])
    where = url_for("api.get_credential", name=info.name)
    return schemas.Credential().dump(info.to_dict()), 201, {"Location": where}


@bp.get("/credentials/<name>")
@requires("admin")
@operation("credentials", schemas.Credential)
def get_credential(name: str) -> dict[str, Any]:
    """Show one credential (masked)."""
    return schemas.Credential().dump(_vault().info(name).to_dict())


@bp.patch("/credentials/<name>")
@requires("admin")
@operation("credentials", schemas.Credential, body=schemas.CredentialUpdate)
def update_credential(name: str) -> dict[str, Any]:
    """Change a credential's username, password or kind; what is not given is kept."""
    changes = body(schemas.CredentialUpdate())
    vault = _vault()
    old = vault.get(name)
    info = vault.add(
        name,
        changes.get("username", old.username),
        changes.get("password", old.password),
        changes.get("kind", old.kind),
        replace=True,
    )
    return schemas.Credential().dump(info.to_dict())


@bp.delete("/credentials/<name>")
@requires("admin")
@operation("credentials", responses={204: None})
def delete_credential(name: str) -> Response:
    """Remove a credential."""
    _vault().delete(name)
    return Response(status=204)
