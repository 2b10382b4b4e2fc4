"""Report downloads: each list as CSV and JSON, equal to the data, streamed, for any viewer."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import ledger
from inventory.changelog import list_changes
from inventory.models import CustomField, Person, SaasUser, SyncRun
from inventory.queries import iter_people, iter_saas_users
from inventory.records import add_records
from inventory.timeutil import utcnow
from tests.inventory.test_stats import XSS, seed
from tests.web.conftest import SignIn

Factory = sessionmaker[Session]
DOWNLOADS = [
    f"/reports/{slug}.{fmt}"
    for slug in ("people", "lever-users", "sync-runs", "changes")
    for fmt in ("csv", "json")
]
TRICKY = 'R&D, "East"\nfloor 2'


@pytest.fixture
def viewer(signed_in: SignIn, session_factory: Factory) -> FlaskClient:
    """A viewer's browser on the seeded inventory, with a custom field holding CSV's specials."""
    with session_factory.begin() as session:
        seed(session)
        session.add(CustomField(name="cost_center"))
        zoe = Person(email="Zoë@example.com", email_key="zoë@example.com",
                     full_name="Zoë Ørsted", custom={"cost_center": TRICKY})  # fmt: skip
        seeded = [*session.scalars(select(Person)), *session.scalars(select(SaasUser))]
        add_records(session, [*seeded, zoe], utcnow())
        with_errors = select(SyncRun).where(SyncRun.status == "completed_with_errors")
        run = session.scalars(with_errors).one()
        run.counts = {"people": {"created": 4, "updated": 1}, "saas_users": {"unchanged": 7}}
    return signed_in("viewer")


def _download(browser: FlaskClient, path: str) -> tuple[str, Any]:
    """A download's text and headers."""
    response = browser.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True), response.headers


def _csv_rows(text: str) -> list[dict[str, str]]:
    """A CSV download parsed the way a spreadsheet would."""
    return list(csv.DictReader(io.StringIO(text)))


def _as_cells(row: dict[str, Any]) -> dict[str, str]:
    """A JSON record as the CSV cells it should become (custom fields as `custom.NAME`)."""
    flat = {k: v for k, v in row.items() if k != "custom"}
    flat |= {f"custom.{k}": v for k, v in (row.get("custom") or {}).items()}
    return {k: "" if v is None else str(v) for k, v in flat.items()}


def test_every_download_is_a_streamed_attachment_of_its_type(viewer: FlaskClient) -> None:
    for path in DOWNLOADS:  # each is closed unread, as when a client goes away
        response = viewer.get(path, buffered=False)
        assert response.is_streamed
        filename = path.rsplit("/", 1)[1]
        assert response.headers["Content-Disposition"] == f"attachment; filename={filename}"
        kind = "text/csv; charset=utf-8" if path.endswith(".csv") else "application/json"
        assert response.headers["Content-Type"] == kind
        response.close()


def test_people_downloads_equal_the_people(viewer: FlaskClient, session: Session) -> None:
    expected = list(iter_people(session, now=utcnow()))
    text, _ = _download(viewer, "/reports/people.json")
    assert json.loads(text) == expected and len(expected) == 4
    rows = _csv_rows(_download(viewer, "/reports/people.csv")[0])
    assert rows == [{"custom.cost_center": ""} | _as_cells(p) for p in expected]
    zoe = next(r for r in rows if r["email"] == "Zoë@example.com")
    assert zoe["custom.cost_center"] == TRICKY and zoe["full_name"] == "Zoë Ørsted"


def test_lever_user_downloads_hold_lever_users_only(viewer: FlaskClient, session: Session) -> None:
    expected = list(iter_saas_users(session, app="Lever", now=utcnow()))
    users = json.loads(_download(viewer, "/reports/lever-users.json")[0])
    assert users == expected and len(users) == 9 and {u["app"] for u in users} == {"Lever"}
    rows = _csv_rows(_download(viewer, "/reports/lever-users.csv")[0])
    assert rows == [_as_cells(u) for u in expected]
    assert XSS in {r["role"] for r in rows}


def test_sync_run_downloads_carry_the_counts(viewer: FlaskClient, session: Session) -> None:
    expected = [ledger.run_dict(run) for run in ledger.iter_runs(session)]
    runs = json.loads(_download(viewer, "/reports/sync-runs.json")[0])
    assert runs == expected and len(runs) == 8
    rows = _csv_rows(_download(viewer, "/reports/sync-runs.csv")[0])
    assert [int(r["run_id"]) for r in rows] == [r["run_id"] for r in expected]
    counted = next(r for r in rows if r["status"] == "completed_with_errors")
    assert (counted["people.created"], counted["people.updated"]) == ("4", "1")
    assert (counted["saas_users.unchanged"], counted["saas_users.created"]) == ("7", "0")
    assert counted["started_at"] == "2024-05-31T10:00:00.000Z" and counted["finished_at"] == ""


def test_change_log_downloads_equal_the_change_log(viewer: FlaskClient, session: Session) -> None:
    expected = list(list_changes(session))
    changes = json.loads(_download(viewer, "/reports/changes.json")[0])
    assert changes == expected and len(changes) == 14  # 4 people and 10 SaaS users created
    rows = _csv_rows(_download(viewer, "/reports/changes.csv")[0])
    assert [int(r["id"]) for r in rows] == [c["id"] for c in expected]
    first = rows[0]
    assert first["action"] == expected[0]["action"] and first["before"] == ""
    assert json.loads(first["after"]) == expected[0]["after"]
    assert first["actor_kind"] == expected[0]["actor"]["kind"]


def test_a_long_list_streams_in_pieces(
    signed_in: SignIn, session_factory: Factory, session: Session
) -> None:
    with session_factory.begin() as session:
        people = [{"email": f"p{n}@example.com", "email_key": f"p{n}@example.com",
                   "custom": {}} for n in range(2500)]  # fmt: skip
        add_records(session, [Person(**p) for p in people], utcnow())
    browser = signed_in("viewer")
    response = browser.get("/reports/people.csv", buffered=False)
    chunks = list(response.iter_encoded())
    response.close()
    assert len(chunks) > 10
    text = b"".join(chunks).decode()
    assert len(_csv_rows(text)) == 2500
    whole = json.loads(browser.get("/reports/people.json").get_data(as_text=True))
    assert len(whole) == 2500 and whole[0]["email"] == "p0@example.com"
    changes = json.loads(browser.get("/reports/changes.json").get_data(as_text=True))
    assert changes == list(list_changes(session)) and len(changes) == 2500


def test_the_reports_page_links_every_download(signed_in: SignIn) -> None:
    html = signed_in("viewer").get("/reports").get_data(as_text=True)
    for path in DOWNLOADS:
        assert f'href="{path}" download' in html


def test_an_empty_inventory_downloads_empty_files(signed_in: SignIn) -> None:
    browser = signed_in("viewer")
    assert json.loads(browser.get("/reports/people.json").get_data(as_text=True)) == []
    header = browser.get("/reports/sync-runs.csv").get_data(as_text=True)
    assert header.startswith("run_id,integration,trigger,status,") and header.count("\n") == 1
