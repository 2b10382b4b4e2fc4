"""Admin pages: accounts (add, role, password, disable, enable, the last-admin guard) and API tokens
(made and shown once, used as a bearer token, revoked), for admins only."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import Account, ApiToken
from tests.web.conftest import PASSWORD, SignIn, csrf_of, sign_in
from web.accounts import add_account, set_disabled
from web.errors import AccountError

Factory = sessionmaker[Session]
NEW_PASSWORD = "a much longer passphrase"


def _post(browser: FlaskClient, path: str, **form: str) -> tuple[int, str]:
    """Submit a form the way the page does, with the page's CSRF token; status and final page."""
    form["csrf_token"] = csrf_of(browser, "/admin/accounts")
    response = browser.post(path, data=form, follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def _account(factory: Factory, name: str) -> Account:
    """An account as the database holds it now."""
    with factory() as session:
        account = session.scalars(select(Account).where(Account.name_key == name.lower())).one()
        session.expunge(account)
        return account


def _signs_in(app: Flask, name: str, password: str) -> bool:
    """Whether the login form lets a fresh browser in with these credentials."""
    browser = app.test_client()
    token = csrf_of(browser)
    done = browser.post("/login", data={"name": name, "password": password, "csrf_token": token})
    return done.status_code == 302


def _row(html: str, name: str) -> str:
    """One account's row of the accounts table."""
    start = html.index(f'<tr data-account="{name}"')
    return html[start : html.index("</tr>", start)]


def test_an_admin_adds_an_account_that_can_sign_in(
    app: Flask, signed_in: SignIn, session_factory: Factory
) -> None:
    admin = signed_in("admin")
    status, html = _post(admin, "/admin/accounts", name="Dana", role="author",
                         password=NEW_PASSWORD, password2=NEW_PASSWORD)  # fmt: skip
    assert status == 200 and "added author &#39;Dana&#39;" in html
    assert 'class="account-role">author<' in _row(html, "Dana")
    assert _account(session_factory, "dana").role == "author"
    assert _signs_in(app, "dana", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "Dana", "password": NEW_PASSWORD, "password2": "something else"},
         "the two passwords differ"),
        ({"name": "Dana", "password": "short", "password2": "short"}, "password too short"),
        ({"name": "VIEWER", "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
         "account &#39;VIEWER&#39; already exists"),
    ],
)  # fmt: skip
def test_a_refused_account_says_why_and_keeps_the_form(
    signed_in: SignIn, session_factory: Factory, form: dict[str, str], message: str
) -> None:
    status, html = _post(signed_in("admin"), "/admin/accounts", role="author", **form)
    assert status == 400 and message in html
    assert f'name="name" required maxlength="200" autocomplete="off" value="{form["name"]}"' in html
    with session_factory() as session:
        assert len(session.scalars(select(Account)).all()) == 3


def test_an_admin_changes_a_role(signed_in: SignIn, session_factory: Factory) -> None:
    status, html = _post(signed_in("admin"), "/admin/accounts/viewer/role", role="author")
    assert status == 200 and "&#39;viewer&#39; is now author" in html
    assert _account(session_factory, "viewer").role == "author"
    assert 'href="/workflows"' in signed_in("viewer").get("/").get_data(as_text=True)


def test_a_reset_password_replaces_the_old_one_and_ends_its_sessions(
    app: Flask, signed_in: SignIn
) -> None:
    victim = signed_in("author")
    status, html = _post(signed_in("admin"), "/admin/accounts/author/password",
                         password=NEW_PASSWORD, password2=NEW_PASSWORD)  # fmt: skip
    assert status == 200 and "password of &#39;author&#39; changed" in html
    assert victim.get("/").status_code == 302
    assert not _signs_in(app, "author", PASSWORD)
    assert _signs_in(app, "author", NEW_PASSWORD)


def test_an_admin_resetting_their_own_password_stays_signed_in(
    app: Flask, signed_in: SignIn
) -> None:
    admin = signed_in("admin")
    status, _ = _post(admin, "/admin/accounts/admin/password",
                      password=NEW_PASSWORD, password2=NEW_PASSWORD)  # fmt: skip
    assert status == 200 and admin.get("/admin/accounts").status_code == 200
    assert _signs_in(app, "admin", NEW_PASSWORD)


def test_a_disabled_account_cannot_sign_in_until_enabled(
    app: Flask, signed_in: SignIn, session_factory: Factory
) -> None:
    admin, victim = signed_in("admin"), signed_in("viewer")
    status, html = _post(admin, "/admin/accounts/viewer/disable")
    assert status == 200 and 'class="account-state">disabled<' in _row(html, "viewer")
    assert _account(session_factory, "viewer").disabled
    assert victim.get("/").status_code == 302
    assert not _signs_in(app, "viewer", PASSWORD)
    status, html = _post(admin, "/admin/accounts/viewer/enable")
    assert status == 200 and 'class="account-state">enabled<' in _row(html, "viewer")
    assert _signs_in(app, "viewer", PASSWORD)


def test_the_last_admin_can_be_neither_demoted_nor_disabled(
    signed_in: SignIn, session_factory: Factory
) -> None:
    admin = signed_in("admin")
    status, html = _post(admin, "/admin/accounts/admin/role", role="viewer")
    assert status == 400 and "cannot demote the last admin" in html
    status, html = _post(admin, "/admin/accounts/admin/disable")
    assert status == 400 and "cannot disable the last admin" in html
    held = _account(session_factory, "admin")
    assert (held.role, held.disabled) == ("admin", False)


def test_with_a_second_admin_the_first_may_step_down(
    signed_in: SignIn, session_factory: Factory
) -> None:
    admin = signed_in("admin")
    _post(admin, "/admin/accounts/author/role", role="admin")
    status, html = _post(admin, "/admin/accounts/admin/role", role="viewer")
    assert status == 200 and "<h1>Dashboard</h1>" in html
    assert admin.get("/admin/accounts").status_code == 403
    with session_factory.begin() as session, pytest.raises(AccountError, match="last admin"):
        set_disabled(session, "author", True)


def test_a_disabled_admin_does_not_count_towards_the_guard(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        add_account(session, "root", PASSWORD, "admin")
        add_account(session, "backup", PASSWORD, "admin")
        set_disabled(session, "backup", True)
        with pytest.raises(AccountError, match="cannot disable the last admin"):
            set_disabled(session, "root", True)
        assert set_disabled(session, "backup", True).disabled  # disabling twice is harmless


def test_a_token_is_shown_once_works_and_stops_when_revoked(
    app: Flask, signed_in: SignIn, session_factory: Factory
) -> None:
    admin = signed_in("admin")
    token_csrf = csrf_of(admin, "/admin/tokens")
    made = admin.post("/admin/tokens", data={"account": "author", "label": "nightly <export>",
                                             "csrf_token": token_csrf})  # fmt: skip
    html = made.get_data(as_text=True)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    assert made.headers["Content-Type"] == "text/html; charset=utf-8"
    found = re.search(r'<code id="new-token"[^>]*>(ivs_[\w-]+)</code>', html)
    assert found, html
    token = found.group(1)
    assert "nightly &lt;export&gt;" in html and "nightly <export>" not in html

    api = app.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json() == {"name": "author", "role": "author"}

    with session_factory() as session:
        row = session.scalars(select(ApiToken)).one()
        token_id, token_hash = row.id, row.token_hash
    for page in ("/admin/tokens", "/admin/accounts", "/", "/reports"):
        text = admin.get(page).get_data(as_text=True)
        assert token not in text and token_hash not in text, page
    listed = admin.get("/admin/tokens").get_data(as_text=True)
    assert f"…{token[-4:]}" in listed and 'id="new-token"' not in listed
    assert token not in str(admin.get_cookie("invsync_session"))

    status, html = _post(admin, f"/admin/tokens/{token_id}/revoke")
    assert status == 200 and "revoked" in html
    refused = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_tokens_of_a_disabled_account_stop_working(
    app: Flask, signed_in: SignIn, bearer: Callable[[str], dict[str, str]]
) -> None:
    headers = bearer("viewer")
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    _post(signed_in("admin"), "/admin/accounts/viewer/disable")
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401


def test_revoking_an_unknown_token_is_not_found(signed_in: SignIn) -> None:
    status, html = _post(signed_in("admin"), "/admin/tokens/999/revoke")
    assert status == 404 and "no API token with id 999" in html


@pytest.mark.parametrize("role", ["viewer", "author"])
def test_only_admins_reach_the_admin_pages(signed_in: SignIn, role: str) -> None:
    browser = signed_in(role)
    assert browser.get("/admin/accounts").status_code == 403
    assert browser.get("/admin/tokens").status_code == 403
    token = csrf_of(browser, "/")
    refused = browser.post("/admin/accounts", data={"name": "x", "role": "admin",
                           "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
                           "csrf_token": token})  # fmt: skip
    assert refused.status_code == 403


def test_forms_without_the_csrf_token_are_refused(signed_in: SignIn) -> None:
    admin = signed_in("admin")
    refused = admin.post("/admin/accounts/viewer/disable")
    assert refused.status_code == 403 and "security token" in refused.get_data(as_text=True)
    made = admin.post("/admin/tokens", data={"account": "admin"})
    assert made.status_code == 403 and "ivs_" not in made.get_data(as_text=True)


def test_the_accounts_page_lists_accounts_without_secrets(
    signed_in: SignIn, session_factory: Factory, app: Flask
) -> None:
    sign_in(app.test_client(), "viewer")
    html = signed_in("admin").get("/admin/accounts").get_data(as_text=True)
    for name in ("viewer", "author", "admin"):
        assert f'<tr data-account="{name}"' in html
    assert "<time" in _row(html, "viewer")  # the viewer has signed in
    stored = _account(session_factory, "viewer").password_hash
    assert stored not in html and "scrypt" not in html
