"""Workflows and approvals over the API: create, replace, check, try, activate, read runs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import workflow_run_finished
from tests.web.api.conftest import Bearer, Headers
from web.appstate import app_state

DEFINITION: dict[str, Any] = {
    "name": "lever-role",
    "description": "Read each Lever user's role",
    "object": "saas_users",
    "trigger": {"type": "manual"},
    "criteria": {"all": [{"field": "app", "op": "eq", "value": "Lever"},
                         {"field": "status", "op": "eq", "value": "active"}]},
    "run_mode": "autopilot",
    "blocks": [
        {"id": "begin", "type": "begin"},
        {"id": "role", "type": "saas_user_role", "preset": "lever_user_role",
         "credential": "lever-key"},
        {"id": "end", "type": "end"},
    ],
    "edges": [
        {"from": "begin", "to": "role"},
        {"from": "role", "to": "end", "on": "success"},
        {"from": "role", "to": "end", "on": "failure"},
    ],
}  # fmt: skip


@pytest.fixture
def author(client: FlaskClient, bearer: Bearer) -> Headers:
    """The author's headers, with the credential 'lever-key' stored by the admin."""
    key = {"name": "lever-key", "username": "some-lever-key-1234"}
    assert client.post("/api/v1/credentials", headers=bearer("admin"), json=key).status_code == 201
    return bearer("author")


def test_a_workflow_is_created_replaced_tried_and_activated(
    client: FlaskClient, author: Headers, bearer: Bearer
) -> None:
    made = client.post("/api/v1/workflows", headers=author, json=DEFINITION)
    assert made.status_code == 201, made.get_json()
    assert made.headers["Location"] == "/api/v1/workflows/lever-role"
    assert (made.get_json()["state"], made.get_json()["version"]) == ("draft", 1)
    changed = {**copy.deepcopy(DEFINITION), "description": "Roles from Lever"}
    del changed["name"]  # the URL names it
    saved = client.put("/api/v1/workflows/lever-role", headers=author, json=changed)
    assert saved.status_code == 200, saved.get_json()
    assert (saved.get_json()["result"], saved.get_json()["version"]) == ("edited", 1)
    assert saved.get_json()["definition"]["description"] == "Roles from Lever"
    checked = client.post("/api/v1/workflows/lever-role/validate", headers=author)
    assert checked.get_json() == {"valid": True, "problems": []}
    tried = client.post("/api/v1/workflows/lever-role/dry-run", headers=author)
    assert tried.status_code == 202, tried.get_json()
    location = tried.headers["Location"]
    assert location == f"/api/v1/workflow-runs/{tried.get_json()['run_id']}"
    assert tried.get_json()["dry_run"] is True
    assert workflow_run_finished(app_state(client.application).sessions,
                                 tried.get_json()["run_id"]) == "succeeded"  # fmt: skip
    done = client.get(location, headers=bearer("viewer")).get_json()
    assert (done["status"], done["dry_run"], done["matched"]) == ("succeeded", True, 0)
    active = client.post("/api/v1/workflows/lever-role/activate", headers=author)
    assert active.get_json()["state"] == "active"
    viewer = bearer("viewer")
    runs = client.get("/api/v1/workflows/lever-role/runs", headers=viewer).get_json()["items"]
    assert [r["run_id"] for r in runs] == [tried.get_json()["run_id"]]
    manual = client.post("/api/v1/workflows/lever-role/runs", headers=author)
    assert manual.status_code == 202 and manual.get_json()["dry_run"] is False
    assert manual.headers["Location"] == f"/api/v1/workflow-runs/{manual.get_json()['run_id']}"
    listed = client.get("/api/v1/workflows", headers=viewer).get_json()["items"]
    assert [(w["name"], w["state"], w["blocks"]) for w in listed] == [("lever-role", "active", 3)]
    stopped = client.post("/api/v1/workflows/lever-role/deactivate", headers=author)
    assert stopped.get_json()["state"] == "inactive"


def test_an_invalid_definition_lists_every_problem(client: FlaskClient, author: Headers) -> None:
    broken = copy.deepcopy(DEFINITION)
    broken["blocks"][1]["credential"] = "nope"
    broken["run_mode"] = "sometimes"
    refused = client.post("/api/v1/workflows", headers=author, json=broken)
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["message"].startswith("workflow has 2 problems")
    assert len(error["details"]) == 2 and any("nope" in p for p in error["details"])
    wrong_name = client.put("/api/v1/workflows/other", headers=author, json=DEFINITION)
    assert wrong_name.status_code == 400
    assert "named 'lever-role', not 'other'" in wrong_name.get_json()["error"]["message"]
    assert client.get("/api/v1/workflows/ghost", headers=author).status_code == 404
    assert client.post("/api/v1/workflows", headers=author, json=DEFINITION).status_code == 201
    again = client.post("/api/v1/workflows", headers=author, json=DEFINITION)
    assert again.status_code == 409


def test_approvals_list_and_refuse_unknown_ones(client: FlaskClient, author: Headers) -> None:
    assert client.get("/api/v1/approvals", headers=author).get_json() == {"items": []}
    everything = client.get("/api/v1/approvals", headers=author, query_string={"status": "all"})
    assert everything.get_json() == {"items": []}
    bad = client.get("/api/v1/approvals", headers=author, query_string={"status": "maybe"})
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["details"]
    for verb in ("approve", "reject"):
        missing = client.post(f"/api/v1/approvals/42/{verb}", headers=author)
        assert missing.status_code == 404, missing.get_json()


def test_viewers_read_workflows_but_cannot_change_them(
    client: FlaskClient, author: Headers, bearer: Bearer
) -> None:
    client.post("/api/v1/workflows", headers=author, json=DEFINITION)
    viewer = bearer("viewer")
    shown = client.get("/api/v1/workflows/lever-role", headers=viewer)
    assert shown.status_code == 200 and shown.get_json()["definition"]["name"] == "lever-role"
    for action in ("activate", "dry-run", "runs"):
        assert (
            client.post(f"/api/v1/workflows/lever-role/{action}", headers=viewer).status_code == 403
        )


PEOPLE: dict[str, Any] = {
    "name": "new-hire-laptop",
    "object": "people",
    "trigger": {"type": "person_hired"},
    "criteria": {"field": "department", "op": "eq", "value": "Engineering"},
    "blocks": [
        {"id": "begin", "type": "begin"},
        {"id": "mail", "type": "notification", "to": "it@example.com",
         "subject": "Laptop for {{ record.full_name }}", "body": "{{ record.start_date }}"},
        {"id": "end", "type": "end"},
    ],
    "edges": [
        {"from": "begin", "to": "mail"},
        {"from": "mail", "to": "end", "on": "success"},
        {"from": "mail", "to": "end", "on": "failure"},
    ],
}  # fmt: skip


def test_the_object_of_a_workflow_goes_in_and_comes_back(
    client: FlaskClient, author: Headers, bearer: Bearer
) -> None:
    made = client.post("/api/v1/workflows", headers=author, json=PEOPLE)
    assert made.status_code == 201, made.get_json()
    assert (made.get_json()["object"], made.get_json()["definition"]["object"]) == ("people",) * 2
    shown = client.get("/api/v1/workflows/new-hire-laptop", headers=bearer("viewer")).get_json()
    assert (shown["object"], shown["trigger"]) == ("people", {"type": "person_hired"})
    replaced = client.put("/api/v1/workflows/new-hire-laptop", headers=author,
                          json={**PEOPLE, "description": "IT orders a laptop"})  # fmt: skip
    assert replaced.status_code == 200 and replaced.get_json()["object"] == "people"
    listed = client.get("/api/v1/workflows", headers=author).get_json()["items"]
    assert [(w["name"], w["object"]) for w in listed] == [("new-hire-laptop", "people")]
    roles = client.post("/api/v1/workflows", headers=author, json=DEFINITION).get_json()
    assert roles["object"] == "saas_users"


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"object": "laptops"}, 422, "object"),
        ({"object": "saas_users"}, 400, "person_hired starts people workflows"),
        ({"run_mode": "supervised"}, 400, "never waits for approval"),
    ],
)
def test_a_people_definition_that_does_not_fit_is_refused(
    client: FlaskClient, author: Headers, change: dict[str, Any], status: int, text: str
) -> None:
    refused = client.post("/api/v1/workflows", headers=author, json={**PEOPLE, **change})
    assert refused.status_code == status, refused.get_json()
    error = refused.get_json()["error"]
    assert text in f"{error['message']} {error.get('details')}"
