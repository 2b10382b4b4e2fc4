"""Workflows over people: criteria in Python and SQL on both databases, what a block sees of a
person, the person_hired / person_started triggers (inline and queued), and the shell's hand-over
of a hires poll's people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.sync import SyncSummary
from inventory.models import CustomField, Person, WorkflowRun, WorkflowStep
from inventory.rules import parse_rule
from inventory.settings import Settings
from inventory.statuses import PersonStatus
from tests.conftest import Serve, mailing
from tests.workflows.conftest import NOW, options
from web import jobs
from workflows.context import record_data
from workflows.objects import load_records, rule_fields, select_ids
from workflows.runner import RunSummary, run_queued_workflow
from workflows.triggers import (
    PERSON_TRIGGERS,
    handle_person_events,
    person_workflows,
    queue_person_events,
)

Make = Callable[..., str]
Run = Callable[..., RunSummary]
JAN_4 = date(2027, 1, 4)
LAPTOP = {
    "id": "laptop",
    "type": "notification",
    "to": "it@example.com",
    "subject": "Laptop for {{ record.full_name }}, starting {{ record.start_date }}, "
    "{{ record.department }}, {{ record.location }}",
    "body": "Manager: {{ record.manager_email }}\nPersonal: {{ record.personal_email }}\n",
}


def person(email: str, full_name: str, **fields: Any) -> Person:
    """A person row, pre-start unless told otherwise."""
    first, _, last = full_name.partition(" ")
    values: dict[str, Any] = {"status": PersonStatus.PRE_START, "custom": {}} | fields
    return Person(email=email, email_key=email.lower(), full_name=full_name, first_name=first,
                  last_name=last, **values)  # fmt: skip


@pytest.fixture
def people(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """A manager and four people (three hires), with a custom field; their ids by first name."""
    with session_factory.begin() as session:
        session.add(CustomField(name="laptop"))
        grace = person("grace@example.com", "Grace Hopper", status="active",
                       department="Engineering", location="Berlin", role="manager")  # fmt: skip
        session.add(grace)
        session.flush()
        session.add_all([
            person("ada@example.com", "Ada Lovelace", department="Engineering", location="Berlin",
                   start_date=JAN_4, manager_id=grace.id, personal_email="ada@home.example",
                   job_title="Engineer", custom={"laptop": "mac"}),
            person("alan@example.com", "Alan Turing", department="Design", location="London",
                   start_date=date(2027, 2, 1), custom={"laptop": "linux"}),
            person("edsger@example.com", "Edsger Dijkstra", department="engineering",
                   location="Amsterdam", start_date=date(2026, 12, 1), manager_id=9999),
            person("linus@example.com", "Linus Torvalds", status="active", department=None),
        ])  # fmt: skip
    with session_factory() as session:
        return {p.first_name or "": p.id for p in session.scalars(select(Person))}


def names(session: Session, ids: list[int]) -> set[str]:
    """First names of people by id."""
    return {p.first_name or "" for p in session.scalars(select(Person).where(Person.id.in_(ids)))}


def chain_people(*actions: dict[str, Any], name: str = "hire", **top: Any) -> dict[str, Any]:
    """A people workflow: begin → each action (success to the next, failure to end) → end."""
    blocks = [{"id": "begin", "type": "begin"}, *actions, {"id": "end", "type": "end"}]
    edges: list[dict[str, Any]] = [{"from": "begin", "to": blocks[1]["id"]}]
    for block, after in zip(actions, blocks[2:], strict=True):
        edges += [{"from": block["id"], "to": after["id"], "on": "success"},
                  {"from": block["id"], "to": "end", "on": "failure"}]  # fmt: skip
    doc = {"name": name, "object": "people", "trigger": {"type": "person_hired"},
           "criteria": {"field": "status", "op": "eq", "value": "pre_start"},
           "run_mode": "autopilot", "blocks": blocks, "edges": edges}  # fmt: skip
    return doc | top


def steps(session: Session, run_id: int, block: str) -> list[WorkflowStep]:
    """A block's steps in a run, in order."""
    stmt = select(WorkflowStep).where(WorkflowStep.run_id == run_id, WorkflowStep.block_id == block)
    return list(session.scalars(stmt.order_by(WorkflowStep.id)))


# -- criteria --------------------------------------------------------------------------------


RULES: list[tuple[Any, set[str]]] = [
    ({"field": "department", "op": "eq", "value": "ENGINEERING"}, {"Grace", "Ada", "Edsger"}),
    ({"field": "status", "op": "eq", "value": "pre_start"}, {"Ada", "Alan", "Edsger"}),
    ({"field": "location", "op": "in", "value": ["Berlin", "London"]}, {"Grace", "Ada", "Alan"}),
    ({"field": "start_date", "op": "eq", "value": "2027-01-04"}, {"Ada"}),
    ({"field": "start_date", "op": "gt", "value": "2026-12-31"}, {"Ada", "Alan"}),
    ({"all": [{"field": "start_date", "op": "gt", "value": "2026-12-01"},
              {"field": "start_date", "op": "lt", "value": "2027-02-01"}]}, {"Ada"}),
    ({"field": "start_date", "op": "is_empty"}, {"Grace", "Linus"}),
    ({"field": "start_date", "op": "ne", "value": "2027-01-04"},
     {"Grace", "Alan", "Edsger", "Linus"}),
    ({"field": "department", "op": "ne", "value": "Design"}, {"Grace", "Ada", "Edsger", "Linus"}),
    ({"field": "personal_email", "op": "ends_with", "value": "@HOME.example"}, {"Ada"}),
    ({"field": "full_name", "op": "starts_with", "value": "al"}, {"Alan"}),
    ({"field": "custom.laptop", "op": "eq", "value": "MAC"}, {"Ada"}),
    ({"field": "custom.laptop", "op": "is_empty"}, {"Grace", "Edsger", "Linus"}),
    ({"not": {"field": "job_title", "op": "is_not_empty"}}, {"Grace", "Alan", "Edsger", "Linus"}),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "expected"), RULES)
def test_criteria_over_people_agree_in_python_and_sql(
    people: dict[str, int], session: Session, doc: Any, expected: set[str]
) -> None:
    rule = parse_rule(doc, rule_fields("people", ["laptop"]))
    in_sql = select_ids(session, rule, NOW, None, "people")
    in_python = select_ids(session, rule, NOW, list(people.values()), "people")
    assert in_sql == in_python
    assert names(session, in_sql) == expected


# -- what a block sees -----------------------------------------------------------------------


def test_a_person_record_has_the_hire_fields_and_the_manager_email(
    people: dict[str, int], session: Session
) -> None:
    ids = [people[n] for n in ("Ada", "Edsger", "Linus")]
    ada, edsger, linus = load_records(session, "people", ids)
    data = ada.data()
    assert (data["full_name"], data["start_date"], data["department"], data["location"]) == (
        "Ada Lovelace", "2027-01-04", "Engineering", "Berlin")  # fmt: skip
    assert (data["manager_email"], data["manager_id"]) == ("grace@example.com", people["Grace"])
    assert (data["personal_email"], data["custom"], data["id"]) == (
        "ada@home.example", {"laptop": "mac"}, people["Ada"])  # fmt: skip
    assert data["status"] == "pre_start" and data["email"] == "ada@example.com"
    assert edsger.data()["manager_email"] is None, "a manager id that names nobody"
    assert linus.data()["manager_email"] is None and linus.data()["start_date"] is None
    assert (ada.key, ada.person_id, ada.saas_user_id) == ("ada@example.com", people["Ada"], None)
    assert record_data(ada.target, "x@example.com")["manager_email"] == "x@example.com"


def test_a_person_record_is_no_saas_user(people: dict[str, int], session: Session) -> None:
    (ada,) = load_records(session, "people", [people["Ada"]])
    with pytest.raises(TypeError, match="is a person, not a SaaS user"):
        _ = ada.user


# -- triggers --------------------------------------------------------------------------------


def test_person_hired_workflows_email_about_exactly_the_given_people(
    people: dict[str, int],
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    smtp_server: Serve,
    session: Session,
) -> None:
    box, port = smtp_server()
    engineers = {"all": [{"field": "status", "op": "eq", "value": "pre_start"},
                         {"field": "department", "op": "eq", "value": "engineering"}]}  # fmt: skip
    make(chain_people(LAPTOP, name="laptop", criteria=engineers))
    make(chain_people(LAPTOP, name="on day one", trigger={"type": "person_started"}))
    make(chain_people(LAPTOP, name="draft"), activate=False)
    mailed = mailing(settings, port)
    hired = [people["Ada"], people["Alan"], people["Ada"]]
    summaries = handle_person_events(session_factory, mailed, "person_hired", hired, options())
    assert [(s.workflow, s.trigger, s.matched) for s in summaries] == [
        ("laptop", "person_hired", 1)
    ]
    assert summaries[0].outcomes["laptop"] == {"success": 1, "failure": 0}
    ((recipients, message),) = box.messages
    assert recipients == ["it@example.com"]
    assert message["Subject"] == "Laptop for Ada Lovelace, starting 2027-01-04, Engineering, Berlin"
    body = message.get_content()
    assert "Manager: grace@example.com" in body and "Personal: ada@home.example" in body
    (step,) = steps(session, summaries[0].run_id, "laptop")
    assert (step.person_id, step.saas_user_id, step.record_key) == (
        people["Ada"], None, "ada@example.com")  # fmt: skip


def test_queued_person_events_walk_exactly_their_people(
    people: dict[str, int],
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    make(chain_people(LAPTOP, name="day one", trigger={"type": "person_started"},
                      criteria={"field": "location", "op": "ne", "value": "London"}))  # fmt: skip
    make(chain_people(LAPTOP, name="all starters", trigger={"type": "person_started"},
                      criteria={"all": []}))  # fmt: skip
    make(chain_people(LAPTOP, name="hired"))
    started = [people["Alan"], people["Edsger"]]
    queued = queue_person_events(session_factory, settings, "person_started", started)
    assert sorted(q.workflow for q in queued) == ["all starters", "day one"]
    for each in queued:
        run = session.get_one(WorkflowRun, each.run_id)
        assert (run.status, run.trigger, run.record_ids) == ("queued", "person_started",
                                                             sorted(started))  # fmt: skip
    walked = {q.workflow: run_queued_workflow(session_factory, settings, q.run_id, options())
              for q in queued}  # fmt: skip
    assert {name: s.matched if s else None for name, s in walked.items()} == {
        "day one": 1, "all starters": 2}  # fmt: skip
    done = walked["day one"]
    assert done is not None and done.outcomes["laptop"] == {"success": 0, "failure": 1}
    assert "INVSYNC_SMTP_URL" in (steps(session, done.run_id, "laptop")[0].message or "")
    assert [s.person_id for s in steps(session, done.run_id, "begin")] == [people["Edsger"]]


def test_nothing_is_queued_without_people_or_without_such_a_workflow(
    people: dict[str, int],
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    make(chain_people(LAPTOP, name="hired"))
    assert queue_person_events(session_factory, settings, "person_hired", []) == []
    assert queue_person_events(session_factory, settings, "person_started", [people["Ada"]]) == []
    assert handle_person_events(session_factory, settings, "person_started", [people["Ada"]]) == []
    assert session.scalars(select(WorkflowRun)).all() == []
    assert person_workflows(session_factory, "person_hired") == ["hired"]


def test_a_person_trigger_must_be_one(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    assert PERSON_TRIGGERS == ("person_hired", "person_started")
    with pytest.raises(ValueError, match="'record_created' is not a person trigger"):
        queue_person_events(session_factory, settings, "record_created", [1])


def test_a_manual_people_run_selects_by_its_criteria_and_a_dry_run_sends_nothing(
    people: dict[str, int], make: Make, run: Run, session: Session
) -> None:
    after = {"field": "start_date", "op": "gt", "value": "2026-12-31"}
    make(chain_people(LAPTOP, name="catch up", trigger={"type": "manual"}, criteria=after))
    summary = run("catch up", dry_run=True)
    assert (summary.matched, summary.status, summary.pending_approvals) == (2, "succeeded", 0)
    messages = [s.message or "" for s in steps(session, summary.run_id, "laptop")]
    assert messages == [
        "would email it@example.com: Laptop for Ada Lovelace, starting 2027-01-04, Engineering, "
        "Berlin",
        "would email it@example.com: Laptop for Alan Turing, starting 2027-02-01, Design, London",
    ]


# -- the shell's hand-over -------------------------------------------------------------------


def test_a_hires_poll_hands_its_people_to_the_person_workflows(
    people: dict[str, int],
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make(chain_people(LAPTOP, name="hired"))
    make(chain_people(LAPTOP, name="started", trigger={"type": "person_started"},
                      criteria={"all": []}))  # fmt: skip
    hires = {"hired": [people["Ada"]], "started": [people["Linus"]]}
    # even a poll that failed later: the people it hired are stored, and no later poll says so
    summary = SyncSummary(run_id=0, integration="hires", status="failed", hires=hires)
    handed: list[tuple[int, str]] = []
    jobs._after(session_factory, settings, summary, lambda run, name: handed.append((run, name)))
    assert sorted(name for _, name in handed) == ["hired", "started"]
    with session_factory() as session:
        runs = {r.trigger: r.record_ids for r in session.scalars(select(WorkflowRun))}
    assert runs == {"person_hired": [people["Ada"]], "person_started": [people["Linus"]]}


def test_hand_person_events_runs_inline_without_a_hand_over(
    people: dict[str, int],
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make(chain_people(LAPTOP, name="hired"))
    jobs.hand_person_events(session_factory, settings, "person_hired", [people["Ada"]])
    jobs.hand_person_events(session_factory, settings, "person_hired", [])
    with session_factory() as session:
        (run,) = session.scalars(select(WorkflowRun))
        assert (run.status, run.matched, run.record_ids) == ("succeeded", 1, [people["Ada"]])
