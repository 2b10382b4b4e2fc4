"""The dashboard in a browser: the upcoming starts of pre-start people, and their link to the
People list of pre-start people by start date."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from inventory.timeutil import utcnow
from tests.inventory.test_queries import add_hires
from tests.web.browser.conftest import SignInAs
from tests.web.browser.test_lists import _rows


def test_upcoming_starts_lead_to_the_pre_start_people_by_start_date(
    page: Page, session_factory: sessionmaker[Session], signed_in_as: SignInAs
) -> None:
    today = utcnow().date()
    with session_factory.begin() as session:
        add_hires(session, today)
    signed_in_as(page, "viewer")
    page.goto("/")
    upcoming = page.locator("table.data#table-upcoming")
    expect(upcoming.locator("tbody tr")).to_have_count(3)
    first = _rows(upcoming)[0]
    assert first == {"Name": "Hana Day", "Start date": today.isoformat(),
                     "Department": "Engineering", "Location": "Berlin",
                     "Manager": "Mia Manager"}  # fmt: skip

    page.get_by_role("link", name="All pre-start people by start date").click()
    expect(page).to_have_url(re.compile(r"/people\?.*sort=start_date"))
    expect(page.get_by_role("link", name="Pre-start")).to_have_attribute("aria-current", "page")
    people = page.locator("table.data#people-table")
    expect(people.locator("tbody tr")).to_have_count(6)
    shown = [(row["Email"].split("@")[0], row["Start date"]) for row in _rows(people)]
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    assert shown == [
        ("lee", day(-1)), ("hana", day(0)), ("ivo", day(5)), ("jan", day(29)), ("kim", day(30)),
        ("max", ""),
    ]  # fmt: skip
