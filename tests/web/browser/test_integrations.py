"""An admin connects Lever in the browser: stores the key, creates the integration, maps, launches
and runs a sync, and watches the run finish."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import API_KEY, Sim
from tests.web.browser.conftest import CREDENTIAL, PLACEHOLDER, SignInAs

RUN_TIMEOUT_MS = 30_000


def _add_credential(page: Page) -> None:
    """Store the Lever API key on /credentials (the key is the Basic-auth username)."""
    page.goto("/credentials")
    form = page.locator("form#add-credential")
    form.get_by_label("Name", exact=True).fill(CREDENTIAL)
    form.get_by_label(re.compile(r"^Username")).fill(API_KEY)
    form.get_by_label(re.compile(r"^Password")).fill(PLACEHOLDER)
    form.get_by_role("button", name="Add credential").click()
    expect(page.locator("#credentials-table")).to_contain_text(CREDENTIAL)


def _create_integration(page: Page, base_url: str) -> None:
    """Create the Lever integration on /integrations, pointed at the given API."""
    page.goto("/integrations")
    page.get_by_role("button", name="New integration").click()
    form = page.locator("form#new-integration")
    form.get_by_label("Name", exact=True).fill("lever")
    form.get_by_label("Credential").select_option(CREDENTIAL)
    form.get_by_label(re.compile(r"base URL", re.I)).fill(base_url)
    form.get_by_role("button", name="Create draft").click()
    expect(page).to_have_url(re.compile(r"/integrations/lever$"))


def test_admin_runs_a_sync(page: Page, lever_sim: Sim, signed_in_as: SignInAs) -> None:
    sim, server = lever_sim
    signed_in_as(page, "admin")
    _add_credential(page)
    assert API_KEY not in page.content()

    _create_integration(page, server.url)
    page.get_by_role("button", name="Smart Mapping").click()
    page.get_by_role("button", name="Launch").click()
    page.get_by_role("button", name="Run now").click()

    expect(page).to_have_url(re.compile(r"/integrations/lever/runs/\d+$"))
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=RUN_TIMEOUT_MS)
    counts = page.locator("#run-counts")
    expect(counts.locator(".fetched")).to_have_text(str(len(sim.users)))
    people = counts.get_by_role("row", name=re.compile(r"^People"))
    expect(people.get_by_role("cell").first).to_have_text(str(len(sim.users)))
    assert API_KEY not in page.content()
