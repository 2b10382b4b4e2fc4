"""The Lever simulator over real loopback HTTP: auth, listing, pagination, writes, faults."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests

from connector.lever.sim import (
    ANCHOR_MS,
    BUILTIN_ROLES,
    USER_FIELDS,
    LeverSimulator,
    SimulatorServer,
    decode_offset,
    encode_offset,
    format_start_line,
    generate_users,
    serve_forever,
)
from tests.connector.conftest import SIM_KEY as KEY
from tests.connector.conftest import FakeClock, walk_pages

BAD_OFFSET = {
    "code": "BadRequestError",
    "message": "Invalid offset token: Offset token is invalid for sort",
}


def walk(http: requests.Session, url: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Follow /users `next` tokens unchanged to the end; all records and the page count."""
    return walk_pages(http, url, "/users", **params)


def order(users: list[dict[str, Any]]) -> list[str]:
    """User ids in Lever's list order."""
    return [u["id"] for u in sorted(users, key=lambda u: (u["createdAt"], u["id"]))]


# -- auth and permissions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, ("wrong-key", ""), (KEY.upper(), "")],
    ids=["missing", "wrong", "wrong-case"],
)
def test_bad_or_missing_key_is_401(server: SimulatorServer, auth: Any) -> None:
    response = requests.get(f"{server.url}/users", auth=auth, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"code": "UnauthorizedError", "message": "Invalid API key"}


@pytest.mark.parametrize("password", ["", " ", "anything"])
def test_password_is_ignored(server: SimulatorServer, password: str) -> None:
    response = requests.get(f"{server.url}/users", auth=(KEY, password), timeout=5)
    assert response.status_code == 200


def test_generated_key_is_random_hex() -> None:
    first, second = LeverSimulator(users=0), LeverSimulator(users=0)
    assert re.fullmatch(r"[0-9a-f]{32}", first.api_key)
    assert first.api_key != second.api_key
    assert first.key_generated and not LeverSimulator(users=0, api_key="k").key_generated


def test_key_without_permission_is_403(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    sim.permissions.discard("users:read:admin")
    response = http.get(f"{server.url}/users", timeout=5)
    assert response.status_code == 403
    assert response.json()["code"] == "ForbiddenError"
    created = http.post(f"{server.url}/users", json={"name": "A", "email": "a@x.io"}, timeout=5)
    assert created.status_code == 201


# -- listing -----------------------------------------------------------------------------------


def test_list_is_active_only_by_default(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    records, _ = walk(http, server.url)
    active = [u for u in sim.users if u["deactivatedAt"] is None]
    assert len(active) < len(sim.users)
    assert [r["id"] for r in records] == order(active)


@pytest.mark.parametrize("value", ["true", "True", "1", "TRUE"])
def test_include_deactivated_spellings(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session, value: str
) -> None:
    records, _ = walk(http, server.url, includeDeactivated=value)
    assert len(records) == len(sim.users)


@pytest.mark.parametrize(("value", "status"), [("false", 200), ("0", 200), ("maybe", 400)])
def test_include_deactivated_false_or_invalid(
    server: SimulatorServer, http: requests.Session, value: str, status: int
) -> None:
    response = http.get(f"{server.url}/users", params={"includeDeactivated": value}, timeout=5)
    assert response.status_code == status
    if status == 200:
        assert all(u["deactivatedAt"] is None for u in response.json()["data"])


def test_users_have_every_key_in_lever_shape(
    server: SimulatorServer, http: requests.Session
) -> None:
    records, _ = walk(http, server.url, includeDeactivated="true")
    assert all(tuple(r) == USER_FIELDS for r in records)
    assert all(isinstance(r["createdAt"], int) for r in records)


def test_full_walk_sees_every_user_once_in_order(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    records, pages = walk(http, server.url, includeDeactivated="true", limit=7)
    assert pages == 5
    assert [r["id"] for r in records] == order(sim.users)


def test_default_page_size_is_100(
    make_server: Callable[..., SimulatorServer], http: requests.Session
) -> None:
    server = make_server(users=150)
    body = http.get(f"{server.url}/users?includeDeactivated=true", timeout=5).json()
    assert len(body["data"]) == 100 and body["hasNext"] is True
    assert re.fullmatch(r"%5B\d{13}%2C%22[0-9a-f-]{36}%22%5D", body["next"])


def test_last_page_has_no_next(server: SimulatorServer, http: requests.Session) -> None:
    body = http.get(f"{server.url}/users?includeDeactivated=true", timeout=5).json()
    assert body["hasNext"] is False
    assert "next" not in body


@pytest.mark.parametrize(
    "transform",
    [lambda t: t, unquote, lambda t: quote(t, safe="")],
    ids=["as-given", "decoded-once", "encoded-again"],
)
def test_offset_accepted_in_every_encoding(
    server: SimulatorServer, http: requests.Session, transform: Callable[[str], str]
) -> None:
    params: dict[str, Any] = {"includeDeactivated": "true", "limit": 10}
    first = http.get(f"{server.url}/users", params=params, timeout=5).json()
    expected = http.get(f"{server.url}/users", params={**params, "limit": 20}, timeout=5).json()
    second = http.get(
        f"{server.url}/users", params={**params, "offset": transform(first["next"])}, timeout=5
    ).json()
    assert second["data"] == expected["data"][10:]


def test_offset_pasted_into_the_url_unencoded(
    server: SimulatorServer, http: requests.Session
) -> None:
    first = http.get(f"{server.url}/users?limit=5", timeout=5).json()
    second = http.get(f"{server.url}/users?limit=5&offset={first['next']}", timeout=5)
    assert second.status_code == 200
    assert second.json()["data"][0]["id"] not in {u["id"] for u in first["data"]}


@pytest.mark.parametrize(
    "token", ["garbage", "%5Bnot-json", "[1]", '["a","b"]', "[1,2]", "0.1414895548650.a60"]
)
def test_malformed_offset_is_400(
    server: SimulatorServer, http: requests.Session, token: str
) -> None:
    response = http.get(f"{server.url}/users", params={"offset": token}, timeout=5)
    assert response.status_code == 400
    assert response.json() == BAD_OFFSET


def test_offset_round_trip() -> None:
    token = encode_offset((1733206956064, "c21d911f-aaaa"))
    assert token == "%5B1733206956064%2C%22c21d911f-aaaa%22%5D"
    assert decode_offset(token) == decode_offset(quote(token)) == (1733206956064, "c21d911f-aaaa")


@pytest.mark.parametrize(
    ("limit", "status"), [(0, 400), (101, 400), ("x", 400), (-1, 400), (1, 200), (100, 200)]
)
def test_limit_bounds(
    server: SimulatorServer, http: requests.Session, limit: Any, status: int
) -> None:
    response = http.get(f"{server.url}/users", params={"limit": limit}, timeout=5)
    assert response.status_code == status
    if status == 400:
        assert response.json()["code"] == "BadRequestError"


def test_pagination_is_stable_under_changes(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    active_before = {u["id"] for u in sim.users if u["deactivatedAt"] is None}
    first = http.get(f"{server.url}/users", params={"limit": 5}, timeout=5).json()
    seen_first = [u["id"] for u in first["data"]]
    sim.update_user(seen_first[0], deactivatedAt=ANCHOR_MS)
    early = sim.add_user(email="early@example.com", createdAt=1)
    late = sim.add_user(email="late@example.com")
    rest, _ = walk(http, server.url, limit=5, offset=first["next"])
    ids = seen_first + [u["id"] for u in rest]
    assert len(ids) == len(set(ids))
    assert set(ids) == active_before | {late["id"]}
    assert early["id"] not in ids


# -- filters and include -----------------------------------------------------------------------


def test_email_filter_is_case_insensitive(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    target = sim.add_user(email="Ana.Silva@Example.com", name="Ana Silva", createdAt=ANCHOR_MS)
    sim.add_user(email="ana.silva@example.com", name="Ana Silva (second account)")
    response = http.get(f"{server.url}/users", params={"email": "ANA.SILVA@example.COM"}, timeout=5)
    names = [u["name"] for u in response.json()["data"]]
    assert names == ["Ana Silva", "Ana Silva (second account)"]
    assert response.json()["data"][0]["id"] == target["id"]


@pytest.mark.parametrize("param", ["accessRole", "accessRole[]"])
def test_access_role_filter_is_repeatable(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session, param: str
) -> None:
    roles = ["admin", "super admin"]
    records, _ = walk(http, server.url, includeDeactivated="true", **{param: roles})
    expected = [u for u in sim.users if u["accessRole"] in roles]
    assert [r["id"] for r in records] == order(expected)
    assert expected


def test_external_directory_id_filter(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    user = sim.add_user(email="dir@example.com", externalDirectoryId="00uDIRECTORY")
    params = {"external_directory_id": "00uDIRECTORY"}
    data = http.get(f"{server.url}/users", params=params, timeout=5).json()["data"]
    assert [u["id"] for u in data] == [user["id"]]


def test_include_returns_only_those_fields(server: SimulatorServer, http: requests.Session) -> None:
    params = {"include": ["name", "email"]}
    data = http.get(f"{server.url}/users", params=params, timeout=5).json()["data"]
    assert data and all(set(u) == {"id", "name", "email"} for u in data)


# -- single users and writes -------------------------------------------------------------------


def test_get_user_including_deactivated(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    gone = next(u for u in sim.users if u["deactivatedAt"] is not None)
    response = http.get(f"{server.url}/users/{gone['id']}", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"data": gone}


def test_unknown_and_removed_users_are_404(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    user = sim.users[0]
    sim.remove_user(user["id"])
    for uid in (user["id"], "no-such-id"):
        response = http.get(f"{server.url}/users/{uid}", timeout=5)
        assert response.status_code == 404
        assert response.json()["code"] == "ResourceNotFound"
    records, _ = walk(http, server.url, includeDeactivated="true")
    assert user["id"] not in {r["id"] for r in records}


def test_create_user_defaults(server: SimulatorServer, http: requests.Session) -> None:
    before = int(time.time() * 1000)
    response = http.post(
        f"{server.url}/users",
        json={"name": "Zoë Müller", "email": "Zoe.Muller@example.com"},
        timeout=5,
    )
    assert response.status_code == 201
    user = response.json()["data"]
    assert tuple(user) == USER_FIELDS
    assert user["accessRole"] == "interviewer"
    assert user["username"] == "Zoe.Muller"
    assert user["deactivatedAt"] is None and user["jobTitle"] is None
    assert before <= user["createdAt"] <= int(time.time() * 1000)
    assert http.get(f"{server.url}/users/{user['id']}", timeout=5).json() == {"data": user}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"email": "x@example.com"}).encode(),
        json.dumps({"name": "No Email"}).encode(),
        json.dumps({"name": "Bad", "email": "not-an-email"}).encode(),
        json.dumps({"name": "Twin", "email": "TWIN@example.com"}).encode(),
    ],
    ids=["not-json", "not-object", "no-name", "no-email", "bad-email", "duplicate-email"],
)
def test_create_user_rejects_bad_input(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session, body: bytes
) -> None:
    sim.add_user(email="twin@example.com")
    headers = {"Content-Type": "application/json"}
    response = http.post(f"{server.url}/users", data=body, headers=headers, timeout=5)
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequestError"


def test_put_is_a_full_replacement(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    user = sim.add_user(email="pat@example.com", jobTitle="Recruiter", externalDirectoryId="00u1")
    body = {"name": "Pat Doe", "email": "pat.doe@example.com", "accessRole": "admin"}
    response = http.put(f"{server.url}/users/{user['id']}", json=body, timeout=5)
    assert response.status_code == 200
    updated = response.json()["data"]
    assert updated["jobTitle"] is None and updated["externalDirectoryId"] is None
    assert (updated["name"], updated["username"], updated["accessRole"]) == (
        "Pat Doe",
        "pat.doe",
        "admin",
    )
    assert updated["createdAt"] == user["createdAt"]


def test_put_requires_access_role_and_a_known_user(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    user = sim.users[0]
    body = {"name": "N", "email": "n@example.com"}
    assert http.put(f"{server.url}/users/{user['id']}", json=body, timeout=5).status_code == 400
    body["accessRole"] = "admin"
    assert http.put(f"{server.url}/users/nobody", json=body, timeout=5).status_code == 404


def test_deactivate_then_reactivate(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    user = sim.add_user(email="leaver@example.com")
    response = http.post(f"{server.url}/users/{user['id']}/deactivate", timeout=5)
    assert response.status_code == 200
    assert response.json()["data"]["deactivatedAt"] > user["createdAt"] - 1
    again = http.post(f"{server.url}/users/{user['id']}/deactivate", timeout=5)
    assert again.status_code == 400
    assert again.json() == {"code": "BadRequestError", "message": "User is already deactivated"}
    back = http.post(f"{server.url}/users/{user['id']}/reactivate", timeout=5)
    assert back.status_code == 200 and back.json()["data"]["deactivatedAt"] is None


def test_deactivating_twice_can_be_allowed(
    make_server: Callable[..., SimulatorServer], http: requests.Session
) -> None:
    server = make_server(deactivate_twice_ok=True)
    uid = next(u["id"] for u in server.sim.users if u["deactivatedAt"] is not None)
    response = http.post(f"{server.url}/users/{uid}/deactivate", timeout=5)
    assert response.status_code == 200
    assert response.json()["data"]["deactivatedAt"] is not None


def test_raw_malformed_records_are_served_as_is(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    raw = {"id": "raw-1", "name": "Broken", "createdAt": "2024-01-01", "deactivatedAt": None}
    sim.set_raw_user(raw)
    records, _ = walk(http, server.url)
    assert records[0] == raw
    assert http.get(f"{server.url}/users/raw-1", timeout=5).json() == {"data": raw}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("DELETE", "/users/some-id", 405, "MethodNotAllowedError"),
        ("PATCH", "/users", 405, "MethodNotAllowedError"),
        ("GET", "/candidates", 404, "NotFoundError"),
        ("GET", "/users/a/b/c", 404, "NotFoundError"),
    ],
)
def test_unknown_paths_and_methods(
    server: SimulatorServer, http: requests.Session, method: str, path: str, status: int, code: str
) -> None:
    response = http.request(method, f"{server.url}{path}", timeout=5)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "message"}


def test_non_ascii_names_round_trip_in_utf8(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    names = ["José Álvarez", "Zoë Müller", "Łukasz Wójcik", "Søren Ærø", "王芳", "Nguyễn Văn An"]
    ids = [sim.add_user(name=n, email=f"u{i}@example.com")["id"] for i, n in enumerate(names)]
    for uid, name in zip(ids, names, strict=True):
        response = http.get(f"{server.url}/users/{uid}", timeout=5)
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert name.encode("utf-8") in response.content
        assert response.json()["data"]["name"] == name


# -- transport ---------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(server: SimulatorServer, http: requests.Session) -> None:
    for _ in range(5):
        response = http.get(f"{server.url}/users?limit=3", timeout=5)
        assert int(response.headers["Content-Length"]) == len(response.content)
    assert server.connections_accepted == 1


def test_requests_are_logged_and_counted(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    params: dict[str, Any] = {"limit": 2, "accessRole[]": ["admin"]}
    http.get(f"{server.url}/users", params=params, timeout=5)
    http.get(f"{server.url}/users/x", timeout=5)
    assert sim.requests[0] == ("GET", "/v1/users", {"limit": ["2"], "accessRole[]": ["admin"]})
    assert sim.calls("GET", "/v1/users") == 2
    assert sim.counts["list_users"] == 1 and sim.counts["get_user"] == 1
    assert sim.statuses[200] == 1 and sim.statuses[404] == 1


def test_nothing_is_written_to_stderr_per_request(
    server: SimulatorServer, http: requests.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    http.get(f"{server.url}/users", timeout=5)
    requests.get(f"{server.url}/users", auth=("wrong", ""), timeout=5).close()
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


# -- rate limiting -----------------------------------------------------------------------------


def test_rate_limit_allows_a_burst_then_429(
    make_server: Callable[..., SimulatorServer], http: requests.Session, clock: FakeClock
) -> None:
    server = make_server(rate_limit=True, clock=clock.monotonic)
    statuses = [http.get(f"{server.url}/users?limit=1", timeout=5).status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    limited = http.get(f"{server.url}/users?limit=1", timeout=5)
    assert limited.json()["code"] == "TooManyRequestsError"
    assert "Retry-After" not in limited.headers
    clock.advance(0.1)
    assert http.get(f"{server.url}/users?limit=1", timeout=5).status_code == 200
    assert http.get(f"{server.url}/users?limit=1", timeout=5).status_code == 429


def test_rate_limit_can_send_retry_after(
    make_server: Callable[..., SimulatorServer], http: requests.Session, clock: FakeClock
) -> None:
    server = make_server(rate_limit=True, clock=clock.monotonic, retry_after_on_429=True, burst=1)
    http.get(f"{server.url}/users?limit=1", timeout=5)
    limited = http.get(f"{server.url}/users?limit=1", timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "429"])
def test_error_faults(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session, kind: str
) -> None:
    sim.inject(kind, count=2)
    for _ in range(2):
        response = http.get(f"{server.url}/users", timeout=5)
        assert response.status_code == int(kind)
        assert set(response.json()) == {"code", "message"}
        assert "Retry-After" not in response.headers
    assert http.get(f"{server.url}/users", timeout=5).status_code == 200


def test_429_fault_with_retry_after(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    sim.inject("429", retry_after=3)
    response = http.get(f"{server.url}/users", timeout=5)
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_garbage_fault(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    sim.inject("garbage")
    response = http.get(f"{server.url}/users", timeout=5)
    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_drop_fault_raises_connection_error(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    http.get(f"{server.url}/users", timeout=5)
    sim.inject("drop")
    with pytest.raises(requests.ConnectionError):
        http.get(f"{server.url}/users", timeout=5)
    assert http.get(f"{server.url}/users", timeout=5).status_code == 200


def test_slow_fault_times_out_the_client(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    sim.inject("slow", delay=2.0)
    with pytest.raises(requests.ReadTimeout):
        http.get(f"{server.url}/users", timeout=0.3)
    assert http.get(f"{server.url}/users", timeout=5).status_code == 200


def test_faults_only_hit_their_path_prefix(
    server: SimulatorServer, sim: LeverSimulator, http: requests.Session
) -> None:
    uid = sim.users[0]["id"]
    sim.inject("503", path_prefix=f"/v1/users/{uid}")
    assert http.get(f"{server.url}/users", timeout=5).status_code == 200
    assert http.get(f"{server.url}/users/{uid}", timeout=5).status_code == 503
    assert http.get(f"{server.url}/users/{uid}", timeout=5).status_code == 200


def test_unknown_fault_kind_is_refused(sim: LeverSimulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.inject("418")


# -- audit events ------------------------------------------------------------------------------


def test_audit_events_need_the_add_on(server: SimulatorServer, http: requests.Session) -> None:
    response = http.get(f"{server.url}/audit_events", timeout=5)
    assert response.status_code == 403
    expected = {"code": "ForbiddenError", "message": "Audit events add-on not enabled"}
    assert response.json() == expected


def test_audit_events_list_logins_newest_first(
    make_server: Callable[..., SimulatorServer], http: requests.Session
) -> None:
    server = make_server(audit_events=True)
    logged_in = [u for u in server.sim.users if u["lastLoggedInAt"] is not None]
    events, _ = walk_events(http, server.url, limit=4)
    assert [e["createdAt"] for e in events] == sorted(
        (u["lastLoggedInAt"] for u in logged_in), reverse=True
    )
    assert {e["type"] for e in events} == {"user.authentication:succeeded"}
    one = logged_in[0]
    filtered, _ = walk_events(http, server.url, user_id=one["id"])
    assert [(e["actor"]["id"], e["createdAt"]) for e in filtered] == [
        (one["id"], one["lastLoggedInAt"])
    ]
    window, _ = walk_events(http, server.url, created_at_start=one["lastLoggedInAt"] + 1)
    assert all(e["createdAt"] > one["lastLoggedInAt"] for e in window)


def walk_events(
    http: requests.Session, url: str, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Follow audit event pages to the end."""
    events, pages = [], 0
    while True:
        body = http.get(f"{url}/audit_events", params=params, timeout=5).json()
        events += body["data"]
        pages += 1
        if not body["hasNext"]:
            return events, pages
        params["offset"] = body["next"]


# -- seed data ---------------------------------------------------------------------------------


def test_same_seed_same_users() -> None:
    assert LeverSimulator(users=200, seed=3).users == LeverSimulator(users=200, seed=3).users
    assert generate_users(200, 3) != generate_users(200, 4)


def test_seed_data_is_realistic() -> None:
    users = generate_users(5000, 11)
    emails = [u["email"] for u in users]
    assert len({e.lower() for e in emails}) == len(emails)
    assert any(e != e.lower() for e in emails)
    assert all(u["username"] == u["email"].split("@")[0] for u in users)
    assert 1 <= sum(u["accessRole"] == "super admin" for u in users) <= 2
    assert any(u["accessRole"] not in BUILTIN_ROLES for u in users)
    deactivated = [u for u in users if u["deactivatedAt"] is not None]
    assert 0.09 < len(deactivated) / len(users) < 0.15
    assert all(u["deactivatedAt"] > u["createdAt"] for u in deactivated)
    assert any(u["name"] == u["email"] for u in users)
    assert any(" " not in u["name"] and u["name"].isascii() for u in users)
    assert any(not u["name"].isascii() for u in users)
    ids = {u["id"] for u in users}
    assert all(u["managerId"] in ids for u in users if u["managerId"])
    assert any(u["lastLoggedInAt"] is None for u in users)
    assert any(
        u["lastLoggedInAt"] and u["lastLoggedInAt"] < ANCHOR_MS - 365 * 86_400_000 for u in users
    )


def test_fifty_thousand_users_have_unique_ids_and_addresses() -> None:
    users = generate_users(50_000, 0)
    assert len(users) == 50_000
    assert len({u["id"] for u in users}) == 50_000
    assert len({u["email"].casefold() for u in users}) == 50_000


# -- command line ------------------------------------------------------------------------------


def test_start_line_shows_a_generated_key_but_never_a_given_one() -> None:
    assert "abc123" in format_start_line("http://127.0.0.1:1/v1", 5, "abc123")
    line = format_start_line("http://127.0.0.1:1/v1", 5, None)
    assert "http://127.0.0.1:1/v1" in line and "using the given API key" in line


@pytest.mark.parametrize("api_key", [None, "given-secret-key"])
def test_serve_forever_prints_its_url_and_stops_cleanly(api_key: str | None) -> None:
    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(
        target=serve_forever,
        kwargs={"port": 0, "users": 3, "seed": 1, "api_key": api_key, "rate_limit": True,
                "out": out, "stop": stop},
    )  # fmt: skip
    thread.start()
    try:
        line = wait_for_line(out)
        found = re.search(r"(http://127\.0\.0\.1:\d+/v1)( - API key ([0-9a-f]{32}))?", line)
        assert found is not None
        url, key = found.group(1), api_key or found.group(3)
        assert api_key is None or api_key not in line
        with requests.Session() as session:
            response = session.get(f"{url}/users", auth=(key, ""), timeout=5)
        assert len(response.json()["data"]) >= 1
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def wait_for_line(out: io.StringIO, timeout: float = 10.0) -> str:
    """The first complete line written to `out`, waiting for the server to start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = out.getvalue()
        if "\n" in text:
            return text.splitlines()[0]
        time.sleep(0.01)
    raise AssertionError("the simulator printed no start line")
