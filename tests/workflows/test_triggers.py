"""Triggers: schedules through the functions a scheduler calls, and sync events after real syncs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from connector.schedules import next_run, trigger
from inventory.models import Change, WorkflowRun
from inventory.settings import Settings
from tests.conftest import Sim, sync_as_run, sync_lever
from tests.workflows.conftest import ROLE, accounts, chain, options
from workflows.triggers import (
    handle_sync_events,
    run_due,
    run_scheduled,
    scheduled_workflows,
    sync_events,
)

Make = Callable[..., str]
DAILY = {"type": "schedule", "daily": "03:00", "tz": "UTC"}
MARK = {"id": "mark", "type": "update", "set": {"name": "seen by {{ workflow }}"}}


# -- schedules -------------------------------------------------------------------------------


def test_scheduled_workflows_are_the_active_ones_with_a_schedule(
    synced: Sim, make: Make, session: Session
) -> None:
    make(chain(ROLE, name="nightly", trigger=DAILY))
    make(chain(ROLE, name="draft", trigger=DAILY), activate=False)
    make(chain(ROLE, name="by hand"))
    make(chain(ROLE, name="berlin", trigger={"type": "schedule", "cron": "0 6 * * 1-5",
                                             "tz": "Europe/Berlin"}))  # fmt: skip
    found = {w.name: w for w in scheduled_workflows(session)}
    assert set(found) == {"nightly", "berlin"}
    assert (found["berlin"].schedule.kind, found["berlin"].schedule.tz) == ("cron", "Europe/Berlin")
    monday = datetime(2026, 6, 1, 12, tzinfo=UTC)
    fire = next_run(found["berlin"].schedule, monday)
    assert fire is not None and fire.isoformat() == "2026-06-02T06:00:00+02:00"
    assert trigger(found["nightly"].schedule) is not None


@pytest.mark.parametrize(
    ("since", "now", "runs"),
    [
        ("02:59", "03:01", 1),
        ("03:00", "03:30", 0),  # the fire time at `since` belongs to the previous call
        ("03:01", "23:00", 0),
        ("02:00", "02:59:59", 0),
    ],
)
def test_run_due_runs_what_fired_in_the_window(
    synced: Sim,
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    since: str,
    now: str,
    runs: int,
) -> None:
    make(chain(MARK, name="nightly", trigger=DAILY))
    day = "2026-06-01T"
    summaries = run_due(session_factory, settings, since=datetime.fromisoformat(day + since + "Z"),
                        now=datetime.fromisoformat(day + now + "Z"), options=options())  # fmt: skip
    assert len(summaries) == runs
    for summary in summaries:
        assert (summary.trigger, summary.status, summary.workflow) == ("schedule", "succeeded",
                                                                       "nightly")  # fmt: skip


def test_run_scheduled_never_raises(
    synced: Sim, make: Make, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    make(chain(MARK, name="draft", trigger=DAILY), activate=False)
    assert run_scheduled(session_factory, settings, "draft", options()) is None
    assert run_scheduled(session_factory, settings, "missing", options()) is None


# -- sync events -----------------------------------------------------------------------------


def change_lever(sim: Sim) -> tuple[set[str], str]:
    """Two new Lever users (an admin and an interviewer) and one deactivated; their ids."""
    new = {sim[0].add_user(email=f"new-{role}@example.com", accessRole=role)["id"]
           for role in ("admin", "interviewer")}  # fmt: skip
    leaver = next(u for u in sim[0].users if not u["deactivatedAt"] and u["id"] not in new)
    sim[0].update_user(leaver["id"], deactivatedAt=leaver["createdAt"] + 1000)
    return new, leaver["id"]


@pytest.fixture(params=["changes", "records"])
def resync(
    request: pytest.FixtureRequest, settings: Settings, session_factory: sessionmaker[Session]
) -> Callable[[], tuple[int, str]]:
    """A second sync, with its change rows or without them; (run id, expected source)."""

    def go() -> tuple[int, str]:
        if request.param == "changes":
            return sync_as_run(session_factory, settings).run_id, "changes"
        run_id = sync_lever(session_factory, settings).run_id
        with session_factory.begin() as session:  # a run that left no change rows
            session.execute(delete(Change).where(Change.run_id == run_id))
        return run_id, "records"

    return go


def test_sync_events_name_exactly_the_created_and_deactivated(
    synced: Sim, resync: Callable[[], tuple[int, str]], session: Session
) -> None:
    new, leaver = change_lever(synced)
    run_id, source = resync()
    events = sync_events(session, run_id)
    users = accounts(session)
    assert events.source == source
    assert set(events.created) == {users[i].id for i in new}
    assert events.deactivated == [users[leaver].id]


def test_event_workflows_run_on_the_sync_s_records_only(
    synced: Sim,
    make: Make,
    resync: Callable[[], tuple[int, str]],
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    admins = {"all": [{"field": "app", "op": "eq", "value": "Lever"},
                      {"field": "role", "op": "eq", "value": "admin"}]}  # fmt: skip
    make(chain(MARK, name="welcome", trigger={"type": "record_created"}, criteria=admins))
    make(chain(MARK, name="goodbye", trigger={"type": "record_deactivated"},
               criteria={"field": "app", "op": "eq", "value": "Lever"}))  # fmt: skip
    make(chain(MARK, name="idle", trigger={"type": "record_created"}), activate=False)
    new, leaver = change_lever(synced)
    run_id, _ = resync()
    summaries = {s.workflow: s for s in handle_sync_events(session_factory, settings, run_id,
                                                           options())}  # fmt: skip
    assert set(summaries) == {"welcome", "goodbye"}
    assert (summaries["welcome"].trigger, summaries["welcome"].matched) == ("record_created", 1)
    assert (summaries["goodbye"].trigger, summaries["goodbye"].matched) == ("record_deactivated", 1)
    users = accounts(session)
    admin = next(i for i in new if users[i].role == "admin")
    seen = {u.external_id: u.name for u in users.values() if (u.name or "").startswith("seen")}
    assert seen == {admin: "seen by welcome", leaver: "seen by goodbye"}


def test_a_sync_that_changed_nothing_starts_no_run(
    synced: Sim,
    make: Make,
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    make(chain(MARK, name="welcome", trigger={"type": "record_created"}))
    run_id = sync_lever(session_factory, settings).run_id
    assert handle_sync_events(session_factory, settings, run_id, options()) == []
    assert session.scalars(select(WorkflowRun)).all() == []


def test_records_fallback_ignores_users_created_deactivated(
    synced: Sim, settings: Settings, session_factory: sessionmaker[Session], session: Session
) -> None:
    created = synced[0].add_user(email="born-gone@example.com")
    synced[0].update_user(created["id"], deactivatedAt=created["createdAt"] + 1)
    run_id = sync_lever(session_factory, settings).run_id
    events = sync_events(session, run_id)
    assert events.created == [accounts(session)[created["id"]].id]
    assert events.deactivated == []


def test_sync_events_of_an_unknown_run_are_empty(session: Session) -> None:
    assert sync_events(session, 12345).created == []
