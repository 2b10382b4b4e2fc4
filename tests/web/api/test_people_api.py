"""People and SaaS-user lists over the API: search, filters, sort, keyset pages, one record."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import CustomField, Person, SaasApp, SaasUser
from tests.inventory.test_queries import add_hires
from tests.web.api.conftest import Bearer, Headers
from tests.web.conftest import SignIn

PEOPLE = [
    ("ada@example.com", "Ada Lovelace", "Admin", "active"),
    ("Bob@Example.com", "Bob Byte", "Employee", "active"),
    ("cy@example.com", "Cy <script>alert(1)</script>", "Employee", "inactive"),
    ("dee@example.com", "Dee Data", "Interviewer", "active"),
    ("eve@example.com", "Eve Echo", "Employee", "active"),
]
HIRE_KEYS = ("start_date", "department", "location", "personal_email", "manager_email")


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> None:
    """Five people, each with a Lever account of the same role, deactivated if they are not
    active."""
    with session_factory.begin() as session:
        app = SaasApp(name="Lever")
        session.add_all([app, CustomField(name="Team")])
        for i, (email, name, role, status) in enumerate(PEOPLE):
            person = Person(
                email=email,
                email_key=email.lower(),
                full_name=name,
                role=role,
                status=status,
                custom={"Team": "IT" if i % 2 else "Ops"},
            )
            user = SaasUser(
                app=app,
                external_id=f"u{i}",
                email=email,
                email_key=email.lower(),
                name=name,
                role=role,
                status=status if status == "active" else "deactivated",
                person=person,
            )
            session.add_all([person, user])


@pytest.fixture
def viewer(bearer: Bearer) -> Headers:
    """Authorization headers of the viewer account."""
    return bearer("viewer")


def get(client: FlaskClient, headers: Headers, path: str, **args: Any) -> Any:
    """GET an API path with a query string; the JSON answer (asserting 200)."""
    answer = client.get(path, headers=headers, query_string=args)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def emails(page: dict[str, Any]) -> list[str]:
    """The emails of a page's items, in order."""
    return [item["email"] for item in page["items"]]


def test_people_page_through_in_sort_order_with_cursors(
    client: FlaskClient, viewer: Headers, seeded: None
) -> None:
    seen: list[str] = []
    args: dict[str, Any] = {"sort": "full_name", "order": "desc", "limit": 2}
    while True:
        page = get(client, viewer, "/api/v1/people", **args)
        assert len(page["items"]) <= 2
        seen += emails(page)
        if page["next_cursor"] is None:
            break
        args["cursor"] = page["next_cursor"]
    assert seen == [p[0] for p in sorted(PEOPLE, key=lambda p: p[1].lower(), reverse=True)]


def test_people_search_and_filters_combine(
    client: FlaskClient, viewer: Headers, seeded: None
) -> None:
    assert emails(get(client, viewer, "/api/v1/people", q="BYTE bob")) == ["Bob@Example.com"]
    found = get(
        client, viewer, "/api/v1/people", filter=["status:eq:active", "role:in:Admin,Interviewer"]
    )
    assert emails(found) == ["ada@example.com", "dee@example.com"]
    rule = {"any": [{"field": "role", "op": "eq", "value": "admin"},
                    {"field": "custom.Team", "op": "eq", "value": "it"}]}  # fmt: skip
    found = get(client, viewer, "/api/v1/people", rule=json.dumps(rule), filter="status:eq:active")
    assert emails(found) == ["ada@example.com", "Bob@Example.com", "dee@example.com"]
    empty = get(client, viewer, "/api/v1/people", filter="job_title:is_empty")
    assert len(empty["items"]) == 5 and empty["next_cursor"] is None


@pytest.mark.parametrize(
    "filters",
    [
        ["role:in:Admin, Interviewer"],
        ["custom.Team:eq:IT", "status:ne:inactive"],
        ["full_name:contains:a:", "email:ends_with:example.com"],
    ],
)
def test_the_api_and_the_list_page_read_filters_alike(
    client: FlaskClient, viewer: Headers, seeded: None, signed_in: SignIn, filters: list[str]
) -> None:
    api = emails(get(client, viewer, "/api/v1/people", filter=filters, sort="email"))
    page = signed_in("viewer").get("/people", query_string={"f": filters, "format": "csv"})
    assert page.status_code == 200
    listed = [row["email"] for row in csv.DictReader(io.StringIO(page.get_data(as_text=True)))]
    assert api == listed


def test_one_person_by_the_id_the_list_gives(
    client: FlaskClient, viewer: Headers, seeded: None
) -> None:
    (item,) = get(client, viewer, "/api/v1/people", q="script")["items"]
    assert item["full_name"] == "Cy <script>alert(1)</script>"  # JSON carries it as data
    shown = get(client, viewer, f"/api/v1/people/{item['id']}")
    assert shown == item and shown["custom"] == {"Team": "Ops"}
    missing = client.get("/api/v1/people/99999", headers=viewer)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["message"].startswith("no person with id 99999")


def test_saas_users_of_one_app_filtered_and_shown(
    client: FlaskClient, viewer: Headers, seeded: None
) -> None:
    page = get(
        client,
        viewer,
        "/api/v1/saas-users",
        app="lever",
        filter="role:eq:employee",
        sort="external_id",
    )
    assert [u["external_id"] for u in page["items"]] == ["u1", "u2", "u4"]
    assert page["items"][0]["person_email"] == "Bob@Example.com"
    shown = get(client, viewer, f"/api/v1/saas-users/{page['items'][0]['id']}")
    assert shown == page["items"][0]
    assert get(client, viewer, "/api/v1/saas-users", app="Slack")["items"] == []
    assert client.get("/api/v1/saas-users/99999", headers=viewer).status_code == 404


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (
            {"filter": "status:equals:x"},
            400,
            "filter 'status:equals:x': rule op: unknown operator 'equals'",
        ),
        ({"filter": "shoe_size:eq:9"}, 400, "filter 'shoe_size:eq:9': rule field: unknown field"),
        ({"filter": "status"}, 400, "filter 'status': write it as field:op:value"),
        ({"rule": "{not json"}, 400, "rule: not valid JSON"),
        ({"rule": '{"field": "status"}'}, 400, "rule op: missing"),
        ({"sort": "password"}, 400, "cannot sort by 'password'"),
        ({"cursor": "bm9wZQ"}, 400, "invalid cursor"),
        ({"limit": "0"}, 422, "the request is invalid"),
        ({"order": "sideways"}, 422, "the request is invalid"),
        ({"color": "blue"}, 422, "the request is invalid"),
    ],
)
def test_bad_list_arguments_answer_one_line(
    client: FlaskClient, viewer: Headers, args: dict[str, str], status: int, says: str
) -> None:
    answer = client.get("/api/v1/people", headers=viewer, query_string=args)
    assert answer.status_code == status
    error = answer.get_json()["error"]
    assert error["status"] == status and error["message"].startswith(says), error
    if status == 422:
        assert set(error["details"]) == set(args)


@pytest.fixture
def hires(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """The inventory tests' hires around 2024-07-01, committed; their ids by email."""
    with session_factory.begin() as session:
        return {email: p.id for email, p in add_hires(session, date(2024, 7, 1)).items()}


def test_people_carry_their_hire_fields_and_manager(
    client: FlaskClient, viewer: Headers, hires: dict[str, int]
) -> None:
    (hana,) = get(client, viewer, "/api/v1/people", q="hana")["items"]
    assert hana["id"] == hires["hana@corp.example"]
    assert {key: hana[key] for key in HIRE_KEYS} == {
        "start_date": "2024-07-01",
        "department": "Engineering",
        "location": "Berlin",
        "personal_email": "hana@home.example",
        "manager_email": "mia@corp.example",
    }
    assert get(client, viewer, f"/api/v1/people/{hana['id']}") == hana
    (mia,) = get(client, viewer, "/api/v1/people", q="mia")["items"]
    assert (mia["start_date"], mia["manager_email"]) == (None, None)


def test_pre_start_people_page_by_start_date_with_the_undated_last(
    client: FlaskClient, viewer: Headers, hires: dict[str, int]
) -> None:
    args: dict[str, Any] = {"filter": "status:eq:pre_start", "sort": "start_date", "limit": 4}
    first = get(client, viewer, "/api/v1/people", **args)
    rest = get(client, viewer, "/api/v1/people", **args, cursor=first["next_cursor"])
    assert rest["next_cursor"] is None
    both = first["items"] + rest["items"]
    assert [(p["email"].split("@")[0], p["start_date"]) for p in both] == [
        ("lee", "2024-06-30"), ("hana", "2024-07-01"), ("ivo", "2024-07-06"),
        ("jan", "2024-07-30"), ("kim", "2024-07-31"), ("max", None),
    ]  # fmt: skip
    between = ["start_date:gt:2024-07-01", "start_date:lt:2024-07-31", "status:eq:pre_start"]
    assert emails(get(client, viewer, "/api/v1/people", filter=between)) == [
        "ivo@corp.example", "jan@corp.example",
    ]  # fmt: skip
    bad = client.get("/api/v1/people", headers=viewer, query_string={"filter": "start_date:eq:x"})
    assert bad.status_code == 400
    assert "needs a date as YYYY-MM-DD" in bad.get_json()["error"]["message"]


def test_the_documented_person_has_the_hire_fields(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    person = document["components"]["schemas"]["Person"]["properties"]
    assert set(HIRE_KEYS) <= set(person)
    assert person["start_date"]["description"] == "ISO-8601 date (YYYY-MM-DD)"
