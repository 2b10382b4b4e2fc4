"""Credentials over the API: stored, listed, changed and deleted; the secret never comes back."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from inventory.settings import Settings
from tests.web.api.conftest import Bearer, Headers
from vault.keys import load_keyring
from vault.store import Vault

KEY = "lever-api-key-0123456789abcdef"
PASSWORD = "placeholder-pass-xyz"
NEW_KEY = "rotated-key-fedcba9876543210"


def test_credential_lifecycle_never_returns_the_secret(
    client: FlaskClient,
    admin: Headers,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    answers = []
    made = client.post(
        "/api/v1/credentials",
        headers=admin,
        json={"name": "lever-key", "username": KEY, "password": PASSWORD},
    )
    answers.append(made)
    assert made.status_code == 201 and made.headers["Location"] == "/api/v1/credentials/lever-key"
    assert set(made.get_json()) == {"name", "kind", "username_hint", "created_at", "updated_at"}
    assert made.get_json()["username_hint"] == "••••••cdef"
    answers.append(client.get("/api/v1/credentials", headers=admin))
    assert [c["name"] for c in answers[-1].get_json()["items"]] == ["lever-key"]
    answers.append(client.get("/api/v1/credentials/lever-key", headers=admin))
    changed = client.patch(
        "/api/v1/credentials/lever-key", headers=admin, json={"username": NEW_KEY}
    )
    answers.append(changed)
    assert changed.status_code == 200 and changed.get_json()["username_hint"] == "••••••3210"
    with session_factory() as session:
        secret = Vault(session, load_keyring(settings)).get("lever-key")
    assert (secret.username, secret.password) == (NEW_KEY, PASSWORD), "the password was kept"
    answers.append(
        client.post(
            "/api/v1/credentials", headers=admin, json={"name": "lever-key", "username": KEY}
        )
    )
    assert answers[-1].status_code == 409
    for answer in answers:
        text = answer.get_data(as_text=True)
        assert KEY not in text and NEW_KEY not in text and PASSWORD not in text
    deleted = client.delete("/api/v1/credentials/lever-key", headers=admin)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    gone = client.get("/api/v1/credentials/lever-key", headers=admin)
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "not_found"


def test_a_refused_credential_echoes_no_secret(client: FlaskClient, admin: Headers) -> None:
    refused = client.post(
        "/api/v1/credentials",
        headers=admin,
        json={"name": "bad name!", "username": KEY, "password": PASSWORD},
    )
    assert refused.status_code == 400
    assert "invalid credential name 'bad name!'" in refused.get_json()["error"]["message"]
    missing = client.post(
        "/api/v1/credentials", headers=admin, json={"name": "k", "password": PASSWORD}
    )
    assert missing.status_code == 422
    assert missing.get_json()["error"]["details"] == {
        "username": ["Missing data for required field."]
    }
    for answer in (refused, missing):
        assert KEY not in answer.get_data(as_text=True)
        assert PASSWORD not in answer.get_data(as_text=True)


def test_only_admins_see_credentials(client: FlaskClient, bearer: Bearer) -> None:
    for role in ("viewer", "author"):
        refused = client.get("/api/v1/credentials", headers=bearer(role))
        assert refused.status_code == 403
        assert refused.get_json()["error"]["message"] == (
            f"this needs the admin role; you are signed in as {role}"
        )
