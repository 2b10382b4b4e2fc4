"""The People and Lever-user lists in a browser: search, export what is on screen, Lever roles,
and hostile names shown as text."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from connector.lever.sim import LeverSimulator
from tests.conftest import Sim
from tests.web.browser.conftest import EVIL, SignInAs

FRAGMENT = "clarke"


def _headers(table: Locator) -> list[str]:
    """The column headers, without the sort mark of the sorted one."""
    texts = table.locator("thead th").all_inner_texts()
    return [text.replace("▲", "").replace("▼", "").strip() for text in texts]


def _rows(table: Locator) -> list[dict[str, str]]:
    """Each body row as header → cell text."""
    headers = _headers(table)
    rows = table.locator("tbody tr").all()
    cells = (row.locator("td").all_inner_texts() for row in rows)
    return [dict(zip(headers, (c.strip() for c in texts), strict=True)) for texts in cells]


def _matching(sim: LeverSimulator, fragment: str) -> set[str]:
    """Emails of the Lever users whose name or email holds the fragment."""
    hits = (u for u in sim.users if fragment in f"{u['name']} {u['email']}".casefold())
    return {str(u["email"]).casefold() for u in hits if u.get("email")}


def _search(page: Page, text: str) -> None:
    """Type in the list's search box and submit it."""
    form = page.get_by_role("search")
    form.locator("input[name=q]").fill(text)
    form.get_by_role("button", name="Search").click()


def test_search_and_export_people(page: Page, synced: Sim, signed_in_as: SignInAs) -> None:
    expected = _matching(synced[0], FRAGMENT)
    assert 1 < len(expected) < len(synced[0].users)
    signed_in_as(page, "viewer")
    page.goto("/people")
    table = page.locator("table.data#people-table")
    expect(table.locator("tbody tr")).not_to_have_count(len(expected))

    _search(page, FRAGMENT)
    expect(page).to_have_url(re.compile(rf"[?&]q={FRAGMENT}"))
    expect(table.locator("tbody tr")).to_have_count(len(expected))
    on_screen = [row["Email"].casefold() for row in _rows(table)]
    assert set(on_screen) == expected

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename == "people.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(header) == len(_headers(table))
    assert [row[header.index("email")].casefold() for row in rows] == on_screen


def test_lever_roles_shown(
    page: Page, synced: Sim, signed_in_as: SignInAs, dialogs: list[str]
) -> None:
    roles = {str(u["email"]).casefold(): u["accessRole"] for u in synced[0].users if u.get("email")}
    signed_in_as(page, "viewer")
    page.goto("/saas/lever/users")
    table = page.locator("table.data#saas-users-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    assert "Role" in _headers(table)
    shown = {row["Email"].casefold(): row["Role"] for row in _rows(table)}
    assert len(shown) >= 20
    assert shown == {email: roles[email] for email in shown}
    assert {"interviewer", "team member"} <= set(shown.values())

    _search(page, "mallory")
    expect(table.get_by_text(EVIL, exact=True)).to_be_visible()
    expect(table.locator("script")).to_have_count(0)
    table.locator("tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(EVIL)
    expect(page.locator("main script")).to_have_count(0)
    assert dialogs == []
