"""An author builds a workflow on the canvas in a browser: blocks dragged from the palette, ports
joined by dragging, then validated, saved, dry-run and activated; and a people workflow, whose
palette, triggers and run modes are the ones that fit a person."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Sim
from tests.web.browser.conftest import CREDENTIAL, SignInAs
from workflows import store

NAME = "Deactivate stale Lever users"
PROBLEM = re.compile(r"\bhas-problem\b")


def _open_editor(page: Page) -> None:
    """From the workflow list to a new canvas, cleared of the starter blocks."""
    page.goto("/workflows")
    page.locator("a", has_text="New workflow").click()
    expect(page).to_have_url(re.compile(r"/workflows/new$"))
    nodes = page.locator("#drawflow .drawflow-node")
    expect(nodes).not_to_have_count(0)
    for _ in range(nodes.count()):
        nodes.first.click()
        page.locator("#block-settings").get_by_role("button", name="Remove block").click()
    expect(nodes).to_have_count(0)


def _drop(page: Page, block_type: str, x: int, y: int) -> Locator:
    """Drag a block from the palette onto the canvas at (x, y); the new node."""
    nodes = page.locator("#drawflow .drawflow-node")
    before = nodes.count()
    item = page.locator(f".palette-item[data-block-type={block_type}]")
    item.drag_to(page.locator("#drawflow"), target_position={"x": x, "y": y})
    expect(nodes).to_have_count(before + 1)
    return nodes.nth(before)


def _connect(source: Locator, output: int, target: Locator) -> None:
    """Drag from an output port of one node to the input port of another."""
    source.locator(f".outputs .output_{output}").drag_to(target.locator(".inputs .input_1"))


def _build(page: Page) -> tuple[Locator, Locator, Locator]:
    """Name the workflow and drop Begin, a Lever Delete User api block and End, left to right."""
    page.locator("input[name=name]").fill(NAME)
    begin = _drop(page, "begin", 40, 120)
    api = _drop(page, "api", 320, 120)
    end = _drop(page, "end", 620, 120)
    api.click()
    settings = page.locator("#block-settings")
    settings.locator("select[name=preset]").select_option("lever_delete_user")
    settings.locator("select[name=credential]").select_option(CREDENTIAL)
    expect(api).to_contain_text("api")
    return begin, api, end


def _wire(begin: Locator, api: Locator, end: Locator) -> None:
    """Begin → api; api success → End; api failure → End."""
    _connect(begin, 1, api)
    _connect(api, 1, end)
    _connect(api, 2, end)


def _button(page: Page, label: str) -> Locator:
    """An editor button, by its exact label."""
    return page.get_by_role("button", name=label, exact=True)


def test_build_workflow_on_canvas(page: Page, synced: Sim, signed_in_as: SignInAs) -> None:
    signed_in_as(page, "author")
    _open_editor(page)
    begin, api, end = _build(page)
    _wire(begin, api, end)
    expect(page.locator("#drawflow .connection")).to_have_count(3)

    _button(page, "Validate").click()
    expect(page.locator("#workflow-message")).to_have_text("Valid: no problems.")
    expect(page.locator("#workflow-problems li")).to_have_count(0)
    expect(page.locator("#drawflow .has-problem")).to_have_count(0)

    _button(page, "Save").click()
    expect(page.locator("#workflow-version")).to_have_text("1")
    expect(page.locator("#workflow-state")).to_have_text("draft")

    _button(page, "Dry run").click()
    report = page.locator("#dry-run-report")
    expect(report).to_contain_text(f"{len(synced[0].users)} records matched")
    assert synced[0].calls("POST") == 0, "a dry run must not change Lever"

    _button(page, "Activate").click()
    expect(page.locator("#workflow-state")).to_have_text("active")


def test_validate_names_an_unconnected_block(
    page: Page, credential: str, signed_in_as: SignInAs
) -> None:
    signed_in_as(page, "author")
    _open_editor(page)
    begin, api, end = _build(page)
    _wire(begin, api, end)
    stray = _drop(page, "api", 320, 360)

    _button(page, "Validate").click()
    expect(page.locator("#workflow-problems")).to_contain_text("not reachable from begin")
    expect(stray).to_have_class(PROBLEM)
    for fine in (begin, api, end):
        expect(fine).not_to_have_class(PROBLEM)


def test_build_a_people_workflow_on_canvas(
    page: Page, signed_in_as: SignInAs, session_factory: sessionmaker[Session]
) -> None:
    signed_in_as(page, "author")
    _open_editor(page)
    page.locator("select[name=object]").select_option("people")
    for hidden in ("saas_user_role", "update"):
        expect(page.locator(f".palette-item[data-block-type={hidden}]")).to_be_hidden()
    for shown in ("begin", "end", "notification", "api", "condition"):
        expect(page.locator(f".palette-item[data-block-type={shown}]")).to_be_visible()
    page.locator("input[name=name]").fill("New hire laptop")
    begin = _drop(page, "begin", 40, 120)
    mail = _drop(page, "notification", 320, 120)
    end = _drop(page, "end", 620, 120)
    begin.click()
    settings = page.locator("#block-settings")
    trigger = settings.locator("select[name=trigger]")
    expect(trigger).to_have_value("person_hired")
    expect(trigger.locator("option[value=record_created]")).to_have_count(0)
    expect(settings.locator("select[name=run_mode] option")).to_have_count(1)
    expect(settings).to_contain_text("start_date")
    mail.click()
    settings.locator("input[name=to]").fill("it@example.com")
    settings.locator("input[name=subject]").fill("Laptop for {{ record.full_name }}")
    settings.locator("textarea[name=body]").fill("Starts {{ record.start_date }}")
    _wire(begin, mail, end)
    expect(page.locator("#drawflow .connection")).to_have_count(3)

    _button(page, "Validate").click()
    expect(page.locator("#workflow-message")).to_have_text("Valid: no problems.")
    _button(page, "Save").click()
    expect(page.locator("#workflow-version")).to_have_text("1")
    with session_factory() as session:
        stored = store.get(session, "New hire laptop")
        assert (stored.object_type, stored.definition["trigger"]) == (
            "people", {"type": "person_hired"})  # fmt: skip
        assert stored.definition["blocks"][1]["subject"] == "Laptop for {{ record.full_name }}"
