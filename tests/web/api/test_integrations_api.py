"""Integrations and sync runs over the API, against the Lever simulator over loopback."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import run_reached
from tests.web.api.conftest import Bearer, Headers, Sim, wait_for_run
from tests.web.test_integrations import dry_run_finished
from web.appstate import app_state


def test_a_run_started_over_the_api_syncs_lever_into_people(
    client: FlaskClient, admin: Headers, bearer: Bearer, lever: str, lever_sim: Sim
) -> None:
    started = client.post(f"/api/v1/integrations/{lever}/runs", headers=admin)
    assert started.status_code == 202, started.get_json()
    run = started.get_json()
    assert run["integration"] == "lever" and run["trigger"] == "api"
    assert started.headers["Location"] == f"/api/v1/runs/{run['run_id']}"
    done = wait_for_run(client, admin, run["run_id"])
    assert done["status"] == "succeeded" and done["fetched"] == 250 and done["errors"] == []
    viewer = bearer("viewer")
    people = client.get("/api/v1/people", headers=viewer, query_string={"limit": 500})
    emails = {p["email"].lower() for p in people.get_json()["items"]}
    assert len(emails) == done["people"]["created"] > 0
    assert {str(u["email"]).lower() for u in lever_sim[0].users if u.get("email")} >= emails
    runs = client.get(f"/api/v1/integrations/{lever}/runs", headers=viewer).get_json()["items"]
    assert [r["run_id"] for r in runs] == [run["run_id"]]
    changes = client.get(
        "/api/v1/changes",
        headers=viewer,
        query_string={"object": "person", "run": run["run_id"], "limit": 3},
    )
    rows = changes.get_json()["items"]
    assert len(rows) == 3 and {(c["run_id"], c["action"]) for c in rows} == {
        (run["run_id"], "create")
    }
    assert rows[0]["id"] > rows[1]["id"] > rows[2]["id"], "newest first"


def test_a_second_start_while_running_is_refused_naming_the_run(
    client: FlaskClient, admin: Headers, lever: str, lever_sim: Sim
) -> None:
    lever_sim[0].inject("slow", delay=1.5)  # the first page is slow, so the run is still going
    first = client.post(f"/api/v1/integrations/{lever}/runs", headers=admin)
    assert first.status_code == 202
    run_id = first.get_json()["run_id"]
    assert first.get_json()["status"] in ("queued", "running")
    run_reached(app_state(client.application).sessions, run_id, "running")
    second = client.post(f"/api/v1/integrations/{lever}/runs", headers=admin, json={})
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "conflict"
    assert f"integration 'lever' is already running as run {run_id} " in error["message"]
    assert wait_for_run(client, admin, run_id)["status"] == "succeeded"


def test_a_dry_run_reports_what_would_change_and_changes_nothing(
    client: FlaskClient, admin: Headers, lever: str
) -> None:
    answer = client.post(
        f"/api/v1/integrations/{lever}/runs", headers=admin, json={"dry_run": True}
    )
    assert answer.status_code == 202, answer.get_json()
    asked = answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/dry-runs/{asked['dry_run_id']}"
    assert asked["integration"] == lever and asked["status"] in ("queued", "running", "succeeded")
    assert asked["report"] is None or asked["status"] == "succeeded", "a report once computed"
    factory = app_state(client.application).sessions
    assert dry_run_finished(factory, asked["dry_run_id"]) == "succeeded"
    shown = client.get(answer.headers["Location"], headers=admin).get_json()
    report = shown["report"]
    assert report["dry_run"] is True and report["fetched"] == 250
    assert client.get(f"/api/v1/integrations/{lever}/runs", headers=admin).get_json() == {
        "items": []
    }
    assert client.get("/api/v1/people", headers=admin).get_json()["items"] == []


def test_a_draft_cannot_sync_or_be_scheduled_until_mapped_and_launched(
    client: FlaskClient, admin: Headers, lever_sim: Sim
) -> None:
    client.post("/api/v1/credentials", headers=admin, json={"name": "k", "username": "key-1234"})
    made = client.post(
        "/api/v1/integrations",
        headers=admin,
        json={"name": "draft", "credential": "k", "base_url": lever_sim[1].url},
    )
    assert made.status_code == 201 and made.headers["Location"] == "/api/v1/integrations/draft"
    assert (
        made.get_json()["state"] == "draft" and "map email" in made.get_json()["missing_for_launch"]
    )
    refused = client.post("/api/v1/integrations/draft/runs", headers=admin)
    assert refused.status_code == 400 and "is a draft" in refused.get_json()["error"]["message"]
    launch = client.post("/api/v1/integrations/draft/launch", headers=admin)
    assert (
        launch.status_code == 400 and "still needed: map" in launch.get_json()["error"]["message"]
    )
    schedule = client.put(
        "/api/v1/integrations/draft/schedule",
        headers=admin,
        json={"kind": "every", "expression": "6h"},
    )
    assert schedule.status_code == 400


def test_schedule_and_settings_change_on_a_launched_integration(
    client: FlaskClient, admin: Headers, lever: str
) -> None:
    schedule = client.put(
        f"/api/v1/integrations/{lever}/schedule",
        headers=admin,
        json={"kind": "daily", "expression": "03:30", "tz": "Europe/Berlin"},
    )
    assert schedule.status_code == 200, schedule.get_json()
    shown = schedule.get_json()
    assert (shown["kind"], shown["expression"], shown["tz"]) == ("daily", "03:30", "Europe/Berlin")
    assert shown["next_run_at"] is not None
    paused = client.put(
        f"/api/v1/integrations/{lever}/schedule", headers=admin, json={"paused": True}
    )
    assert paused.get_json()["paused"] is True and paused.get_json()["next_run_at"] is None
    changed = client.patch(
        f"/api/v1/integrations/{lever}",
        headers=admin,
        json={"preference": "update_only", "contacts": ["it@example.com"]},
    )
    assert changed.status_code == 200
    assert changed.get_json()["preference"] == "update_only"
    assert changed.get_json()["contacts"] == ["it@example.com"]
    listed = client.get("/api/v1/integrations", headers=admin).get_json()["items"]
    assert [i["name"] for i in listed] == ["lever"] and listed[0]["credential"] == "lever-key"
    bad = client.patch(
        f"/api/v1/integrations/{lever}", headers=admin, json={"contacts": ["not an address"]}
    )
    assert (
        bad.status_code == 400 and "is not an email address" in bad.get_json()["error"]["message"]
    )


def test_cancel_and_approve_refuse_runs_in_the_wrong_state(
    client: FlaskClient, admin: Headers, lever: str
) -> None:
    run_id = client.post(f"/api/v1/integrations/{lever}/runs", headers=admin).get_json()["run_id"]
    wait_for_run(client, admin, run_id)
    cancel = client.post(f"/api/v1/runs/{run_id}/cancel", headers=admin)
    assert cancel.status_code == 400
    assert "only a running run can be cancelled" in cancel.get_json()["error"]["message"]
    approve = client.post(f"/api/v1/runs/{run_id}/approve", headers=admin)
    assert approve.status_code == 400
    assert "only a held run can be approved" in approve.get_json()["error"]["message"]
    assert client.post("/api/v1/runs/999/cancel", headers=admin).status_code == 404
