"""Real-browser fixtures: the app served over loopback, a small Lever simulator with a hostile user
(the one the shared `synced` fixture syncs), and Debian's Chromium driven by Playwright.

A failing browser test leaves a screenshot of its page in `$INVSYNC_SCREENSHOTS`, else in
`<repo>/test-screenshots/` (kept out of version control). Without a browser (no /usr/bin/chromium
and none Playwright can launch) the browser tests are skipped, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    Dialog,
    Error,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from sqlalchemy.orm import Session, sessionmaker

from connector.lever.sim import LeverSimulator, SimulatorServer
from inventory.settings import Settings
from tests.conftest import API_KEY, Sim
from tests.web.conftest import PASSWORD
from vault.keys import load_keyring
from vault.store import Vault

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
EVIL = "<script>alert(1)</script>"
CREDENTIAL = "lever-key"
PLACEHOLDER = "x"  # Lever uses the key as the Basic-auth username; the password is unused.
TIMEOUT_MS = 15_000
REPO = Path(__file__).resolve().parents[3]
SignInAs = Callable[[Page, str], None]

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite only: the database layer is proven on both backends elsewhere; these prove the UI."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(request.getfixturevalue("sqlite_template"), folder / "invsync.db")
    yield f"sqlite:///{folder / 'invsync.db'}"


@pytest.fixture
def lever_sim() -> Iterator[Sim]:
    """A small Lever account over loopback, with one user whose name is a script."""
    sim = LeverSimulator(users=40, seed=5, api_key=API_KEY, rate_limit=False)
    sim.add_user(name=EVIL, email="mallory@example.com")
    with SimulatorServer(sim) as server:
        yield sim, server


def _launch(playwright: Playwright) -> Browser:
    """Debian's Chromium when installed, else whatever Chromium Playwright can find."""
    path = str(CHROMIUM) if CHROMIUM.exists() else None
    return playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole test session."""
    with sync_playwright() as playwright:
        try:
            browser = _launch(playwright)
        except Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            pytest.skip(f"no browser: {CHROMIUM} is missing and Playwright could not launch "
                        f"Chromium ({first}); install Debian's chromium package")  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def dialogs() -> list[str]:
    """Alerts and prompts the page raised: a hostile name that ran as script would show here."""
    return []


@pytest.fixture
def page(browser: Browser, live_server: str, dialogs: list[str]) -> Iterator[Page]:
    """A fresh browser context and tab on the live app; any alert fails the test."""
    context = browser.new_context(base_url=live_server, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("dialog", lambda dialog: _on_dialog(dialog, dialogs))
    yield page
    context.close()
    assert not dialogs, f"the page raised dialogs (a script ran?): {dialogs}"


def _on_dialog(dialog: Dialog, seen: list[str]) -> None:
    """Confirmations the app asks for are accepted; anything else is recorded as a failure."""
    if dialog.type == "confirm":
        dialog.accept()
        return
    seen.append(f"{dialog.type}: {dialog.message}")
    dialog.dismiss()


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    """Sign in through the real /login form."""
    page.goto("/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def signed_in_as(accounts: dict[str, str]) -> SignInAs:
    """Sign a page in as the account of a role and wait until it has left the sign-in page."""

    def sign_in_as(page: Page, role: str) -> None:
        sign_in(page, accounts[role])
        expect(page).not_to_have_url(re.compile(r"/login"))

    return sign_in_as


@pytest.fixture
def credential(settings: Settings, session_factory: sessionmaker[Session]) -> str:
    """The Lever API key stored in the vault, as an admin would."""
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).add(CREDENTIAL, API_KEY, PLACEHOLDER)
    return CREDENTIAL


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Save a screenshot of the page of a browser test that failed, to see what the user saw."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and isinstance(page, Page):
        report.sections.append(("screenshot", _screenshot(page, item.name)))
    return report


def _screenshot(page: Page, test: str) -> str:
    """Save the page as PNG in the screenshot folder; where it went (or why it could not)."""
    folder = Path(os.environ.get("INVSYNC_SCREENSHOTS") or REPO / "test-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^\w.-]+", "_", test) + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except Error as exc:
        return f"could not save a screenshot: {exc}"
    return str(path)
