"""Signing in and out, roles on every route, CSRF, cookies and API tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import PASSWORD, SignIn, csrf_of, sign_in
from web.security import PUBLIC, required_role

ROLES = ("viewer", "author", "admin")


def test_pages_send_a_visitor_to_sign_in_and_back(client: FlaskClient, accounts: dict) -> None:
    first = client.get("/people?q=ann")
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/login?next=/people?q%3Dann")
    token = csrf_of(client)
    done = client.post(
        "/login?next=/people?q%3Dann",
        data={"name": "Viewer", "password": PASSWORD, "csrf_token": token},
    )
    assert done.status_code == 302 and done.headers["Location"] == "/people?q=ann"
    assert client.get("/people").status_code == 200


def test_a_wrong_password_says_so_without_naming_which(client: FlaskClient, accounts: dict) -> None:
    token = csrf_of(client)
    for name in ("viewer", "nobody"):
        page = client.post("/login", data={"name": name, "password": "nope", "csrf_token": token})
        assert page.status_code == 401
        assert "wrong name or password" in page.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_five_failures_lock_the_name_even_for_the_right_password(
    client: FlaskClient, accounts: dict
) -> None:
    token = csrf_of(client)
    for _ in range(5):
        client.post("/login", data={"name": "admin", "password": "guess", "csrf_token": token})
    locked = client.post(
        "/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token}
    )
    assert locked.status_code == 429
    assert "too many failed sign-ins: try again in" in locked.get_data(as_text=True)
    other = FlaskClient(client.application)
    sign_in(other, "viewer")  # other names are unaffected


def test_login_refuses_a_post_without_the_csrf_token(client: FlaskClient, accounts: dict) -> None:
    client.get("/login")
    page = client.post("/login", data={"name": "admin", "password": PASSWORD})
    assert page.status_code == 403
    assert "security token" in page.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_out_needs_the_token_and_ends_the_session(signed_in: SignIn) -> None:
    browser = signed_in("viewer")
    assert browser.post("/logout").status_code == 403
    assert browser.get("/").status_code == 200
    assert browser.post("/logout", data={"csrf_token": csrf_of(browser, "/")}).status_code == 302
    assert browser.get("/").status_code == 302


def test_next_never_leads_off_the_site(client: FlaskClient, accounts: dict) -> None:
    token = csrf_of(client)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        fresh = FlaskClient(client.application)
        token = csrf_of(fresh)
        done = fresh.post(
            "/login", query_string={"next": target},
            data={"name": "viewer", "password": PASSWORD, "csrf_token": token},
        )  # fmt: skip
        assert done.headers["Location"] == "/"


def test_session_cookie_is_httponly_samesite_and_secure_over_https(
    app: Flask, accounts: dict
) -> None:
    plain = app.test_client()
    sign_in(plain, "viewer")
    cookie = plain.get_cookie("invsync_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure
    secure = app.test_client()
    page = secure.get("/login", base_url="https://inventory.example")
    assert "Secure" in page.headers["Set-Cookie"] and "HttpOnly" in page.headers["Set-Cookie"]


def test_pages_forbid_framing_and_foreign_scripts(client: FlaskClient) -> None:
    headers = client.get("/login").headers
    assert headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    """Every route with a concrete URL and one of its methods, and the role it needs."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {arg: _sample(arg) for arg in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **values)
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        method = "GET" if "GET" in methods else sorted(methods or {"POST"})[0]
        need = required_role(app.view_functions[rule.endpoint])
        routes.append((path, method, need))
    return routes


def _sample(arg: str) -> str | int:
    """A plausible value for a URL argument."""
    return "lever" if arg in ("app", "name", "slug") else 1


def test_every_route_says_which_role_it_needs(app: Flask) -> None:
    for path, _method, need in _routes(app):
        assert need in (PUBLIC, *ROLES), f"{path} needs unknown role {need!r}"


def test_every_route_turns_away_visitors_and_lower_roles(app: Flask, signed_in: SignIn) -> None:
    browsers = {role: signed_in(role) for role in ROLES}
    for path, method, need in _routes(app):
        if need == PUBLIC:
            continue
        anonymous = app.test_client().open(path, method=method)
        expected = 401 if path.startswith("/api/") else 302
        if method != "GET" and not path.startswith("/api/"):
            expected = 403  # an unsigned browser POST has no CSRF token either
        assert anonymous.status_code == expected, f"{method} {path} let a visitor in"
        for role in ROLES[: ROLES.index(need)]:
            browser = browsers[role]
            headers = {"X-CSRF-Token": csrf_of(browser, "/")}
            answer = browser.open(path, method=method, headers=headers)
            assert answer.status_code == 403, f"{method} {path} let a {role} in"


def test_api_takes_bearer_tokens_and_answers_in_one_envelope(
    client: FlaskClient, bearer: Callable[[str], dict[str, str]]
) -> None:
    me = client.get("/api/v1/me", headers=bearer("author"))
    assert me.status_code == 200 and me.get_json() == {"name": "author", "role": "author"}
    refused = client.get("/api/v1/me", headers={"Authorization": "Bearer ivs_wrong"})
    assert refused.status_code == 401
    assert refused.get_json() == {
        "error": {"status": 401, "code": "unauthorized",
                  "message": "invalid or revoked API token", "details": None}
    }  # fmt: skip
    missing = client.get("/api/v1/nothing-here", headers=bearer("viewer"))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_only_its_menu(signed_in: SignIn, role: str) -> None:
    html = signed_in(role).get("/").get_data(as_text=True)
    assert ('href="/workflows"' in html) is (role != "viewer")
    assert ('href="/credentials"' in html) is (role == "admin")
    assert 'href="/people"' in html
