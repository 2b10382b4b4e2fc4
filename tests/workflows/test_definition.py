"""Definitions: the examples are valid, and every kind of mistake is one line naming its place."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.definition import check, load, parse_trigger
from workflows.errors import WorkflowInvalid
from workflows.registry import CheckEnv, load_registry

EXAMPLES = Path(__file__).parents[2] / "examples" / "workflows"
ENV = CheckEnv(load_registry(), frozenset({"lever-key"}))
BASE: dict[str, Any] = {
    "name": "Deactivate stale Lever users",
    "object": "saas_users",
    "trigger": {"type": "schedule", "daily": "03:00", "tz": "UTC"},
    "criteria": {"all": [{"field": "app", "op": "eq", "value": "Lever"}]},
    "run_mode": "autopilot",
    "blocks": [
        {"id": "begin", "type": "begin"},
        {"id": "delete", "type": "api", "preset": "lever_delete_user", "credential": "lever-key"},
        {"id": "end", "type": "end"},
    ],
    "edges": [
        {"from": "begin", "to": "delete"},
        {"from": "delete", "to": "end", "on": "success"},
        {"from": "delete", "to": "end", "on": "failure"},
    ],
}


def doc_with(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The base definition after a change."""
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def block(doc: dict[str, Any], block_id: str) -> dict[str, Any]:
    """One block of a definition."""
    return next(b for b in doc["blocks"] if b["id"] == block_id)


def add_block(doc: dict[str, Any], new: dict[str, Any], *edges: dict[str, Any]) -> None:
    """Add a block and edges."""
    doc["blocks"].append(new)
    doc["edges"].extend(edges)


def insert_after_begin(doc: dict[str, Any], new: dict[str, Any]) -> None:
    """Put a block between begin and delete, both its exits going on to delete."""
    doc["blocks"].insert(1, new)
    doc["edges"][0] = {"from": "begin", "to": new["id"]}
    doc["edges"] += [{"from": new["id"], "to": "delete", "on": "success"},
                     {"from": new["id"], "to": "delete", "on": "failure"}]  # fmt: skip


CALL = {
    "id": "call",
    "type": "api",
    "credential": "lever-key",
    "request": {"method": "POST", "url": "{{ base_url }}/users/{{ record.external_id }}"},
}
CASES: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("reserved name", lambda d: d.update(name="New"),
     "name: 'New' is reserved by the web app: pick another"),
    ("slash in name", lambda d: d.update(name="HR/offboarding"),
     "name: may not contain '/' (the name is part of the workflow's web address)"),
    ("second begin", lambda d: add_block(d, {"id": "begin2", "type": "begin"},
                                         {"from": "begin2", "to": "end"}),
     "block 'begin2': a second begin block"),
    ("no begin", lambda d: (d["blocks"].pop(0), d["edges"].pop(0)), "workflow: no begin block"),
    ("no end", lambda d: (d["blocks"].pop(), d["edges"].__delitem__(slice(1, 3))),
     "workflow: no end block"),
    ("unreachable", lambda d: add_block(d, {"id": "orphan", "type": "end"}),
     "block 'orphan': is not reachable from begin"),
    ("no way to end", lambda d: d["edges"].__delitem__(slice(1, 3)),
     "block 'delete': has no path to an end block"),
    ("exit not connected", lambda d: d["edges"].pop(),
     "block 'delete': the failure exit is not connected"),
    ("exit connected twice", lambda d: d["edges"].append({"from": "delete", "to": "end",
                                                          "on": "success"}),
     "block 'delete': the success exit is connected twice"),
    ("unknown exit", lambda d: d["edges"][2].update(on="maybe"),
     "block 'delete': unknown exit 'maybe' (use success, failure)"),
    ("action edge without on", lambda d: d["edges"][2].pop("on"),
     "block 'delete': an edge from it needs \"on\""),
    ("edge out of end", lambda d: d["edges"].append({"from": "end", "to": "delete"}),
     "block 'end': an end block has no exits"),
    ("edge into begin", lambda d: d["edges"].__setitem__(2, {"from": "delete", "to": "begin",
                                                             "on": "failure"}),
     "block 'delete': an edge leads back into begin block 'begin'"),
    ("cycle", lambda d: (add_block(d, {"id": "check", "type": "condition",
                                       "rule": {"field": "role", "op": "eq", "value": "admin"}},
                                   {"from": "check", "to": "delete", "on": "success"},
                                   {"from": "check", "to": "end", "on": "failure"}),
                         d["edges"].__setitem__(2, {"from": "delete", "to": "check",
                                                    "on": "failure"})),
     "is part of a cycle (delete → check → delete)"),
    ("edge to nowhere", lambda d: d["edges"][2].update(to="ending"),
     "edges[2]: 'to' names no block ('ending')"),
    ("duplicate id", lambda d: d["blocks"].append({"id": "delete", "type": "end"}),
     "block 'delete': the id is used twice"),
    ("unknown type", lambda d: block(d, "delete").update(type="sleep"),
     "block 'delete': unknown block type 'sleep'"),
    ("unknown key", lambda d: block(d, "delete").update(credentials="lever-key"),
     "block 'delete': unknown key 'credentials' for block type 'api'"),
    ("unknown preset", lambda d: block(d, "delete").update(preset="lever_delet_user"),
     "block 'delete': unknown preset 'lever_delet_user' for block type 'api'"),
    ("preset of another type", lambda d: insert_after_begin(d, {
        "id": "role", "type": "saas_user_role", "preset": "lever_delete_user",
        "credential": "lever-key"}),
     "block 'role': unknown preset 'lever_delete_user' for block type 'saas_user_role'"),
    ("role without preset", lambda d: insert_after_begin(d, {
        "id": "role", "type": "saas_user_role", "credential": "lever-key"}),
     "block 'role': needs a \"preset\" (one of lever_user_role)"),
    ("role option type", lambda d: insert_after_begin(d, {
        "id": "role", "type": "saas_user_role", "preset": "lever_user_role",
        "credential": "lever-key", "deactivate_user": "yes"}),
     "block 'role': \"deactivate_user\" must be true or false"),
    ("credential missing", lambda d: block(d, "delete").pop("credential"),
     "block 'delete': needs a \"credential\""),
    ("credential not stored", lambda d: block(d, "delete").update(credential="nope"),
     "block 'delete': credential 'nope' is not in the vault"),
    ("preset and request", lambda d: block(d, "delete").update(request=CALL["request"]),
     "block 'delete': needs either a \"preset\" or a custom \"request\""),
    ("template does not compile", lambda d: insert_after_begin(d, {
        **CALL, "request": {"method": "POST", "url": "{{ record.email "}}),
     "block 'call': request.url: template does not compile"),
    ("template reads a secret", lambda d: insert_after_begin(d, {
        **CALL, "request": {"url": "{{ base_url }}", "headers": {"X": "{{ secret }}"}}}),
     "block 'call': request.headers.X: template reads unknown variable 'secret'"),
    ("request method", lambda d: insert_after_begin(d, {
        **CALL, "request": {"method": "TRACE", "url": "{{ base_url }}"}}),
     "block 'call': \"request.method\" must be one of"),
    ("retry policy", lambda d: block(d, "delete").update(retry={"tries": 0}),
     "block 'delete': \"retry\" must be"),
    ("condition rule field", lambda d: insert_after_begin(d, {
        "id": "check", "type": "condition", "rule": {"field": "shoe", "op": "eq", "value": 1}}),
     "block 'check': rule field: unknown field 'shoe'"),
    ("update field", lambda d: insert_after_begin(d, {
        "id": "mark", "type": "update", "set": {"email": "x@example.com"}}),
     "block 'mark': cannot set 'email'"),
    ("update status value", lambda d: insert_after_begin(d, {
        "id": "mark", "type": "update", "set": {"status": "gone"}}),
     "block 'mark': status must be one of active, deactivated, deleted"),
    ("update template", lambda d: insert_after_begin(d, {
        "id": "mark", "type": "update", "set": {"role": "{% if %}"}}),
     "block 'mark': set.role: template does not compile"),
    ("notification without recipients", lambda d: insert_after_begin(d, {
        "id": "mail", "type": "notification", "subject": "s", "body": "b"}),
     "block 'mail': needs \"to\""),
    ("notification body", lambda d: insert_after_begin(d, {
        "id": "mail", "type": "notification", "to": "a@example.com", "subject": "s",
        "body": "{{ record.email }"}),
     "block 'mail': body: template does not compile"),
    ("criteria field", lambda d: d["criteria"]["all"].append(
        {"field": "last_login", "op": "older_than_days", "value": 365}),
     "criteria: all[1].field: unknown field 'last_login'"),
    ("criteria operator", lambda d: d["criteria"]["all"].append(
        {"field": "last_login_at", "op": "older_than", "value": 365}),
     "criteria: all[1].op: unknown operator 'older_than'"),
    ("criteria missing", lambda d: d.pop("criteria"), "criteria: missing"),
    ("schedule time", lambda d: d["trigger"].update(daily="25:00"),
     "trigger: daily '25:00' is not a time of day"),
    ("schedule zone", lambda d: d["trigger"].update(tz="Mars/Olympus"),
     "trigger: unknown time zone 'Mars/Olympus'"),
    ("schedule kinds", lambda d: d["trigger"].update(every="6h"),
     "trigger: a schedule needs exactly one of"),
    ("trigger type", lambda d: d.update(trigger={"type": "hourly"}),
     "trigger: \"type\" 'hourly' is not one of schedule, record_created"),
    ("event trigger options", lambda d: d.update(trigger={"type": "manual", "daily": "03:00"}),
     "trigger: a manual trigger takes no 'daily'"),
    ("run mode", lambda d: d.update(run_mode="careful"),
     "run_mode: 'careful' is not one of autopilot, supervised"),
    ("object", lambda d: d.update(object="things"),
     "object: 'things' is not one of saas_users, people"),
    ("person trigger on SaaS users", lambda d: d.update(trigger={"type": "person_hired"}),
     'trigger: person_hired starts people workflows: set "object": "people" to use it'),
    ("name", lambda d: d.update(name=""), "name: missing"),
    ("top-level key", lambda d: d.update(block=[]), "workflow: unknown key 'block'"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_is_reported_where_it_is(change: Callable[..., Any], expected: str) -> None:
    problems = check(doc_with(change), ENV)
    assert any(expected in p for p in problems), problems
    assert all("\n" not in p for p in problems)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_the_examples_are_valid(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert check(doc, ENV) == []
    assert {b.get("credential") for b in doc["blocks"]} - {None} <= {"lever-key"}


def test_load_raises_with_every_problem() -> None:
    doc = doc_with(lambda d: (d.update(run_mode="x"), block(d, "delete").update(preset="y")))
    with pytest.raises(WorkflowInvalid) as caught:
        load(doc, ENV)
    assert len(caught.value.problems) == 2
    assert str(caught.value).startswith("workflow has 2 problems: run_mode:")


def test_the_base_definition_loads_with_its_graph() -> None:
    definition = load(BASE, ENV)
    assert definition.begin == "begin"
    assert definition.next("begin", "success") == "delete"
    assert definition.next("delete", "failure") == "end"
    assert definition.credentials == {"lever-key"}
    assert definition.trigger.schedule is not None
    assert definition.trigger.schedule.expression == "03:00"


def test_without_the_vault_credentials_are_not_checked() -> None:
    doc = doc_with(lambda d: block(d, "delete").update(credential="elsewhere"))
    assert check(doc, CheckEnv(load_registry())) == []


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        ({"type": "person_hired"}, None),
        ({"type": "person_started"}, None),
        ({"type": "schedule", "every": "6h"}, "every"),
        ({"type": "schedule", "cron": "0 3 * * 1-5", "tz": "Europe/Berlin"}, "cron"),
        ({"type": "record_created"}, None),
        ({"type": "record_deactivated"}, None),
        ({"type": "manual"}, None),
    ],
)
def test_triggers_parse(doc: dict[str, Any], kind: str | None) -> None:
    parsed = parse_trigger(doc)
    assert parsed.type == doc["type"]
    assert (parsed.schedule.kind if parsed.schedule else None) == kind


# -- people workflows ------------------------------------------------------------------------


MAIL = {
    "id": "mail",
    "type": "notification",
    "to": "it@example.com",
    "subject": "Laptop for {{ record.full_name }}",
    "body": "Manager: {{ record.manager_email }}",
}
PEOPLE: dict[str, Any] = {
    "name": "New hire laptop",
    "object": "people",
    "trigger": {"type": "person_hired"},
    "criteria": {"field": "status", "op": "eq", "value": "pre_start"},
    "run_mode": "autopilot",
    "blocks": [{"id": "begin", "type": "begin"}, MAIL, {"id": "end", "type": "end"}],
    "edges": [
        {"from": "begin", "to": "mail"},
        {"from": "mail", "to": "end", "on": "success"},
        {"from": "mail", "to": "end", "on": "failure"},
    ],
}  # fmt: skip
PEOPLE_ENV = CheckEnv(load_registry(), frozenset({"lever-key"}), frozenset({"laptop"}))
USABLE = "(use one of api, begin, condition, end, notification)"


def people_with(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The people definition after a change."""
    doc = copy.deepcopy(PEOPLE)
    change(doc)
    return doc


def before_mail(doc: dict[str, Any], new: dict[str, Any]) -> None:
    """Put a block between begin and mail, both its exits going on to mail."""
    doc["blocks"].insert(1, new)
    doc["edges"][0] = {"from": "begin", "to": new["id"]}
    doc["edges"] += [{"from": new["id"], "to": "mail", "on": "success"},
                     {"from": new["id"], "to": "mail", "on": "failure"}]  # fmt: skip


PEOPLE_CASES: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("role block", lambda d: before_mail(d, {"id": "role", **ROLE_BLOCK}),
     "block 'role': block type 'saas_user_role' reads and changes SaaS users' roles in Lever, so "
     f"a people workflow cannot use it {USABLE}"),
    ("update block", lambda d: before_mail(d, {"id": "mark", "type": "update",
                                               "set": {"role": "x"}}),
     "block 'mark': block type 'update' sets fields of SaaS users, so a people workflow cannot "
     f"use it {USABLE}"),
    ("Lever preset", lambda d: before_mail(d, {"id": "delete", "type": "api",
                                               "preset": "lever_delete_user",
                                               "credential": "lever-key"}),
     "block 'delete': preset 'lever_delete_user' acts on Lever users, so a people workflow "
     'cannot use it (send a custom "request" instead)'),
    ("sync trigger", lambda d: d.update(trigger={"type": "record_created"}),
     "trigger: record_created starts SaaS-user workflows after a sync: a people workflow starts "
     "on schedule, manual, person_hired, person_started"),
    ("supervised", lambda d: d.update(run_mode="supervised"),
     "run_mode: a people workflow changes no Lever user, so it never waits for approval"),
    ("SaaS-user field", lambda d: d.update(criteria={"field": "app", "op": "eq", "value": "x"}),
     "criteria: field: unknown field 'app'"),
    ("date as text", lambda d: d.update(criteria={"field": "start_date", "op": "contains",
                                                  "value": "2027"}),
     "cannot test 'start_date', which holds a date"),
    ("not a date", lambda d: d.update(criteria={"field": "start_date", "op": "gt",
                                                "value": "soon"}),
     "criteria: value:"),
    ("unknown custom field", lambda d: d.update(criteria={"field": "custom.shoe", "op": "eq",
                                                          "value": "42"}),
     "criteria: field: unknown field 'custom.shoe'"),
    ("condition over SaaS-user fields", lambda d: before_mail(d, {
        "id": "check", "type": "condition", "rule": {"field": "app", "op": "eq", "value": "x"}}),
     "block 'check': rule field: unknown field 'app'"),
]  # fmt: skip
ROLE_BLOCK = {"type": "saas_user_role", "preset": "lever_user_role", "credential": "lever-key"}


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in PEOPLE_CASES], ids=[c[0] for c in PEOPLE_CASES]
)
def test_a_people_workflow_refuses_what_does_not_fit_a_person(
    change: Callable[..., Any], expected: str
) -> None:
    problems = check(people_with(change), PEOPLE_ENV)
    assert any(expected in p for p in problems), problems
    assert len(problems) == 1 and "\n" not in problems[0], problems


def test_a_people_workflow_tests_person_fields_and_calls_apis() -> None:
    criteria = {"all": [
        {"field": "status", "op": "eq", "value": "pre_start"},
        {"field": "department", "op": "in", "value": ["Engineering", "Design"]},
        {"field": "start_date", "op": "gt", "value": "2026-12-31"},
        {"field": "personal_email", "op": "is_not_empty"},
        {"field": "custom.laptop", "op": "eq", "value": "mac"},
    ]}  # fmt: skip
    order = {"id": "order", "type": "api", "credential": "lever-key", "request": {
        "method": "POST", "url": "https://it.example.com/laptops",
        "body": {"for": "{{ record.full_name }}", "start": "{{ record.start_date }}"}}}  # fmt: skip
    check_block = {"id": "check", "type": "condition",
                   "rule": {"field": "location", "op": "eq", "value": "Berlin"}}  # fmt: skip

    def change(doc: dict[str, Any]) -> None:
        doc.update(criteria=criteria, trigger={"type": "person_started"})
        before_mail(doc, order)
        doc["blocks"].insert(1, check_block)
        doc["edges"][0] = {"from": "begin", "to": "check"}
        doc["edges"] += [{"from": "check", "to": "order", "on": "success"},
                         {"from": "check", "to": "end", "on": "failure"}]  # fmt: skip

    doc = people_with(change)
    assert check(doc, PEOPLE_ENV) == []
    definition = load(doc, PEOPLE_ENV)
    assert (definition.object, definition.trigger.type) == ("people", "person_started")


def test_any_custom_field_passes_when_the_custom_fields_are_not_known() -> None:
    doc = people_with(lambda d: d.update(criteria={"field": "custom.shoe", "op": "eq",
                                                   "value": "42"}))  # fmt: skip
    assert check(doc, CheckEnv(load_registry())) == []


def test_a_saas_user_workflow_still_refuses_people_fields() -> None:
    doc = doc_with(lambda d: d.update(criteria={"field": "department", "op": "eq", "value": "x"}))
    assert any("unknown field 'department'" in p for p in check(doc, ENV))


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Lists and objects of smaller JSON values."""
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    _nested,
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    blocks=st.lists(st.dictionaries(st.sampled_from(["id", "type", "preset", "credential", "rule",
                                                     "set", "to", "request", "retry"]), JSON),
                    max_size=5),
    edges=st.lists(st.dictionaries(st.sampled_from(["from", "to", "on"]),
                                   st.sampled_from(["begin", "delete", "end", "success"]) | JSON),
                   max_size=6),
    top=st.dictionaries(st.sampled_from(["trigger", "criteria", "run_mode", "object"]), JSON),
)  # fmt: skip
def test_any_document_gives_problems_never_an_exception(
    blocks: list[dict[str, Any]], edges: list[dict[str, Any]], top: dict[str, Any]
) -> None:
    doc = {**BASE, "blocks": BASE["blocks"] + blocks, "edges": BASE["edges"] + edges, **top}
    problems = check(doc, ENV)
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
