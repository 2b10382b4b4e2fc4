"""The workflow pages as an author meets them: the list, the editor's JSON calls and its JSON
form, dry runs against the Lever simulator, activation and versions, runs, and approvals."""

from __future__ import annotations

import copy
import json
import re
from functools import partial
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from connector.ledger import owner_id
from inventory.models import Approval
from inventory.settings import Settings
from tests.conftest import API_KEY, Sim, status_of, wait_for, workflow_run_finished
from tests.web.conftest import SignIn, csrf_of
from tests.workflows.conftest import DELETE, ROLE, chain
from vault.keys import load_keyring
from vault.store import Vault
from web.appstate import app_state
from workflows import store
from workflows.registry import load_registry
from workflows.runner import queue_workflow, run_queued_workflow

JSON = "application/json"


@pytest.fixture
def author(signed_in: SignIn) -> FlaskClient:
    """A signed-in author."""
    return signed_in("author")


def of(*external_ids: str) -> dict[str, Any]:
    """Criteria matching some Lever accounts."""
    return {"all": [{"field": "app", "op": "eq", "value": "Lever"},
                    {"field": "external_id", "op": "in", "value": list(external_ids)}]}  # fmt: skip


def active_ids(sim: Sim) -> list[str]:
    """Ids of the simulator's active users."""
    return [u["id"] for u in sim[0].users if not u["deactivatedAt"]]


def post_json(browser: FlaskClient, path: str, body: Any = None, *, csrf: bool = True) -> Any:
    """POST JSON as the editor does, with the page's CSRF token in X-CSRF-Token."""
    headers = {"Accept": JSON, **({"X-CSRF-Token": csrf_of(browser, "/")} if csrf else {})}
    return browser.post(path, data=json.dumps(body or {}), content_type=JSON, headers=headers)


def stored(session_factory: sessionmaker[Session], doc: dict[str, Any], activate: bool) -> None:
    """Store a workflow directly (and activate it when asked)."""
    with session_factory.begin() as session:
        store.create(session, doc, load_registry())
        if activate:
            store.activate(session, doc["name"], load_registry())


def simple(name: str = "Read roles", **top: Any) -> dict[str, Any]:
    """A workflow that needs no credential: begin → end."""
    doc = chain(name=name, **top)
    doc["blocks"] = [b for b in doc["blocks"] if b["type"] in ("begin", "end")]
    doc["edges"] = [{"from": "begin", "to": "end", "on": "success"}]
    return doc


# -- the list and the editor pages -----------------------------------------------------------


def test_the_list_shows_state_trigger_and_a_way_to_start_a_new_one(
    author: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    stored(session_factory, simple("Nightly", trigger={"type": "schedule", "daily": "03:00"}),
           activate=True)  # fmt: skip
    stored(session_factory, simple("<img src=x onerror=alert(1)>"), activate=False)
    page = author.get("/workflows").get_data(as_text=True)
    assert re.search(r'<a href="/workflows/new"[^>]*>New workflow</a>', page)
    assert "Nightly" in page and "schedule: daily 03:00 UTC" in page and "active" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "never" in page, "no run yet"


def test_the_editor_offers_the_palette_the_canvas_and_the_json_form(
    author: FlaskClient, synced: Sim
) -> None:
    page = author.get("/workflows/new").get_data(as_text=True)
    for kind in ("begin", "end", "api", "saas_user_role", "condition", "update", "notification"):
        assert f'data-block-type="{kind}"' in page
    for label in ("Validate", "Save", "Dry run", "Activate"):
        assert f">{label}</button>" in page
    assert 'id="drawflow"' in page and 'id="block-settings"' in page
    assert 'id="workflow-problems"' in page and 'id="dry-run-report"' in page
    assert (
        '<input name="name"' in page and '<textarea id="definition-json" name="definition"' in page
    )
    assert "js/workflow-editor.js" in page and "<script>" not in page, "no inline script (CSP)"
    config = json.loads(re.search(r'id="workflow-editor-config">(.*?)</script>', page).group(1))
    assert config["credentials"] == ["lever-key"] and API_KEY not in page
    presets = {b["type"]: [p["name"] for p in b["presets"]] for b in config["blocks"]}
    assert "lever_delete_user" in presets["api"] and presets["saas_user_role"] == [
        "lever_user_role"
    ]


def test_the_json_form_creates_a_draft_without_javascript(author: FlaskClient, synced: Sim) -> None:
    doc = chain(ROLE, name="Lever user role")
    done = author.post(
        "/workflows/new",
        data={"definition": json.dumps(doc), "csrf_token": csrf_of(author, "/workflows/new")},
    )
    assert done.status_code == 302 and done.headers["Location"] == "/workflows/Lever%20user%20role"
    page = author.get(done.headers["Location"]).get_data(as_text=True)
    assert 'id="workflow-state">draft<' in page and "created as a draft" in page
    editor = author.get("/workflows/Lever%20user%20role/edit").get_data(as_text=True)
    assert "readonly" in editor and '"preset": "lever_user_role"' in editor


def test_the_json_form_shows_problems_and_keeps_the_text(author: FlaskClient) -> None:
    token = csrf_of(author, "/workflows/new")
    broken = author.post("/workflows/new", data={"definition": "{nope", "csrf_token": token})
    assert broken.status_code == 400
    assert "not valid JSON" in broken.get_data(as_text=True)
    assert "{nope" in broken.get_data(as_text=True)
    doc = chain(dict(DELETE, credential="missing-key"), name="Delete")
    refused = author.post(
        "/workflows/new", data={"definition": json.dumps(doc), "csrf_token": token}
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert (
        '<li data-block="delete">block &#39;delete&#39;: credential &#39;missing-key&#39;' in page
    )


def palette(page: str) -> dict[str, bool]:
    """The editor's palette: block type → whether it is shown."""
    items = re.findall(r'<li class="palette-item"[^>]*data-block-type="(\w+)"[^>]*>', page)
    shown = re.findall(r'<li class="palette-item"[^>]*data-block-type="(\w+)"(?![^>]*hidden)', page)
    return {kind: kind in shown for kind in items}


def test_a_people_workflow_starts_from_the_people_starter_with_its_palette(
    author: FlaskClient,
) -> None:
    index = author.get("/workflows").get_data(as_text=True)
    assert 'href="/workflows/new?object=people"' in index
    page = author.get("/workflows/new?object=people").get_data(as_text=True)
    definition = json.loads(re.search(r'id="workflow-definition">(.*?)</script>', page).group(1))
    assert (definition["object"], definition["trigger"]) == ("people", {"type": "person_hired"})
    assert re.search(r'<option value="people" selected>People</option>', page)
    assert palette(page) == {"begin": True, "end": True, "saas_user_role": False, "api": True,
                             "update": False, "notification": True, "condition": True}  # fmt: skip
    config = json.loads(re.search(r'id="workflow-editor-config">(.*?)</script>', page).group(1))
    assert config["object_triggers"]["people"] == ["schedule", "manual", "person_hired",
                                                   "person_started"]  # fmt: skip
    assert "record_created" not in config["object_triggers"]["people"]
    assert "person_hired" not in config["object_triggers"]["saas_users"]
    assert {"start_date", "department", "location"} <= set(config["fields"]["people"])
    assert config["object_run_modes"]["people"] == ["autopilot"]
    api = next(b for b in config["blocks"] if b["type"] == "api")
    assert all(p["objects"] == ["saas_users"] for p in api["presets"])
    saas = palette(author.get("/workflows/new").get_data(as_text=True))
    assert all(saas.values()), "a SaaS-user workflow offers every block"


def test_the_editor_saves_a_people_workflow_and_names_blocks_that_do_not_fit(
    author: FlaskClient, synced: Sim, session_factory: sessionmaker[Session]
) -> None:
    mail = {
        "id": "mail",
        "type": "notification",
        "to": "it@example.com",
        "subject": "Laptop for {{ record.full_name }}",
        "body": "{{ record.start_date }}",
    }
    doc = chain(mail, name="Laptops", object="people", trigger={"type": "person_hired"},
                criteria={"field": "status", "op": "eq", "value": "pre_start"})  # fmt: skip
    with_role = chain(ROLE, name="Laptops", object="people", trigger={"type": "person_hired"},
                      criteria={"all": []})  # fmt: skip
    answer = post_json(author, "/workflows/validate", with_role).get_json()
    assert [(p["block"], "a people workflow cannot use it" in p["message"])
            for p in answer["problems"]] == [("role", True)]  # fmt: skip
    created = post_json(author, "/workflows/new/definition", doc).get_json()
    assert (created["ok"], created["result"]) == (True, "created")
    with session_factory() as session:
        assert store.get(session, "Laptops").object_type == "people"
    shown = author.get("/workflows/Laptops").get_data(as_text=True)
    assert "<dt>Object</dt><dd>People</dd>" in shown
    editor = author.get("/workflows/Laptops/edit").get_data(as_text=True)
    assert re.search(r'id="wf-object" disabled', editor)


# -- the editor's JSON calls -----------------------------------------------------------------


def test_validation_problems_name_their_block(author: FlaskClient, synced: Sim) -> None:
    doc = chain(dict(DELETE, credential="missing-key"), {"id": "check", "type": "condition"},
                name="Broken", trigger={"type": "schedule", "daily": "25:00"})  # fmt: skip
    doc["edges"].append({"from": "begin", "to": "end"})
    answer = post_json(author, "/workflows/validate", doc).get_json()
    assert answer["ok"] is False
    by_block = {(p["block"], p["message"].split(": ", 1)[0]) for p in answer["problems"]}
    assert ("delete", "block 'delete'") in by_block
    assert ("check", "block 'check'") in by_block
    assert ("begin", "trigger") in by_block, "trigger problems belong to the begin block"
    assert any("connected twice" in p["message"] and p["block"] == "begin"
               for p in answer["problems"])  # fmt: skip
    valid = post_json(author, "/workflows/validate", chain(ROLE)).get_json()
    assert valid == {"ok": True, "problems": []}


def test_the_json_endpoint_needs_the_csrf_token(author: FlaskClient, synced: Sim) -> None:
    refused = post_json(author, "/workflows/new/definition", chain(ROLE), csrf=False)
    assert refused.status_code == 403
    assert author.get("/workflows/wf").status_code == 404, "nothing was stored"
    created = post_json(author, "/workflows/new/definition", chain(ROLE))
    assert created.status_code == 200
    body = created.get_json()
    assert (body["ok"], body["result"], body["state"], body["version"]) == (
        True, "created", "draft", 1)  # fmt: skip
    assert body["edit_url"] == "/workflows/wf/edit" and body["problems"] == []
    again = post_json(author, "/workflows/new/definition", chain(ROLE))
    assert (
        again.status_code == 409 and "exists already" in again.get_json()["problems"][0]["message"]
    )


def test_saving_an_invalid_definition_stores_nothing(author: FlaskClient, synced: Sim) -> None:
    answer = post_json(author, "/workflows/new/definition", chain({"id": "x", "type": "nope"}))
    assert answer.status_code == 400
    assert answer.get_json()["problems"][0]["block"] == "x"
    assert author.get("/workflows/wf").status_code == 404


def test_dry_run_reports_what_each_record_would_go_through(
    author: FlaskClient, synced: Sim, session_factory: sessionmaker[Session]
) -> None:
    sim = synced[0]
    first, second = active_ids(synced)[:2]
    doc = chain(ROLE, DELETE, criteria=of(first, second))
    assert post_json(author, "/workflows/new/definition", doc).get_json()["ok"]
    posts = sim.calls("POST")
    queued = post_json(author, "/workflows/wf/dry-run")
    assert queued.status_code == 202, "the request only queues the dry run"
    assert queued.get_json()["dry_run"] is True and queued.get_json()["url"].endswith(
        f"/runs/{queued.get_json()['run_id']}"
    )
    assert workflow_run_finished(session_factory, queued.get_json()["run_id"]) == "succeeded"
    report = author.get(queued.get_json()["url"], headers={"Accept": "application/json"}).get_json()
    assert sim.calls("POST") == posts, "a dry run changes nothing in Lever"
    assert (report["ok"], report["done"], report["dry_run"], report["matched"]) == (
        True, True, True, 2)  # fmt: skip
    assert len(report["records"]) == 2
    steps = report["records"][0]["steps"]
    assert [s["block"] for s in steps] == ["begin", "role", "delete", "end"]
    assert steps[2]["message"].startswith(f"would deactivate in Lever (POST /users/{first}")
    page = author.get(report["url"]).get_data(as_text=True)
    assert 'id="run-status"' in page and "would deactivate in Lever" in page


def test_activate_then_editing_makes_version_2(
    author: FlaskClient, synced: Sim, session_factory: sessionmaker[Session]
) -> None:
    doc = chain(ROLE)
    post_json(author, "/workflows/new/definition", doc)
    activated = post_json(author, "/workflows/wf/activate").get_json()
    assert (activated["ok"], activated["state"], activated["version"]) == (True, "active", 1)
    changed = copy.deepcopy(doc) | {"description": "reads roles"}
    saved = post_json(author, "/workflows/wf/definition", changed).get_json()
    assert (saved["result"], saved["state"], saved["version"]) == ("new_version", "active", 2)
    page = author.get("/workflows/wf").get_data(as_text=True)
    table = page.split('id="workflow-versions"')[1]
    assert re.search(r"<td>2 <span class=\"badge\">current</span></td>", table)
    assert "<td>1</td>" in table
    renamed = post_json(author, "/workflows/wf/definition", changed | {"name": "other"})
    assert renamed.status_code == 400 and "must stay 'wf'" in renamed.get_data(as_text=True)
    editor = author.get("/workflows/wf/edit").get_data(as_text=True)
    assert re.search(r'data-action="activate" hidden>Activate', editor)
    assert re.search(r'data-action="deactivate">Deactivate', editor)


def test_deactivate_by_form_and_activate_refusals_name_the_block(
    author: FlaskClient, synced: Sim, session_factory: sessionmaker[Session]
) -> None:
    stored(session_factory, chain(ROLE), activate=True)
    token = csrf_of(author, "/workflows/wf")
    done = author.post("/workflows/wf/deactivate", data={"csrf_token": token})
    assert done.status_code == 302
    assert 'id="workflow-state">inactive<' in author.get("/workflows/wf").get_data(as_text=True)
    with session_factory.begin() as session:
        Vault(session, load_keyring(app_state(author.application).settings)).delete("lever-key")
    refused = post_json(author, "/workflows/wf/activate")
    assert refused.status_code == 400
    assert refused.get_json()["problems"][0]["block"] == "role"


def test_run_now_runs_an_active_workflow_and_shows_its_steps(
    author: FlaskClient, synced: Sim, session_factory: sessionmaker[Session]
) -> None:
    first = active_ids(synced)[0]
    stored(session_factory, chain(ROLE, criteria=of(first)), activate=True)
    token = csrf_of(author, "/workflows/wf")
    started = author.post("/workflows/wf/run", data={"csrf_token": token})
    assert started.status_code == 302
    assert re.fullmatch(r"/workflows/wf/runs/\d+", started.headers["Location"])
    run_id = int(started.headers["Location"].rsplit("/", 1)[1])
    assert workflow_run_finished(session_factory, run_id) == "succeeded"
    page = author.get(started.headers["Location"]).get_data(as_text=True)
    assert 'id="run-live">' in page, "a finished run's page no longer asks for itself"
    assert f'<dd id="run-worker">{owner_id()}</dd>' in page, "the process that walked it"
    assert 'id="run-status" class="run-succeeded">succeeded<' in page
    assert "<td>role</td><td>success</td>" in page
    listing = author.get("/workflows").get_data(as_text=True)
    assert "succeeded" in listing


def test_a_queued_run_page_follows_the_run_until_it_ends(
    author: FlaskClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    stored(session_factory, simple("wf"), activate=True)
    run_id = queue_workflow(session_factory, settings, "wf")  # queued, handed to no worker
    page = author.get(f"/workflows/wf/runs/{run_id}").get_data(as_text=True)
    assert 'id="run-status" class="run-queued">queued<' in page
    assert f'hx-get="/workflows/wf/runs/{run_id}" hx-select="#run-live"' in page
    assert "No steps yet: the run waits for a worker." in page
    report = author.get(f"/workflows/wf/runs/{run_id}", headers={"Accept": JSON}).get_json()
    assert (report["status"], report["done"]) == ("queued", False)
    assert run_queued_workflow(session_factory, settings, run_id) is not None
    page = author.get(f"/workflows/wf/runs/{run_id}").get_data(as_text=True)
    assert 'class="run-succeeded">succeeded<' in page and "hx-get" not in page.split("run-live")[1]


def test_run_now_refuses_a_draft_with_a_message(
    author: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    stored(session_factory, simple("wf"), activate=False)
    token = csrf_of(author, "/workflows/wf")
    refused = author.post("/workflows/wf/run", data={"csrf_token": token}, follow_redirects=True)
    assert "is a draft" in refused.get_data(as_text=True)


# -- approvals -------------------------------------------------------------------------------


def test_approvals_are_approved_and_rejected_from_the_queue(
    author: FlaskClient, synced: Sim, session_factory: sessionmaker[Session]
) -> None:
    sim = synced[0]
    first, second = active_ids(synced)[:2]
    stored(session_factory, chain(DELETE, criteria=of(first, second), run_mode="supervised"),
           activate=True)  # fmt: skip
    token = csrf_of(author, "/workflows/wf")
    started = author.post("/workflows/wf/run", data={"csrf_token": token})
    run_id = int(started.headers["Location"].rsplit("/", 1)[1])
    assert workflow_run_finished(session_factory, run_id) == "waiting_approval"
    queue = author.get("/approvals").get_data(as_text=True)
    ids = re.findall(r'<tr id="approval-(\d+)">', queue)
    assert len(ids) == 2 and "deactivate in Lever" in queue
    assert ">Approve</button>" in queue and ">Reject</button>" in queue
    posts = sim.calls("POST")
    approved = author.post(f"/approvals/{ids[0]}/approve", data={"csrf_token": token},
                           follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert f"Approval {ids[0]} approved: it is being sent to Lever." in approved
    assert approval_sent(session_factory, int(ids[0])).startswith("success")
    assert sim.calls("POST", f"/v1/users/{first}/deactivate") == 1
    rejected = author.post(f"/approvals/{ids[1]}/reject", data={"csrf_token": token},
                           follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert f"Approval {ids[1]} rejected" in rejected
    assert sim.calls("POST") == posts + 1, "only the approved change reached Lever"
    assert "Nothing is waiting for a decision." in rejected
    decided = rejected.split('id="decided-approvals"')[1]
    assert "approved" in decided and "rejected" in decided and "author" in decided
    again = author.post(f"/approvals/{ids[1]}/approve", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "was rejected already" in again


def approval_sent(factory: sessionmaker[Session], approval_id: int, timeout: float = 30.0) -> str:
    """Poll until a worker has sent an accepted approval to Lever; its result."""
    read = partial(status_of, factory, Approval, approval_id)
    sent = wait_for(read, lambda status: status != "approving", "the approval sent", timeout)
    assert sent == "approved", sent
    with factory() as session:
        return session.get_one(Approval, approval_id).result or ""


# -- who may ---------------------------------------------------------------------------------


def test_a_viewer_may_not_see_or_change_workflows(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    stored(session_factory, simple("wf"), activate=False)
    viewer = signed_in("viewer")
    for path in ("/workflows", "/workflows/new", "/workflows/wf", "/workflows/wf/edit",
                 "/approvals"):  # fmt: skip
        assert viewer.get(path).status_code == 403, path
    assert post_json(viewer, "/workflows/new/definition", simple("x")).status_code == 403
    assert post_json(viewer, "/workflows/wf/activate").status_code == 403


def test_an_admin_may_author_workflows(signed_in: SignIn) -> None:
    admin = signed_in("admin")
    answer = post_json(admin, "/workflows/new/definition", simple("by admin")).get_json()
    assert answer["ok"] and answer["state"] == "draft"
    assert admin.get("/workflows/by%20admin").status_code == 200


def test_every_workflow_route_turns_away_visitors_and_viewers(
    app: Flask, signed_in: SignIn
) -> None:
    viewer = signed_in("viewer")
    headers = {"X-CSRF-Token": csrf_of(viewer, "/")}
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("workflows.")]
    assert len(rules) >= 15
    for rule in rules:
        with app.test_request_context():
            path = url_for(rule.endpoint, **{a: "wf" if a == "name" else 1 for a in rule.arguments})
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        visitor = app.test_client().open(path, method=method)
        assert visitor.status_code == (302 if method == "GET" else 403), path
        assert viewer.open(path, method=method, headers=headers).status_code == 403, path
