"""An admin follows hires from Lever in the browser: the webhook URL to paste into Lever, the
events a signed webhook brought, and a failed one run again once fixed in Lever."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from inventory.settings import Settings
from tests.conftest import WEBHOOK_TOKEN, Sim, create_hires
from tests.web.browser.conftest import SignInAs

WAIT_MS = 30_000


def test_a_failed_hire_is_shown_and_rerun_from_the_page(
    page: Page,
    live_server: str,
    lever_sim: Sim,
    settings: Settings,
    session_factory: sessionmaker[Session],
    signed_in_as: SignInAs,
) -> None:
    sim, server = lever_sim
    create_hires(session_factory, settings, server.url, poll=False)
    sim.set_webhook(
        f"{live_server}/hooks/lever/hires", events=["candidateHired"],
        signature_token=WEBHOOK_TOKEN,
    )  # fmt: skip
    opportunity = sim.add_candidate("Ada Lovelace", posting_id=sim.postings[0]["id"])["id"]
    sim.add_offer(opportunity, status="approved", start_date=date(2027, 1, 4))
    sim.hire(opportunity)
    assert sim.wait_for_deliveries(30)

    signed_in_as(page, "admin")
    page.goto("/integrations/hires")
    page.get_by_role("button", name="Hires & webhook").click()
    expect(page.locator("#webhook-url")).to_have_text(f"{live_server}/hooks/lever/hires")
    row = page.locator("tr[id^=hire-event-]").first
    expect(row.locator(".error")).to_contain_text("has no signed offer", timeout=WAIT_MS)
    expect(row).to_contain_text(opportunity)
    assert WEBHOOK_TOKEN not in page.content()

    sim.add_offer(opportunity, start_date=date(2027, 1, 4))
    row.get_by_role("button", name="Rerun").click()
    expect(page.locator(".flash")).to_contain_text("queued again")
    expect(page.locator("tr[id^=hire-event-]").first.locator(".outcome")).to_have_text(
        "created", timeout=WAIT_MS
    )
    page.goto("/people?q=ada.lovelace")
    expect(page.locator("body")).to_contain_text(re.compile(r"ada\.lovelace@example\.com"))
