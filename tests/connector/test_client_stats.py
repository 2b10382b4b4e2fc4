"""A sync keeps its Lever client's request and retry counts on the run, against the simulator."""

from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from connector import ledger
from connector.jobs import lever_client, run_sync
from inventory.models import SyncRun
from inventory.settings import Settings
from tests.conftest import Sim, no_sleep, sync_lever

RUN_KEYS = {
    "run_id", "integration", "trigger", "status", "started_at", "finished_at", "fetched",
    "errors", "skipped", "people", "saas_users", "message",
}  # fmt: skip


def _stored(factory: sessionmaker[Session], run_id: int) -> SyncRun:
    """A run as the ledger holds it."""
    with factory() as session:
        return session.get_one(SyncRun, run_id)


def test_a_run_keeps_what_its_client_sent_and_retried(
    launched: Sim, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    launched[0].inject("429", count=2, retry_after="0")
    launched[0].inject("503", count=1)

    summary = sync_lever(session_factory, settings)

    assert summary.status == "succeeded" and summary.fetched == 250
    run = _stored(session_factory, summary.run_id)
    assert run.counts["lever"] == {
        "requests": {"200": 3, "429": 2, "503": 1},  # 250 users are three pages of 100
        "retries": {"429": 2, "503": 1},
    }
    assert run.counts["people"]["created"] == 250


def test_a_failed_read_keeps_its_counts_too(
    launched: Sim, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    launched[0].inject("503", count=1000)
    client = partial(lever_client, sleep=no_sleep, max_tries=2)

    summary = run_sync(session_factory, settings, "lever", client_factory=client)

    assert summary.status == "failed"
    run = _stored(session_factory, summary.run_id)
    assert run.counts["lever"] == {"requests": {"503": 2}, "retries": {"503": 1}}


def test_the_run_json_shape_is_unchanged_by_the_counts(
    launched: Sim, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    summary = sync_lever(session_factory, settings)

    with session_factory() as session:
        shown = ledger.run_dict(session.get_one(SyncRun, summary.run_id))
    assert set(shown) == RUN_KEYS
    assert set(shown["people"]) == {"created", "updated", "unchanged", "skipped"}
