"""Signing in through the browser: a visitor is sent to the sign-in page and lands where asked."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.browser.conftest import sign_in


def test_sign_in(page: Page, accounts: dict[str, str]) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))

    sign_in(page, accounts["admin"], "not the password")
    expect(page.get_by_role("alert")).to_have_text("wrong name or password")
    expect(page.get_by_label("Name")).to_have_value(accounts["admin"])

    sign_in(page, accounts["admin"])
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page).to_have_title(re.compile(r"^Dashboard"))
    expect(page.locator(".who")).to_contain_text("admin")
    nav = page.locator("header.site-header")
    expect(nav.get_by_role("link", name="Integrations", exact=True)).to_be_visible()
