"""The integration pages end to end: create, Smart Mapping, launch, run in the background against
the Lever simulator over loopback, follow the run page; dry run, schedules, cancel, approve."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.models import DryRun, Person, SaasUser, SyncRun
from tests.conftest import API_KEY, Gate, finished, run_finished, run_reached
from tests.web.conftest import SignIn, csrf_of

Sim = tuple[LeverSimulator, SimulatorServer]
WRONG_KEY = "wrong-key-5e6f7a8b9c0d-lever"


@pytest.fixture
def admin(signed_in: SignIn) -> FlaskClient:
    """A browser signed in as admin."""
    return signed_in("admin")


def post(browser: FlaskClient, path: str, **data: str) -> tuple[int, str, str]:
    """Submit a form with the session's token: the status, the Location and the page text."""
    data["csrf_token"] = csrf_of(browser, "/integrations")
    answer = browser.post(path, data=data)
    return answer.status_code, answer.headers.get("Location", ""), answer.get_data(as_text=True)


def page(browser: FlaskClient, path: str) -> str:
    """A page's text, checking it answered 200."""
    answer = browser.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def create(browser: FlaskClient, url: str, key: str = API_KEY, **extra: str) -> None:
    """Store the key as 'lever-key' and create the draft integration 'lever' through the forms."""
    token = csrf_of(browser, "/credentials")
    form = {"name": "lever-key", "username": key, "password": "", "csrf_token": token}
    assert browser.post("/credentials", data=form).status_code == 302
    fields = {"name": "lever", "credential": "lever-key", "mode": "users+saas_users",
              "preference": "create_update", "base_url": url, "default_role": "Employee",
              "max_rps": "0", "deactivate_missing": "on", **extra}  # fmt: skip
    status, location, text = post(browser, "/integrations", **fields)
    assert (status, location) == (302, "/integrations/lever"), text


def launched(browser: FlaskClient, url: str, key: str = API_KEY, **extra: str) -> None:
    """Create, smart-map and launch 'lever' through the forms."""
    create(browser, url, key, **extra)
    assert post(browser, "/integrations/lever/smart-mapping")[0] == 302
    assert post(browser, "/integrations/lever/launch")[0] == 302


def run_now(browser: FlaskClient) -> int:
    """Press "Run now": the id of the run page it leads to."""
    status, location, text = post(browser, "/integrations/lever/run")
    found = re.fullmatch(r"/integrations/lever/runs/(\d+)", location)
    assert status == 302 and found, text
    return int(found[1])


def dry_run(browser: FlaskClient, factory: sessionmaker[Session]) -> str:
    """Press "Dry run", follow its page while a worker computes it, and give the final page."""
    status, location, text = post(browser, "/integrations/lever/dry-run")
    found = re.fullmatch(r"/integrations/lever/dry-runs/(\d+)", location)
    assert status == 302 and found, text
    first = page(browser, location)
    assert 'id="dry-run-status"' in first, "the page shows the dry run at once"
    assert dry_run_finished(factory, int(found[1])) == "succeeded"
    final = page(browser, location)
    assert "hx-get" not in final.split('id="dry-run-live"')[1].split(">")[0], "it stops asking"
    return final


def dry_run_finished(factory: sessionmaker[Session], dry_run_id: int, timeout: float = 60.0) -> str:
    """Poll until a worker has computed the dry run; its final status."""
    return finished(factory, DryRun, dry_run_id, timeout)


def count(factory: sessionmaker[Session], model: type) -> int:
    """How many rows of a model are committed."""
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def status_word(html: str) -> str:
    """The text of the #run-status element."""
    found = re.search(r'id="run-status"[^>]*>([^<]*)<', html)
    assert found, "no #run-status on the page"
    return found[1]


def test_create_map_launch_and_run_now_fill_people_and_saas_users(
    admin: FlaskClient, lever_sim: Sim, session_factory: sessionmaker[Session]
) -> None:
    create(admin, lever_sim[1].url)
    draft = page(admin, "/integrations/lever")
    assert 'id="integration-state">draft<' in draft
    assert "still needed before launch: map username; map email; map role" in draft
    assert page(admin, "/integrations").count('href="/integrations/lever"') == 1

    status, _, _ = post(admin, "/integrations/lever/smart-mapping")
    mapped = page(admin, "/integrations/lever")
    assert status == 302 and "Smart Mapping mapped 8 fields of" in mapped
    rows = _rows(mapped)
    assert ("path", "email", "", "username") in rows and ("path", "email", "", "email") in rows
    assert ("constant", "Employee", "", "role") in rows
    assert ("path", "id", "", "custom.Lever ID") in rows
    first = lever_sim[0].update_user(lever_sim[0].users[0]["id"], name="<script>alert(1)</script>")
    preview = page(admin, "/integrations/lever/preview")
    assert "<script>alert(1)" not in preview and "&lt;script&gt;alert(1)&lt;/script&gt;" in preview
    assert preview.count('<tr class="outcome-sync">') == 10 and first["email"] in preview
    assert f"<td>{first['id']}</td>" in preview, "the custom Lever ID column is filled"

    assert post(admin, "/integrations/lever/launch")[0] == 302
    assert 'id="integration-state">active<' in page(admin, "/integrations/lever")
    run_id = run_now(admin)
    assert status_word(page(admin, f"/integrations/lever/runs/{run_id}")) in (
        "queued",
        "running",
        "succeeded",
    )
    assert run_finished(session_factory, run_id) == "succeeded"

    run_page = page(admin, f"/integrations/lever/runs/{run_id}")
    assert status_word(run_page) == "succeeded" and "hx-trigger" not in run_page
    counts = re.search(r'id="run-counts".*?</table>', run_page, re.S)
    assert counts and "<th>People</th><td>250</td>" in counts[0]
    assert "<th>SaaS users</th><td>250</td>" in counts[0] and "trigger web" in run_page
    assert count(session_factory, Person) == 250 and count(session_factory, SaasUser) == 250
    history = page(admin, "/integrations/lever")
    assert f'href="/integrations/lever/runs/{run_id}">#{run_id}</a>' in history
    assert '<td class="run-succeeded">succeeded</td>' in history
    assert "succeeded</a>" in page(admin, "/integrations")


def test_dry_run_shows_what_would_change_and_writes_nothing(
    admin: FlaskClient, lever_sim: Sim, session_factory: sessionmaker[Session]
) -> None:
    create(admin, lever_sim[1].url)
    post(admin, "/integrations/lever/smart-mapping")
    report = dry_run(admin, session_factory)
    assert 'id="dry-run-report"' in report and "Nothing was written." in report
    assert '<td id="people-create">250</td>' in report
    assert '<td id="saas-create">250</td>' in report
    assert count(session_factory, Person) == 0 and count(session_factory, SyncRun) == 0

    post(admin, "/integrations/lever/launch")
    assert run_finished(session_factory, run_now(admin)) == "succeeded"
    active = [u["id"] for u in lever_sim[0].users if not u.get("deactivatedAt")]
    lever_sim[0].update_user(active[0], name="Renamed <b>Person</b>")
    lever_sim[0].remove_user(active[1])
    report = dry_run(admin, session_factory)
    assert '<td id="people-update">1</td>' in report and '<td id="people-create">0</td>' in report
    assert "<td>full_name</td>" in report and "Renamed &lt;b&gt;Person&lt;/b&gt;" in report
    assert '<td id="deactivate-count">1</td>' in report and "<td>delete</td>" in report
    assert count(session_factory, SyncRun) == 1, "a dry run records no run"


def test_launch_refused_lists_what_is_missing(admin: FlaskClient, lever_sim: Sim) -> None:
    create(admin, lever_sim[1].url)
    status, _, text = post(admin, "/integrations/lever/run")
    assert status == 400 and "integration &#39;lever&#39; is a draft" in text
    status, _, text = post(admin, "/integrations/lever/launch")
    assert status == 400
    missing = re.search(r'<ul id="launch-missing">(.*?)</ul>', text, re.S)
    assert missing and re.findall(r"<li>(.*?)</li>", missing[1]) == [
        "map username", "map email", "map role", "map the sync key field email",
    ]  # fmt: skip
    assert 'id="integration-state">draft<' in text


def test_schedule_daily_in_paris_shows_the_next_run_with_its_offset(
    admin: FlaskClient, lever_sim: Sim
) -> None:
    create(admin, lever_sim[1].url)
    status, _, text = post(admin, "/integrations/lever/schedule", kind="daily", expression="03:00")
    assert status == 400 and "is a draft: launch it first" in text
    post(admin, "/integrations/lever/smart-mapping")
    post(admin, "/integrations/lever/launch")
    fields = {"kind": "daily", "expression": "03:00", "tz": "Europe/Paris"}
    assert post(admin, "/integrations/lever/schedule", **fields)[0] == 302
    shown = page(admin, "/integrations/lever")
    assert "daily at 03:00 (Europe/Paris)" in shown
    assert re.search(r'id="next-run"><time datetime="[0-9-]+T03:00:00\+0[12]:00">', shown)
    assert "Pause schedule" in shown and "Resume schedule" not in shown

    assert post(admin, "/integrations/lever/pause")[0] == 302
    paused = page(admin, "/integrations/lever")
    assert "Resume schedule" in paused and "Pause schedule" not in paused
    assert '<span id="next-run">none</span>' in paused and "03:00 (Europe/Paris), paused" in paused
    assert post(admin, "/integrations/lever/resume")[0] == 302
    resumed = page(admin, "/integrations/lever")
    assert "Pause schedule" in resumed and "+0" in resumed.split('id="next-run"')[1][:80]

    bad = {"kind": "every", "expression": "often", "tz": "UTC"}
    status, _, text = post(admin, "/integrations/lever/schedule", **bad)
    assert status == 400 and "--every &#39;often&#39; is not an interval" in text


def test_a_second_run_now_is_refused_in_one_line_and_cancel_stops_the_run(
    admin: FlaskClient,
    lever_sim: Sim,
    gate: Callable[[int], Gate],
    session_factory: sessionmaker[Session],
) -> None:
    launched(admin, lever_sim[1].url)
    held = gate(0)
    run_id = run_now(admin)
    run_reached(session_factory, run_id, "running")  # a worker took the queued run
    running = page(admin, f"/integrations/lever/runs/{run_id}")
    assert status_word(running) == "running"
    live = f"/integrations/lever/runs/{run_id}/live"
    assert f'hx-get="{live}" hx-trigger="every 2s"' in running and ">Cancel</button>" in running
    assert status_word(page(admin, live)) == "running"

    status, _, text = post(admin, "/integrations/lever/run")
    assert status == 409
    errors = re.findall(r'<div class="flash flash-error"[^>]*>\s*<p>(.*?)</p>', text, re.S)
    assert len(errors) == 1
    assert errors[0].startswith(f"integration &#39;lever&#39; is already running as run {run_id}")
    assert count(session_factory, SyncRun) == 1

    status, location, _ = post(admin, f"/integrations/lever/runs/{run_id}/cancel")
    assert (status, location) == (302, f"/integrations/lever/runs/{run_id}")
    assert "cancel requested: run" in page(admin, location)
    held.open()
    assert run_finished(session_factory, run_id) == "cancelled"
    done = page(admin, f"/integrations/lever/runs/{run_id}")
    assert status_word(done) == "cancelled" and "hx-get" not in done and ">Cancel<" not in done


def test_a_held_run_is_approved_from_its_page(
    admin: FlaskClient, lever_sim: Sim, session_factory: sessionmaker[Session]
) -> None:
    launched(admin, lever_sim[1].url, max_deactivate="2")
    assert run_finished(session_factory, run_now(admin)) == "succeeded"
    for uid in [u["id"] for u in lever_sim[0].users if not u.get("deactivatedAt")][:3]:
        lever_sim[0].remove_user(uid)
    run_id = run_now(admin)
    assert run_finished(session_factory, run_id) == "held"
    held = page(admin, f"/integrations/lever/runs/{run_id}")
    assert status_word(held) == "held" and ">Approve</button>" in held
    assert "3 SaaS users wait for approval" in held

    status, location, _ = post(admin, f"/integrations/lever/runs/{run_id}/approve")
    assert status == 302
    approved = page(admin, location)
    assert status_word(approved) == "succeeded" and "Approved by admin." in approved
    assert "3 deleted" in approved
    with session_factory() as session:
        gone = select(func.count()).where(SaasUser.status == "deleted")
        assert session.scalar(gone) == 3
    status, _, text = post(admin, f"/integrations/lever/runs/{run_id}/approve")
    assert status == 400 and f"run {run_id} is not held (status: succeeded)" in text


def test_a_refused_api_key_fails_the_run_without_showing_the_key(
    admin: FlaskClient, lever_sim: Sim, session_factory: sessionmaker[Session]
) -> None:
    launched(admin, lever_sim[1].url, key=WRONG_KEY)
    run_id = run_now(admin)
    assert run_finished(session_factory, run_id) == "failed"
    shown = page(admin, f"/integrations/lever/runs/{run_id}")
    assert status_word(shown) == "failed" and "Lever API key refused" in shown
    for path in (f"/integrations/lever/runs/{run_id}", "/integrations/lever", "/integrations",
                 "/credentials"):  # fmt: skip
        assert WRONG_KEY not in page(admin, path)


def test_the_mapping_editor_adds_removes_and_refuses_bad_lines(
    admin: FlaskClient, lever_sim: Sim
) -> None:
    create(admin, lever_sim[1].url)
    post(admin, "/integrations/lever/smart-mapping")
    form = page(admin, "/integrations/lever")
    rows = _rows(form)
    job = next(i for i, r in enumerate(rows) if r[3] == "job_title")
    rows.append(("template", "{jobTitle} ({accessRole})", "", "custom.Team"))
    data = _form(rows, remove=str(job))
    assert post(admin, "/integrations/lever/mapping", **data)[0] == 302
    saved = page(admin, "/integrations/lever")
    targets = [r[3] for r in _rows(saved)]
    assert "custom.Team" in targets and "job_title" not in targets
    assert '<option value="custom.Team">' in saved, "the new custom field is offered"

    bad = _form([("path", "email", "shout", "email")])
    status, _, text = post(admin, "/integrations/lever/mapping", **bad)
    assert status == 400 and "unknown transform &#39;shout&#39;" in text
    status, _, text = post(
        admin, "/integrations/lever/mapping", **_form([("path", "x", "", "nope")])
    )
    assert status == 400 and "unknown target field &#39;nope&#39;" in text
    assert [r[3] for r in _rows(text)] == targets, "a refused mapping keeps the stored one"


def test_filters_are_checked_by_the_rule_engine(admin: FlaskClient, lever_sim: Sim) -> None:
    create(admin, lever_sim[1].url)
    status, _, text = post(admin, "/integrations/lever/filters", filters="{not json")
    assert status == 400 and "filters: not valid JSON" in text
    rule = '{"all": [{"field": "accessRole", "op": "eq", "value": 3, "x": 1}]}'
    status, _, text = post(admin, "/integrations/lever/filters", filters=rule)
    assert status == 400
    message = re.search(r'<div class="flash flash-error"[^>]*>\s*<p>(.*?)</p>', text, re.S)
    assert message and "\n" not in message[1]
    good = '{"all": [{"field": "accessRole", "op": "ne", "value": "interviewer"}]}'
    assert post(admin, "/integrations/lever/filters", filters=good)[0] == 302
    assert "&#34;interviewer&#34;" in page(admin, "/integrations/lever")


def _rows(html: str) -> list[tuple[str, str, str, str]]:
    """The mapping table's filled rows as (kind, source, transform, target)."""
    table = re.search(r'<table class="data mapping" id="mapping-table">(.*?)</table>', html, re.S)
    assert table
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", table[1], re.S)[1:]:
        kind = re.search(r'name="kind".*?<option value="(\w+)" selected', row, re.S)
        source = re.search(r'name="source" value="([^"]*)"', row)
        transform = re.search(r'name="transform".*?<option value="(\w+)" selected', row, re.S)
        target = re.search(r'name="target" value="([^"]*)"', row)
        if target and target[1]:
            found.append((kind[1] if kind else "path", _unescape(source[1] if source else ""),
                          transform[1] if transform else "", _unescape(target[1])))  # fmt: skip
    return found


def _unescape(text: str) -> str:
    """Undo HTML attribute escaping."""
    return (
        text.replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


def _form(rows: list[tuple[str, str, str, str]], remove: str = "") -> dict[str, list[str] | str]:
    """Mapping form fields for rows of (kind, source, transform, target)."""
    data: dict[str, list[str] | str] = {
        "kind": [r[0] for r in rows], "source": [r[1] for r in rows],
        "transform": [r[2] for r in rows], "target": [r[3] for r in rows], "sync_key": "email",
    }  # fmt: skip
    if remove:
        data["remove"] = remove
    return data


def test_a_name_that_is_a_page_of_its_own_is_refused(admin: FlaskClient, lever_sim: Sim) -> None:
    token = csrf_of(admin, "/credentials")
    form = {"name": "lever-key", "username": API_KEY, "password": "", "csrf_token": token}
    assert admin.post("/credentials", data=form).status_code == 302
    fields = {"name": "New", "credential": "lever-key", "mode": "users+saas_users",
              "preference": "create_update", "base_url": lever_sim[1].url}  # fmt: skip
    status, _location, text = post(admin, "/integrations", **fields)
    assert status == 400
    assert "integration name &#39;New&#39; is reserved by the web app: pick another" in text
