"""The Lever client against a fake Lever on `responses`, with a fake clock (no real sleeping)."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

import connector.lever
from connector.errors import (
    ConnectorConfigError,
    ConnectorError,
    FatalError,
    LeverAuthError,
    LeverNotFoundError,
    LeverPermissionError,
    LeverRequestError,
    LeverResponseError,
    LeverUnavailableError,
    PaginationError,
)
from connector.lever.client import LeverClient
from inventory.errors import ConfigError
from tests.connector.conftest import FakeClock

BASE = "https://api.lever.test/v1"
USERS = f"{BASE}/users"
KEY = "lvrKEY0123456789abcdefSECRETkeyZZ"
TOKEN = "%5B1733206956064%2C%22c21d911f-aaaa%22%5D"
NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def lever() -> Iterator[responses.RequestsMock]:
    """A fake Lever: every request must match a registered answer, and every answer be used."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., LeverClient]]:
    """Build clients on the fake clock, unpaced unless a test asks, with a fixed jitter of 0.5."""
    made: list[LeverClient] = []

    def make(**options: Any) -> LeverClient:
        settings = {
            "max_rps": 0,
            "clock": clock.monotonic,
            "sleep": clock.sleep,
            "rng": lambda: 0.5,
        }
        settings["now"] = lambda: NOW
        client = LeverClient(BASE, KEY, " ", **{**settings, **options})
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., LeverClient]) -> LeverClient:
    return make_client()


def user(user_id: str = "u1", **fields: Any) -> dict[str, Any]:
    """A Lever user object with every documented key."""
    base = {
        "id": user_id,
        "name": "Ann Example",
        "username": "ann",
        "email": f"{user_id}@example.com",
        "accessRole": "team member",
        "photo": None,
        "createdAt": 1733206956064,
        "deactivatedAt": None,
        "externalDirectoryId": "HR-7",
        "linkedContactIds": None,
        "jobTitle": "Recruiter",
        "managerId": "m1",
    }
    return {**base, **fields}


def page(*ids: str, has_next: bool = False, next_token: str | None = None) -> dict[str, Any]:
    """A list envelope; `next` is left out when there is none, as on Lever's last page."""
    body: dict[str, Any] = {"data": [user(i) for i in ids], "hasNext": has_next}
    if next_token is not None:
        body["next"] = next_token
    return body


def list_query(offset: str | None = None) -> Any:
    """Match GET /users by its exact query: always deactivated users and 100 a page."""
    params = {"includeDeactivated": "true", "limit": "100"}
    if offset is not None:
        params["offset"] = offset
    return matchers.query_param_matcher(params)


def sent_query(call: Any) -> dict[str, list[str]]:
    """The query a recorded request carried, decoded once as any server would."""
    return parse_qs(urlsplit(call.request.url).query)


def ids_of(pages: Any) -> list[list[str]]:
    return [[u["id"] for u in p] for p in pages]


# -- pagination ---------------------------------------------------------------------------


def test_pages_follow_the_next_token_chain(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", "u2", has_next=True, next_token="t1"), match=[list_query()])
    lever.get(USERS, json=page("u3", has_next=True, next_token="t2"), match=[list_query("t1")])
    lever.get(USERS, json=page("u4", has_next=False), match=[list_query("t2")])

    assert ids_of(client.iter_user_pages()) == [["u1", "u2"], ["u3"], ["u4"]]
    assert len(lever.calls) == 3


def test_the_pages_hold_every_user_once_in_order(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", "u2", has_next=True, next_token="t1"), match=[list_query()])
    lever.get(USERS, json=page("u3"), match=[list_query("t1")])

    assert [u["id"] for batch in client.iter_user_pages() for u in batch] == ["u1", "u2", "u3"]


def test_a_last_page_without_next_ends_paging(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json={"data": [user("u1")], "hasNext": True})

    assert ids_of(client.iter_user_pages()) == [["u1"]]


def test_has_next_false_ends_paging_even_with_a_next_token(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", has_next=False, next_token="stale"))

    assert ids_of(client.iter_user_pages()) == [["u1"]]
    assert len(lever.calls) == 1


def test_an_empty_next_token_ends_paging(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", has_next=True, next_token=""))

    assert ids_of(client.iter_user_pages()) == [["u1"]]


def test_a_percent_encoded_token_goes_back_exactly_as_lever_gave_it(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", has_next=True, next_token=TOKEN))
    lever.get(USERS, json=page("u2"))

    list(client.iter_user_pages())

    assert sent_query(lever.calls[1])["offset"] == [TOKEN]


def test_an_old_style_dotted_token_goes_back_unchanged(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    old = "0.1414895548650.a6070140-aaaa"
    lever.get(USERS, json=page("u1", has_next=True, next_token=old))
    lever.get(USERS, json=page("u2"), match=[list_query(old)])

    assert ids_of(client.iter_user_pages()) == [["u1"], ["u2"]]


def test_a_repeated_token_stops_paging_instead_of_looping(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", has_next=True, next_token="t1"))
    lever.get(USERS, json=page("u2", has_next=True, next_token="t2"))
    lever.get(USERS, json=page("u3", has_next=True, next_token="t1"))

    with pytest.raises(PaginationError, match="repeated the page token 't1' after 3 pages"):
        list(client.iter_user_pages())
    assert len(lever.calls) == 3


def test_every_page_request_asks_for_deactivated_users_and_100_per_page(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", has_next=True, next_token="t1"))
    lever.get(USERS, json=page("u2"))

    list(client.iter_user_pages())

    for call in lever.calls:
        query = sent_query(call)
        assert query["includeDeactivated"] == ["true"]
        assert query["limit"] == ["100"]


def test_filters_are_sent_alongside_the_fixed_parameters(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1"))

    list(client.iter_user_pages(email="ann@example.com", accessRole=["admin", "interviewer"]))

    query = sent_query(lever.calls[0])
    assert query["email"] == ["ann@example.com"]
    assert query["accessRole"] == ["admin", "interviewer"]
    assert query["includeDeactivated"] == ["true"]


def test_active_users_only_leaves_include_deactivated_out(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1"))

    list(client.iter_user_pages(include_deactivated=False, limit=50))

    assert sent_query(lever.calls[0]) == {"limit": ["50"]}


@pytest.mark.parametrize("limit", [0, 101])
def test_a_page_size_outside_1_to_100_is_a_configuration_error(
    client: LeverClient, limit: int
) -> None:
    with pytest.raises(ConnectorConfigError, match="page size must be 1 to 100"):
        list(client.iter_user_pages(limit=limit))


@pytest.mark.parametrize(
    "body",
    [[], {"users": []}, {"data": {}}, {"data": None}, "data"],
    ids=["list", "no-data", "data-object", "data-null", "string"],
)
def test_a_body_that_is_not_the_list_envelope_is_a_pagination_error(
    client: LeverClient, lever: responses.RequestsMock, body: Any
) -> None:
    lever.get(USERS, json=body)

    with pytest.raises(PaginationError, match="something other than a page"):
        list(client.iter_user_pages())


def test_a_token_that_is_not_a_string_is_a_pagination_error(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json={"data": [], "hasNext": True, "next": 17})

    with pytest.raises(PaginationError, match="not a string"):
        list(client.iter_user_pages())


# -- auth, timeouts, pacing ---------------------------------------------------------------


@pytest.mark.parametrize("password", [" ", "", "x"])
def test_basic_auth_sends_the_key_as_user_name_with_the_credential_password(
    lever: responses.RequestsMock, password: str
) -> None:
    lever.get(USERS, json=page())
    client = LeverClient(BASE, KEY, password, max_rps=0)

    list(client.iter_user_pages())
    client.close()

    expected = base64.b64encode(f"{KEY}:{password}".encode()).decode()
    assert lever.calls[0].request.headers["Authorization"] == f"Basic {expected}"
    assert KEY not in str(lever.calls[0].request.url)


def test_every_request_carries_the_timeout(
    make_client: Callable[..., LeverClient], lever: responses.RequestsMock
) -> None:
    client = make_client(timeout=12.5)
    lever.get(USERS, json=page("u1", has_next=True, next_token="t1"))
    lever.get(USERS, json=page("u2"))
    lever.get(f"{USERS}/u1", json={"data": user("u1")})
    lever.post(f"{USERS}/u1/deactivate", json={"data": user("u1", deactivatedAt=1)})
    lever.post(f"{USERS}/u1/reactivate", json={"data": user("u1")})

    list(client.iter_user_pages())
    client.get_user("u1")
    client.deactivate_user("u1")
    client.reactivate_user("u1")

    timeouts = [call.request.req_kwargs["timeout"] for call in lever.calls]  # type: ignore[attr-defined]
    assert timeouts == [12.5] * 5
    assert len(lever.calls) == 5


def test_the_client_paces_itself_under_lever_rate_limit(
    make_client: Callable[..., LeverClient], lever: responses.RequestsMock, clock: FakeClock
) -> None:
    client = make_client(max_rps=10.0, burst=10)
    sent_at: list[float] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        sent_at.append(clock.now)
        number = len(sent_at)
        return (
            200,
            {},
            json.dumps(page(f"u{number}", has_next=number < 60, next_token=f"t{number}")),
        )

    lever.add_callback(responses.GET, USERS, callback=answer)

    assert sum(len(batch) for batch in client.iter_user_pages()) == 60
    assert max(sum(1 for u in sent_at if t <= u < t + 1) for t in sent_at) <= 20
    assert sent_at[-1] >= (60 - 10) / 10 - 1e-9


# -- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_succeed(
    client: LeverClient, lever: responses.RequestsMock, clock: FakeClock, status: int
) -> None:
    lever.get(f"{USERS}/u1", status=status, json={"code": "Busy", "message": "try later"})
    lever.get(f"{USERS}/u1", json={"data": user("u1")})

    assert client.get_user("u1")["id"] == "u1"
    assert len(lever.calls) == 2
    assert clock.sleeps == [0.25]  # full jitter: rng 0.5 x first backoff step 0.5 s


@pytest.mark.parametrize(
    ("status", "error", "message_start"),
    [
        (400, LeverRequestError, "Lever refused GET /users/u1 (HTTP 400, BadRequest: no)"),
        (401, LeverAuthError, "Lever API key refused"),
        (403, LeverPermissionError, "Lever API key lacks permission"),
        (404, LeverNotFoundError, "Lever has nothing at /users/u1"),
        (409, LeverRequestError, "Lever refused GET /users/u1 (HTTP 409"),
        (422, LeverRequestError, "Lever refused GET /users/u1 (HTTP 422"),
        (501, LeverRequestError, "Lever refused GET /users/u1 (HTTP 501"),
    ],
)
def test_other_errors_are_not_retried_and_map_to_one_exception_each(
    client: LeverClient,
    lever: responses.RequestsMock,
    clock: FakeClock,
    status: int,
    error: type[ConnectorError],
    message_start: str,
) -> None:
    lever.get(f"{USERS}/u1", status=status, json={"code": "BadRequest", "message": "no"})

    with pytest.raises(error) as caught:
        client.get_user("u1")

    assert str(caught.value).startswith(message_start)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert len(lever.calls) == 1
    assert clock.sleeps == []


def test_auth_and_permission_messages_name_the_fix(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, status=401)
    lever.get(USERS, status=403)

    with pytest.raises(LeverAuthError, match="credential's username holds the Lever API key"):
        list(client.iter_user_pages())
    with pytest.raises(LeverPermissionError, match="read and list users; talk to a Lever Super"):
        list(client.iter_user_pages())


def test_a_request_error_carries_lever_code_and_message(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(
        USERS,
        status=400,
        json={"code": "BadRequestError", "message": "Invalid offset token: Offset token is bad"},
    )

    with pytest.raises(LeverRequestError) as caught:
        list(client.iter_user_pages())

    assert (caught.value.code, caught.value.lever_message) == (
        "BadRequestError",
        "Invalid offset token: Offset token is bad",
    )


def test_a_not_found_error_carries_the_path(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(f"{USERS}/no%20such", status=404, json={"code": "ResourceNotFound", "message": "?"})

    with pytest.raises(LeverNotFoundError) as caught:
        client.get_user("no such")

    assert caught.value.path == "/users/no%20such"


def test_retry_after_in_seconds_is_honoured(
    client: LeverClient, lever: responses.RequestsMock, clock: FakeClock
) -> None:
    lever.get(f"{USERS}/u1", status=429, headers={"Retry-After": "7"})
    lever.get(f"{USERS}/u1", json={"data": user("u1")})

    client.get_user("u1")

    assert clock.sleeps == [7.0]


@pytest.mark.parametrize(
    "server_date", [None, NOW - timedelta(hours=1)], ids=["our-clock", "server-date"]
)
def test_retry_after_as_an_http_date_is_honoured(
    client: LeverClient,
    lever: responses.RequestsMock,
    clock: FakeClock,
    server_date: datetime | None,
) -> None:
    now = server_date or NOW
    headers = {"Retry-After": format_datetime(now + timedelta(seconds=30), usegmt=True)}
    if server_date:
        headers["Date"] = format_datetime(server_date, usegmt=True)
    lever.get(f"{USERS}/u1", status=503, headers=headers)
    lever.get(f"{USERS}/u1", json={"data": user("u1")})

    client.get_user("u1")

    assert clock.sleeps == [30.0]


def test_backoff_doubles_with_full_jitter(
    make_client: Callable[..., LeverClient], lever: responses.RequestsMock, clock: FakeClock
) -> None:
    client = make_client(rng=lambda: 1.0)
    for _ in range(4):
        lever.get(f"{USERS}/u1", status=502)
    lever.get(f"{USERS}/u1", json={"data": user("u1")})

    client.get_user("u1")

    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_an_exhausted_retry_budget_raises_unavailable_with_a_clear_message(
    make_client: Callable[..., LeverClient], lever: responses.RequestsMock, clock: FakeClock
) -> None:
    client = make_client(rng=lambda: 1.0, retry_budget=10.0)
    lever.get(USERS, status=503, json={"code": "ServiceUnavailable", "message": "maintenance"})

    with pytest.raises(LeverUnavailableError) as caught:
        list(client.iter_user_pages())

    # 0.5 + 1 + 2 + 4 s slept; another 8 s would pass the 10 s budget.
    assert str(caught.value) == (
        "Lever unreachable after 5 tries over 7.5 s: HTTP 503 (ServiceUnavailable: maintenance)"
    )
    assert caught.value.exit_code == 1
    assert len(lever.calls) == 5


def test_max_tries_bounds_the_retries(
    make_client: Callable[..., LeverClient], lever: responses.RequestsMock
) -> None:
    client = make_client(max_tries=3)
    lever.get(USERS, status=500)

    with pytest.raises(LeverUnavailableError, match="after 3 tries"):
        list(client.iter_user_pages())
    assert len(lever.calls) == 3


def test_a_retry_after_beyond_the_budget_gives_up_at_once(
    client: LeverClient, lever: responses.RequestsMock, clock: FakeClock
) -> None:
    lever.get(USERS, status=429, headers={"Retry-After": "3600"})

    with pytest.raises(LeverUnavailableError, match=re.escape("after 1 try over 0.0 s: HTTP 429")):
        list(client.iter_user_pages())
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [
        {"body": "<html>502 Bad Gateway</html>"},
        {"body": ""},
        {"body": requests.ConnectionError("connection reset by peer")},
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectTimeout("connect timed out")},
    ],
    ids=["garbage-json", "empty-body", "connection-error", "read-timeout", "connect-timeout"],
)
def test_garbage_bodies_and_network_failures_are_retried(
    client: LeverClient, lever: responses.RequestsMock, failure: dict[str, Any]
) -> None:
    lever.get(f"{USERS}/u1", **failure)
    lever.get(f"{USERS}/u1", json={"data": user("u1")})

    assert client.get_user("u1")["id"] == "u1"
    assert len(lever.calls) == 2


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        ({"body": "not json"}, "HTTP 200 with a body that is not JSON (8 bytes)"),
        ({"body": requests.ConnectionError("reset")}, "connection failed (ConnectionError: reset)"),
        ({"body": requests.ReadTimeout("slow")}, "timed out after 30 s (ReadTimeout)"),
    ],
    ids=["garbage", "connection", "timeout"],
)
def test_persistent_transient_failures_end_as_unavailable(
    make_client: Callable[..., LeverClient],
    lever: responses.RequestsMock,
    failure: dict[str, Any],
    cause: str,
) -> None:
    client = make_client(max_tries=2)
    lever.get(f"{USERS}/u1", **failure)

    with pytest.raises(LeverUnavailableError) as caught:
        client.get_user("u1")

    assert str(caught.value) == f"Lever unreachable after 2 tries over 0.2 s: {cause}"


def test_each_retry_is_logged_as_a_warning(
    client: LeverClient, lever: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    lever.get(f"{USERS}/u1", status=503, json={"code": "ServiceUnavailable", "message": "down"})
    lever.get(f"{USERS}/u1", json={"data": user("u1")})

    with caplog.at_level(logging.WARNING, logger="invsync.lever"):
        client.get_user("u1")

    [record] = caplog.records
    assert (record.name, record.levelno) == ("invsync.lever", logging.WARNING)
    assert record.getMessage() == (
        "Lever GET /users/u1: attempt 1 failed (status 503, HTTP 503 (ServiceUnavailable: down));"
        " retrying in 0.25 s"
    )


# -- users --------------------------------------------------------------------------------


def test_get_user_quotes_the_id_into_the_path(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(f"{USERS}/a%2F..%2Fb", json={"data": user("a/../b")})

    assert client.get_user("a/../b")["id"] == "a/../b"


@pytest.mark.parametrize("user_id", ["", "  "])
def test_a_blank_user_id_is_refused_before_any_request(
    client: LeverClient, lever: responses.RequestsMock, user_id: str
) -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        client.get_user(user_id)
    assert len(lever.calls) == 0


def test_a_single_user_answer_without_data_is_a_response_error(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(f"{USERS}/u1", json={"id": "u1"})

    with pytest.raises(LeverResponseError, match='GET /users/u1 without a user under "data"'):
        client.get_user("u1")


def test_deactivate_user_returns_the_deactivated_user(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.post(f"{USERS}/u1/deactivate", json={"data": user("u1", deactivatedAt=1733206999000)})

    assert client.deactivate_user("u1")["deactivatedAt"] == 1733206999000


@pytest.mark.parametrize(
    ("action", "state_in_lever", "outcome"),
    [
        ("deactivate", {"deactivatedAt": 1733206999000}, "done"),
        ("deactivate", {"deactivatedAt": None}, LeverRequestError),
        ("reactivate", {"deactivatedAt": None}, "done"),
        ("reactivate", {"deactivatedAt": 1733206999000}, LeverRequestError),
    ],
)
def test_a_refused_switch_counts_as_done_when_the_user_already_is_in_that_state(
    client: LeverClient,
    lever: responses.RequestsMock,
    action: str,
    state_in_lever: dict[str, Any],
    outcome: Any,
) -> None:
    lever.post(f"{USERS}/u1/{action}", status=400, json={"code": "BadRequest", "message": "no"})
    lever.get(f"{USERS}/u1", json={"data": user("u1", **state_in_lever)})
    switch = getattr(client, f"{action}_user")

    if outcome == "done":
        assert switch("u1")["deactivatedAt"] == state_in_lever["deactivatedAt"]
    else:
        with pytest.raises(outcome):
            switch("u1")


def test_deactivating_an_unknown_user_is_not_found_without_a_second_look(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.post(f"{USERS}/nobody/deactivate", status=404)

    with pytest.raises(LeverNotFoundError):
        client.deactivate_user("nobody")
    assert len(lever.calls) == 1


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    ["api.lever.co/v1", "ftp://api.lever.co/v1", "https://", "", "http://[::1/v1", "https://h:x/"],
)
def test_a_malformed_base_url_is_a_configuration_error(base_url: str) -> None:
    with pytest.raises(ConnectorConfigError, match="must be an http") as caught:
        LeverClient(base_url, KEY)
    assert isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_a_base_url_holding_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        LeverClient(f"https://{KEY}:x@api.lever.co/v1", KEY)
    assert KEY not in str(caught.value)


def test_a_trailing_slash_on_the_base_url_is_harmless() -> None:
    assert LeverClient("https://api.lever.co/v1/", KEY).base_url == "https://api.lever.co/v1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api_key": " "}, "API key is empty"),
        ({"max_rps": -1}, "max_rps must be 0"),
        ({"burst": 0}, "burst must be 1"),
        ({"timeout": 0}, "timeout must be more than 0"),
        ({"retry_budget": -1}, "retry_budget must be 0"),
        ({"max_tries": 0}, "max_tries must be 1"),
    ],
)
def test_unusable_settings_are_configuration_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        LeverClient(**{"base_url": BASE, "api_key": KEY, **options})


class CountingSession(requests.Session):
    """A session that counts how often it was closed."""

    closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def test_the_client_closes_its_own_session_but_not_a_lent_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lent = CountingSession()
    with LeverClient(BASE, KEY, http=lent):
        pass
    assert lent.closed == 0

    monkeypatch.setattr(requests, "Session", CountingSession)
    with LeverClient(BASE, KEY) as client:
        owned = client._http
    assert isinstance(owned, CountingSession)
    assert owned.closed == 1


def test_the_lever_package_exports_exactly_its_public_names() -> None:
    public = {n for n in dir(connector.lever) if not n.startswith("_")}
    exported = set(connector.lever.__all__)
    assert exported <= public
    assert exported == {
        "DEFAULT_BASE_URL",
        "LeverClient",
        "LeverUserSchema",
        "TokenBucket",
        "load_user",
    }


@pytest.mark.parametrize(
    ("error", "exit_code"),
    [
        (LeverAuthError, 1),
        (LeverPermissionError, 1),
        (LeverRequestError, 1),
        (LeverUnavailableError, 1),
        (PaginationError, 1),
        (ConnectorConfigError, 2),
    ],
)
def test_exit_codes_say_whether_the_job_failed_or_the_setup_is_wrong(
    error: type[ConnectorError], exit_code: int
) -> None:
    assert error.exit_code == exit_code
    assert issubclass(error, FatalError) == (exit_code == 1)


# -- secrets ------------------------------------------------------------------------------

ECHO = {
    "code": "Unauthorized",
    "message": f"bad key {KEY} (Basic {base64.b64encode(f'{KEY}: '.encode()).decode()})",
}


def _status(status: int) -> Callable[[responses.RequestsMock], None]:
    return lambda lever: lever.get(USERS, status=status, json=ECHO)


SECRET_PATHS: dict[str, Callable[[responses.RequestsMock], None]] = {
    "401": _status(401),
    "403": _status(403),
    "404": _status(404),
    "400-echoing-the-key": _status(400),
    "503-echoing-the-key": _status(503),
    "429-echoing-the-key": _status(429),
    "garbage-echoing-the-key": lambda lever: lever.get(USERS, body=f"<pre>{KEY}</pre>"),
    "connection-error-naming-the-key": lambda lever: lever.get(
        USERS, body=requests.ConnectionError(f"refused for {KEY}")
    ),
    "non-envelope": lambda lever: lever.get(USERS, json={KEY: "?"}),
    "loop": lambda lever: lever.get(USERS, json=page("u1", has_next=True, next_token="t")),
}


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.mark.parametrize("path", SECRET_PATHS)
def test_the_api_key_reaches_no_log_exception_or_repr(
    make_client: Callable[..., LeverClient],
    lever: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    client = make_client(max_tries=2)
    SECRET_PATHS[path](lever)

    with caplog.at_level(logging.DEBUG), pytest.raises(ConnectorError) as caught:
        list(client.iter_user_pages())

    basic = base64.b64encode(f"{KEY}: ".encode()).decode()
    shown = [repr(client)] + [r.getMessage() for r in caplog.records]
    for exc in _chain(caught.value):
        shown += [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    assert not [text for text in shown if KEY in text or basic in text]


def test_repr_shows_the_base_url_only(client: LeverClient) -> None:
    assert repr(client) == f"LeverClient(base_url='{BASE}')"


# -- request and retry counts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "stats"),
    [
        ([{"json": page("u1")}], {"requests": {"200": 1}, "retries": {}}),
        (
            [{"status": 429, "json": {"code": "TooMany"}}, {"json": page("u1")}],
            {"requests": {"200": 1, "429": 1}, "retries": {"429": 1}},
        ),
        (
            [{"status": 503}, {"status": 502}, {"json": page("u1")}],
            {"requests": {"200": 1, "502": 1, "503": 1}, "retries": {"502": 1, "503": 1}},
        ),
        (
            [{"body": requests.ConnectionError("reset")}, {"json": page("u1")}],
            {"requests": {"200": 1, "network": 1}, "retries": {"network": 1}},
        ),
        (
            [{"body": "<html>busy</html>"}, {"json": page("u1")}],
            {"requests": {"200": 2}, "retries": {"200": 1}},
        ),
    ],
    ids=["ok", "429", "5xx", "network", "garbage-body"],
)
def test_the_client_counts_requests_and_retries_by_status(
    client: LeverClient,
    lever: responses.RequestsMock,
    answers: list[dict[str, Any]],
    stats: dict[str, dict[str, int]],
) -> None:
    for answer in answers:
        lever.get(USERS, **answer)

    list(client.iter_user_pages())

    assert client.stats == stats


def test_a_refusal_is_counted_but_not_as_a_retry(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(f"{USERS}/u1", status=404, json={"code": "ResourceNotFound", "message": "?"})

    with pytest.raises(LeverNotFoundError):
        client.get_user("u1")

    assert client.stats == {"requests": {"404": 1}, "retries": {}}


def test_the_try_that_gives_up_is_a_request_not_a_retry(
    make_client: Callable[..., LeverClient], lever: responses.RequestsMock
) -> None:
    client = make_client(max_tries=3)
    for _ in range(3):
        lever.get(USERS, status=503)

    with pytest.raises(LeverUnavailableError):
        list(client.iter_user_pages())

    assert client.stats == {"requests": {"503": 3}, "retries": {"503": 2}}


def test_stats_add_up_over_pages_and_are_a_copy(
    client: LeverClient, lever: responses.RequestsMock
) -> None:
    lever.get(USERS, json=page("u1", has_next=True, next_token="t2"), match=[list_query()])
    lever.get(USERS, status=500, match=[list_query("t2")])
    lever.get(USERS, json=page("u2"), match=[list_query("t2")])

    assert ids_of(client.iter_user_pages()) == [["u1"], ["u2"]]
    seen = client.stats
    seen["requests"]["200"] = 99

    assert client.stats == {"requests": {"200": 2, "500": 1}, "retries": {"500": 1}}
