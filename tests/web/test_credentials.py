"""The credentials pages: the vault from a browser, write-only, refusing to delete what is used."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from connector import integrations
from inventory.settings import Settings
from tests.conftest import API_KEY
from tests.web.conftest import SignIn, csrf_of
from vault.keys import load_keyring
from vault.masking import mask
from vault.store import Vault
from workflows import store
from workflows.registry import load_registry

NEW_KEY = "replaced-key-9b8a7c6d5e4f-lever"


def add(browser: FlaskClient, name: str, username: str, password: str = "") -> str:
    """Submit the add form; the page answered (after the redirect, when it succeeded)."""
    token = csrf_of(browser, "/credentials")
    form = {"name": name, "username": username, "password": password, "csrf_token": token}
    return browser.post("/credentials", data=form, follow_redirects=True).get_data(as_text=True)


def secret_of(factory: sessionmaker[Session], settings: Settings, name: str) -> tuple[str, str]:
    """What the vault holds for a credential."""
    with factory() as session:
        secret = Vault(session, load_keyring(settings)).get(name)
        return secret.username, secret.password


def test_add_lists_the_masked_hint_and_stores_a_space_password(
    signed_in: SignIn, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    browser = signed_in("admin")
    page = add(browser, "lever-key", API_KEY)
    assert "credential &#39;lever-key&#39; stored" in page
    assert mask(API_KEY) in page and mask(API_KEY).endswith("ever")
    assert "unused" in page
    assert secret_of(session_factory, settings, "lever-key") == (API_KEY, " ")
    for path in ("/credentials", "/credentials/lever-key/edit"):
        assert API_KEY not in browser.get(path).get_data(as_text=True)


def test_edit_replaces_only_what_is_typed_and_never_shows_the_secret(
    signed_in: SignIn, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    browser = signed_in("admin")
    add(browser, "lever-key", API_KEY, "first-password-xyz")
    form = browser.get("/credentials/lever-key/edit").get_data(as_text=True)
    assert API_KEY not in form and "first-password-xyz" not in form
    assert 'name="username" autocomplete="new-password">' in form, "the field starts empty"

    token = csrf_of(browser, "/credentials/lever-key/edit")
    data = {"username": "", "password": "second-password-xyz", "csrf_token": token}
    page = browser.post("/credentials/lever-key", data=data, follow_redirects=True)
    assert "credential &#39;lever-key&#39; replaced" in page.get_data(as_text=True)
    assert secret_of(session_factory, settings, "lever-key") == (API_KEY, "second-password-xyz")

    data = {"username": NEW_KEY, "password": "", "csrf_token": token}
    page = browser.post("/credentials/lever-key", data=data, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert NEW_KEY not in text and mask(NEW_KEY) in text
    assert secret_of(session_factory, settings, "lever-key") == (NEW_KEY, "second-password-xyz")


def test_mistakes_are_one_line_on_the_page(signed_in: SignIn) -> None:
    browser = signed_in("admin")
    add(browser, "lever-key", API_KEY)
    token = csrf_of(browser, "/credentials")
    again = browser.post(
        "/credentials", data={"name": "lever-key", "username": "other-key", "csrf_token": token}
    )
    assert again.status_code == 409
    assert "a credential named &#39;lever-key&#39; already exists" in again.get_data(as_text=True)
    bad = browser.post("/credentials", data={"name": "no spaces", "username": API_KEY,
                                             "csrf_token": token})  # fmt: skip
    assert bad.status_code == 400 and "invalid credential name" in bad.get_data(as_text=True)
    assert API_KEY not in bad.get_data(as_text=True), "a refused form does not echo the key"
    empty = browser.post("/credentials", data={"name": "k2", "username": " ", "csrf_token": token})
    assert empty.status_code == 400 and "needs a username" in empty.get_data(as_text=True)
    assert browser.get("/credentials/nope/edit").status_code == 404


def test_delete_is_refused_while_an_integration_or_workflow_uses_it(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    browser = signed_in("admin")
    add(browser, "lever-key", API_KEY)
    add(browser, "spare", "spare-key-0000")
    with session_factory.begin() as session:
        spec = integrations.NewIntegration(name="lever", credential="lever-key")
        integrations.create(session, spec)
        store.create(session, _workflow("Role check", "spare"), load_registry(plugins=False))
    listing = browser.get("/credentials").get_data(as_text=True)
    assert 'href="/integrations/lever">integration lever</a>' in listing
    assert "workflow Role check" in listing

    token = csrf_of(browser, "/credentials")
    refused = browser.post("/credentials/lever-key/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "credential &#39;lever-key&#39; is used by integration &#39;lever&#39;" in (
        refused.get_data(as_text=True)
    )
    refused = browser.post("/credentials/spare/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "used by workflow &#39;Role check&#39;" in refused.get_data(as_text=True)

    add(browser, "old", "old-key-1111")
    done = browser.post("/credentials/old/delete", data={"csrf_token": token})
    assert done.status_code == 302
    assert "old-key" not in browser.get("/credentials").get_data(as_text=True)
    assert browser.get("/credentials/old/edit").status_code == 404


def _workflow(name: str, credential: str) -> dict[str, object]:
    """A small valid workflow whose one block sends the credential."""
    return {
        "name": name,
        "object": "saas_users",
        "trigger": {"type": "manual"},
        "criteria": {"all": [{"field": "app", "op": "eq", "value": "Lever"}]},
        "run_mode": "autopilot",
        "blocks": [
            {"id": "begin", "type": "begin"},
            {"id": "role", "type": "saas_user_role", "preset": "lever_user_role",
             "credential": credential},
            {"id": "end", "type": "end"},
        ],
        "edges": [
            {"from": "begin", "to": "role"},
            {"from": "role", "to": "end", "on": "success"},
            {"from": "role", "to": "end", "on": "failure"},
        ],
    }  # fmt: skip


def test_changes_need_the_csrf_token(
    signed_in: SignIn, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    browser = signed_in("admin")
    add(browser, "lever-key", API_KEY)
    for path, data in (
        ("/credentials", {"name": "k2", "username": "x-key"}),
        ("/credentials/lever-key", {"username": "stolen"}),
        ("/credentials/lever-key/delete", {}),
    ):
        answer = browser.post(path, data=data)
        assert answer.status_code == 403 and "security token" in answer.get_data(as_text=True)
    assert secret_of(session_factory, settings, "lever-key") == (API_KEY, " ")
    with session_factory() as session:
        assert [c.name for c in Vault(session, load_keyring(settings)).list()] == ["lever-key"]


def test_only_admins_reach_the_vault(signed_in: SignIn) -> None:
    for role in ("viewer", "author"):
        browser = signed_in(role)
        assert browser.get("/credentials").status_code == 403
        token = csrf_of(browser, "/")
        form = {"name": "k", "username": "x", "csrf_token": token}
        assert browser.post("/credentials", data=form).status_code == 403
