"""`invsync demo` as a newcomer meets it: a synced instance served, and a login that works."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.web.conftest import invsync_command, invsync_env

LOGIN = re.compile(r"sign in as '(?P<name>[^']+)' with password '(?P<password>[^']+)'")
URL = re.compile(r"web app at (?P<url>http://\S+)")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A running `invsync demo` in a fresh instance folder: its URL and the printed login."""
    env = invsync_env(tmp_path / "instance")
    cmd = invsync_command("demo", "--users", "30")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    found: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            for pattern in (LOGIN, URL):
                match = pattern.search(line)
                if match:
                    found.update(match.groupdict())
            if "url" in found:
                break
        assert {"name", "password", "url"} <= set(found), f"demo printed no login/URL: {found}"
        yield found
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_printed_login_opens_the_synced_people_list(demo: dict[str, str]) -> None:
    browser = requests.Session()
    form = browser.get(demo["url"] + "login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    signed = browser.post(
        demo["url"] + "login",
        data={"name": demo["name"], "password": demo["password"], "csrf_token": token.group(1)},
        timeout=10,
    )
    assert signed.status_code == 200 and signed.url == demo["url"]
    people = browser.get(demo["url"] + "people", timeout=10)
    assert people.status_code == 200
    assert people.text.count("@") >= 10


def test_a_hire_arrives_by_signed_webhook_while_the_demo_serves(demo: dict[str, str]) -> None:
    browser = requests.Session()
    form = browser.get(demo["url"] + "login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    browser.post(
        demo["url"] + "login",
        data={"name": demo["name"], "password": demo["password"], "csrf_token": token.group(1)},
        timeout=10,
    )
    deadline = time.monotonic() + 60
    while "grace.hopper@example.com" not in _people(browser, demo["url"], "hopper"):
        assert time.monotonic() < deadline, "no hire arrived by webhook within a minute"
        time.sleep(0.5)
    assert "pre_start" in _people(browser, demo["url"], "hopper")
    events = browser.get(demo["url"] + "integrations/lever-demo-hires/hires", timeout=10).text
    assert "candidateHired" in events and "/hooks/lever/lever-demo-hires" in events


def _people(browser: requests.Session, url: str, query: str) -> str:
    """The people list page searched for a text."""
    return browser.get(url + "people", params={"q": query}, timeout=10).text
