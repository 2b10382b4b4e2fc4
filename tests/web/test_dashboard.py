"""The dashboard: counts, the charts' JSON blocks and their tables, escaping of Lever's data."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import Integration, SyncRun
from inventory.timeutil import utcnow
from tests.inventory.test_queries import add_hires
from tests.inventory.test_stats import XSS, seed
from tests.web.conftest import SignIn


def _chart(html: str, key: str) -> dict[str, Any]:
    """The JSON block of one chart, parsed the way the browser's script reads it."""
    found = re.search(rf'<script type="application/json" id="{key}">(.*?)</script>', html, re.S)
    assert found, f"no JSON block {key}"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def _count(html: str, key: str) -> int:
    """The number on one count card."""
    found = re.search(rf'id="count-{key}".*?class="count-value">(\d+)<', html, re.S)
    assert found, f"no count {key}"
    return int(found.group(1))


def _seeded(factory: sessionmaker[Session]) -> None:
    """The stats test's inventory, committed."""
    with factory.begin() as session:
        seed(session)


def test_the_dashboard_shows_the_counts(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    _seeded(session_factory)
    html = signed_in("viewer").get("/").get_data(as_text=True)
    found = {key: _count(html, key) for key in (
        "people", "lever-users", "active-lever-users", "integrations", "workflows",
        "pending-approvals",
    )}  # fmt: skip
    assert found == {
        "people": 3, "lever-users": 9, "active-lever-users": 7, "integrations": 2,
        "workflows": 2, "pending-approvals": 2,
    }  # fmt: skip


def test_the_chart_blocks_hold_the_numbers(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    _seeded(session_factory)
    html = signed_in("viewer").get("/").get_data(as_text=True)
    roles = _chart(html, "chart-roles")
    assert roles["kind"] == "bar"
    assert dict(zip(roles["labels"], roles["datasets"][0]["data"], strict=True)) == {
        "admin": 3, "interviewer": 3, XSS: 1, "team member": 1, "(no role)": 1,
    }  # fmt: skip
    status = _chart(html, "chart-status")
    assert (status["kind"], status["labels"]) == ("doughnut", ["active", "deactivated"])
    assert status["datasets"][0]["data"] == [7, 2]
    idle = _chart(html, "chart-idle")
    assert idle["labels"] == ["90+ days", "180+ days", "365+ days", "never"]
    assert idle["datasets"][0]["data"] == [6, 6, 6, 1]  # the seed's sign-ins are from 2024


def test_runs_chart_covers_thirty_utc_days_ending_today(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    _seeded(session_factory)
    with session_factory.begin() as session:
        lever = session.scalars(select(Integration).where(Integration.name == "lever")).one()
        for status in ("failed", "succeeded", "succeeded"):
            session.add(SyncRun(integration=lever, status=status, started_at=utcnow()))
    html = signed_in("viewer").get("/").get_data(as_text=True)
    runs = _chart(html, "chart-runs")
    today = utcnow().date()
    assert {s["key"]: s["data"][-1] for s in runs["datasets"]} == {
        "succeeded": 2, "completed_with_errors": 0, "failed": 1, "other": 0,
    }  # fmt: skip
    assert f"<td>{today.isoformat()}</td><td>2</td><td>0</td><td>1</td><td>0</td><td>3</td>" in html
    assert runs["kind"] == "stacked" and len(runs["labels"]) == 30
    assert runs["labels"][-1] == today.isoformat()
    assert runs["labels"][0] == (today - timedelta(days=29)).isoformat()
    keys = [series["key"] for series in runs["datasets"]]
    assert keys == ["succeeded", "completed_with_errors", "failed", "other"]
    assert all(len(series["data"]) == 30 for series in runs["datasets"])


def test_every_chart_has_a_table_with_the_same_numbers(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    _seeded(session_factory)
    html = signed_in("viewer").get("/").get_data(as_text=True)
    status_table = html[html.index('id="table-status"') :].split("</table>")[0]
    assert re.findall(r"<td>(\w+)</td><td>(\d+)</td>", status_table) == [
        ("active", "7"), ("deactivated", "2"),
    ]  # fmt: skip
    idle_table = html[html.index('id="table-idle"') :].split("</table>")[0]
    assert "<td>never signed in</td><td>1</td>" in idle_table
    assert "<td>interviewer</td><td>3</td>" in html


def test_lever_role_names_are_escaped(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    _seeded(session_factory)
    html = signed_in("viewer").get("/").get_data(as_text=True)
    assert XSS not in html
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in html
    assert XSS in _chart(html, "chart-roles")["labels"]


def test_an_empty_inventory_says_so(signed_in: SignIn) -> None:
    html = signed_in("viewer").get("/").get_data(as_text=True)
    assert "No Lever users yet." in html and "No sync runs in the last 30 days." in html
    assert _count(html, "people") == 0


def test_the_page_loads_chart_js_and_its_own_script_only_from_static(signed_in: SignIn) -> None:
    browser = signed_in("viewer")
    html = browser.get("/").get_data(as_text=True)
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert "/static/vendor/chartjs-4.5.1/chart.umd.min.js" in sources
    assert "/static/js/dashboard.js" in sources
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert all('type="application/json"' in attrs for attrs in inline)
    script = browser.get("/static/js/dashboard.js")
    script.close()  # a file response holds the file open until closed
    assert script.status_code == 200


def test_links_follow_the_role(signed_in: SignIn) -> None:
    viewer = signed_in("viewer").get("/").get_data(as_text=True)
    admin = signed_in("admin").get("/").get_data(as_text=True)
    assert 'href="/saas/lever/users"' in viewer
    card = lambda html: html[html.index('id="count-integrations"') :][:200]  # noqa: E731
    assert 'href="/integrations"' not in card(viewer)
    assert 'href="/integrations"' in card(admin)


def _upcoming_rows(html: str) -> list[list[str]]:
    """The upcoming starts table's rows, as cell texts."""
    section = html[html.index('id="table-upcoming"') :].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]  # after the header row
    cells = (re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in row] for row in cells]


def test_upcoming_starts_show_the_next_thirty_days_soonest_first(
    signed_in: SignIn, session_factory: sessionmaker[Session]
) -> None:
    today = utcnow().date()
    with session_factory.begin() as session:
        hana = add_hires(session, today)["hana@corp.example"].id
    html = signed_in("viewer").get("/").get_data(as_text=True)
    assert _upcoming_rows(html) == [
        ["Hana Day", today.isoformat(), "Engineering", "Berlin", "Mia Manager"],
        ["Ivo Five", (today + timedelta(days=5)).isoformat(), "Sales", "Remote", "Mia Manager"],
        ["Jan Last", (today + timedelta(days=29)).isoformat(), "Sales", "Lisbon", ""],
    ]
    assert f'<a href="/people/{hana}">Hana Day</a>' in html
    found = re.search(r'<a href="([^"]+)" id="upcoming-link">', html)
    assert found is not None
    query = parse_qs(urlsplit(unescape(found.group(1))).query)
    assert query == {"f": ["status:eq:pre_start"], "sort": ["start_date"]}


def test_no_upcoming_starts_says_so(signed_in: SignIn) -> None:
    html = signed_in("viewer").get("/").get_data(as_text=True)
    assert "No one is due to start in the next 30 days." in html
    assert 'id="table-upcoming"' not in html and 'id="upcoming-link"' in html
