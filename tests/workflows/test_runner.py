"""The runner: dry runs, supervised approvals, retries, batching, versions and failed runs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from inventory.db import transaction
from inventory.models import Approval, Change, WorkflowRun, WorkflowStep
from inventory.settings import Settings
from tests.conftest import Sim, sync_lever
from tests.workflows.conftest import DELETE, NOW, ROLE, accounts, chain, options, snapshot
from vault.keys import load_keyring
from vault.store import Vault
from workflows import approvals, store
from workflows.errors import WorkflowStateError
from workflows.registry import load_registry
from workflows.runner import (
    RunSummary,
    close_unfinished,
    queue_workflow,
    queued_workflow_runs,
    run_queued_workflow,
)

Make = Callable[..., str]
Run = Callable[..., RunSummary]


def outcomes(session: Session, run_id: int, block: str) -> list[tuple[str, int | None]]:
    """(outcome, status) of a block's steps in a run, in order."""
    stmt = (
        select(WorkflowStep.outcome, WorkflowStep.status_code)
        .where(WorkflowStep.run_id == run_id, WorkflowStep.block_id == block)
        .order_by(WorkflowStep.id)
    )
    return [(o, s) for o, s in session.execute(stmt)]


def of(*external_ids: str) -> dict[str, Any]:
    """Criteria matching some Lever accounts."""
    return {"all": [{"field": "app", "op": "eq", "value": "Lever"},
                    {"field": "external_id", "op": "in", "value": list(external_ids)}]}  # fmt: skip


def active(sim: Sim) -> list[str]:
    """Ids of the simulator's active users."""
    return [u["id"] for u in sim[0].users if not u["deactivatedAt"]]


def workflow_changes(session: Session) -> int:
    """Change-log rows a workflow made."""
    stmt = select(func.count()).select_from(Change).where(Change.actor_kind == "workflow")
    return session.scalar(stmt) or 0


# -- dry runs --------------------------------------------------------------------------------


def test_a_dry_run_writes_nothing_to_lever_or_the_inventory(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    sim = synced[0]
    sim.remove_user(active(synced)[0])
    make(chain(ROLE, DELETE), activate=False)
    before, posts, puts = snapshot(session), sim.calls("POST"), sim.calls("PUT")
    summary = run(dry_run=True)
    assert (sim.calls("POST"), sim.calls("PUT")) == (posts, puts)
    assert snapshot(session) == before
    assert workflow_changes(session) == 0
    assert summary.dry_run and summary.status == "succeeded"
    assert summary.matched == len(active(synced)) + 1
    assert summary.outcomes["delete"]["success"] == summary.matched
    messages = session.scalars(
        select(WorkflowStep.message).where(WorkflowStep.run_id == summary.run_id,
                                           WorkflowStep.block_id.in_(["role", "delete"]))
    ).all()  # fmt: skip
    assert all("would" in (m or "") or m.startswith("role ") for m in messages if m)
    assert any("not in Lever: would deactivate" in (m or "") for m in messages)


def test_a_draft_runs_only_as_a_dry_run(synced: Sim, make: Make, run: Run) -> None:
    make(chain(DELETE), activate=False)
    with pytest.raises(WorkflowStateError, match=r"is a draft: try it with .*--dry-run"):
        run()
    assert run(dry_run=True).status == "succeeded"


# -- supervised runs -------------------------------------------------------------------------


def test_supervised_run_holds_lever_changes_until_approved(
    synced: Sim,
    make: Make,
    run: Run,
    settings: Settings,
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    sim = synced[0]
    first, second = active(synced)[:2]
    make(chain(ROLE, DELETE, criteria=of(first, second), run_mode="supervised"))
    posts = sim.calls("POST")
    summary = run()
    assert (summary.status, summary.pending_approvals) == ("waiting_approval", 2)
    assert sim.calls("POST") == posts, "nothing changes in Lever before approval"
    assert summary.outcomes["role"]["success"] == 2, "reading roles needs no approval"
    pending = approvals.list_approvals(session)
    assert [a["record"] for a in pending] == [accounts(session)[x].email for x in (first, second)]
    assert all("deactivate in Lever" in a["action"] for a in pending)

    by_record = {a["record"]: a["id"] for a in pending}
    first_id = by_record[accounts(session)[first].email]
    with transaction(session_factory) as decide:
        approved = approvals.approve(decide, settings, first_id, decided_by="ada",
                                     options=options())  # fmt: skip
    assert (approved.status, approved.outcome) == ("approved", "success")
    assert sim.calls("POST", f"/v1/users/{first}/deactivate") == 1
    assert accounts(session)[first].status == "deactivated"
    assert session.get_one(WorkflowRun, summary.run_id).status == "waiting_approval"

    with transaction(session_factory) as decide:
        rejected = approvals.reject(decide, by_record[accounts(session)[second].email],
                                    decided_by="bob", options=options())  # fmt: skip
    assert rejected.status == "rejected"
    assert sim.calls("POST", f"/v1/users/{second}/deactivate") == 0
    assert accounts(session)[second].status == "active"
    session.expire_all()
    done = session.get_one(WorkflowRun, summary.run_id)
    assert done.status == "succeeded"
    assert done.outcomes["delete"] == {"success": 1, "failure": 0}
    assert done.outcomes["end"]["success"] == 1
    assert outcomes(session, summary.run_id, "delete") == [
        ("pending", None), ("pending", None), ("success", 200), ("rejected", None),
    ]  # fmt: skip
    decided = {a["id"]: a for a in approvals.list_approvals(session, None)}
    assert {a["decided_by"] for a in decided.values()} == {"ada", "bob"}


def test_an_approval_is_decided_once(
    synced: Sim, make: Make, run: Run, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    make(chain(DELETE, criteria=of(active(synced)[0]), run_mode="supervised"))
    run()
    with session_factory() as session:
        (approval_id,) = session.scalars(select(Approval.id)).all()
    with transaction(session_factory) as decide:
        approvals.reject(decide, approval_id, decided_by="ada", options=options())
    with (
        pytest.raises(WorkflowStateError, match="was rejected already"),
        transaction(session_factory) as decide,
    ):
        approvals.approve(decide, settings, approval_id, decided_by="ada", options=options())


def test_a_supervised_dry_run_asks_nothing(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    make(chain(DELETE, criteria=of(*active(synced)[:3]), run_mode="supervised"))
    summary = run(dry_run=True)
    assert summary.pending_approvals == 3 and summary.status == "succeeded"
    assert session.scalar(select(func.count()).select_from(Approval)) == 0


# -- retries ---------------------------------------------------------------------------------


def test_a_block_retries_then_leaves_by_failure(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    sim, target = synced[0], active(synced)[0]
    make(chain({**DELETE, "retry": {"tries": 3, "backoff": 0.5}}, criteria=of(target)))
    sim.inject("503", count=100, path_prefix=f"/v1/users/{target}/deactivate")
    summary = run(client={"max_tries": 2})
    assert summary.outcomes["delete"] == {"success": 0, "failure": 1}
    assert outcomes(session, summary.run_id, "delete") == [
        ("retry", 503), ("retry", 503), ("failure", 503),
    ]  # fmt: skip
    assert sim.calls("POST", f"/v1/users/{target}/deactivate") == 6, "3 tries of 2 requests"
    assert accounts(session)[target].status == "active"
    assert summary.outcomes["end"]["success"] == 1, "the failure exit leads to end"


def test_a_retry_that_succeeds_takes_the_success_exit(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    sim, target = synced[0], active(synced)[0]
    make(chain({**DELETE, "retry": {"tries": 3, "backoff": 0}}, criteria=of(target)))
    sim.inject("503", count=3, path_prefix=f"/v1/users/{target}/deactivate")
    summary = run(client={"max_tries": 2})
    assert outcomes(session, summary.run_id, "delete") == [("retry", 503), ("success", 200)]
    assert accounts(session)[target].status == "deactivated"


def test_a_role_list_that_cannot_be_read_changes_nothing(
    synced: Sim, make: Make, run: Run, session: Session
) -> None:
    sim = synced[0]
    sim.remove_user(active(synced)[0])
    make(chain({**ROLE, "retry": {"tries": 2, "backoff": 0}}))
    before, gets = snapshot(session), sim.calls("GET", "/v1/users")
    sim.inject("503", count=1000, path_prefix="/v1/users")
    summary = run(client={"max_tries": 2})
    assert summary.outcomes["role"] == {"success": 0, "failure": summary.matched}
    assert snapshot(session) == before
    assert sim.calls("GET", "/v1/users") - gets == 4, "2 tries of 2 requests, once per run"


# -- batching --------------------------------------------------------------------------------


@pytest.mark.parametrize("extra_users", [0, 101])
@pytest.mark.parametrize("records", [2, 10, None])
def test_role_retrieval_reads_lever_once_per_run(
    synced: Sim,
    make: Make,
    run: Run,
    settings: Settings,
    session_factory: sessionmaker[Session],
    extra_users: int,
    records: int | None,
) -> None:
    sim = synced[0]
    for i in range(extra_users):
        sim.add_user(email=f"extra-{i}@example.com")
    if extra_users:
        sync_lever(session_factory, settings)
    ids = active(synced)
    criteria = of(*ids[:records]) if records else None
    make(chain(ROLE, **({"criteria": criteria} if criteria else {})))
    before = sim.calls()
    summary = run()
    assert summary.matched == (records or len(ids))
    bound = math.ceil(len(sim.users) / 100) + 1
    assert sim.calls() - before <= bound
    assert summary.outcomes["role"]["success"] == summary.matched


# -- versions and failures -------------------------------------------------------------------


def test_each_run_records_the_version_it_ran(
    synced: Sim, make: Make, run: Run, session_factory: sessionmaker[Session]
) -> None:
    doc = chain(ROLE, criteria=of(active(synced)[0]))
    make(doc)
    first = run()
    doc["description"] = "now with a description"
    with session_factory.begin() as session:
        _, result = store.update(session, doc, load_registry())
    assert result == "new_version"
    second = run()
    assert (first.version, second.version) == (1, 2)


def test_a_refused_key_fails_the_run_for_every_record(
    synced: Sim, make: Make, run: Run, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    make(chain(DELETE))
    with session_factory.begin() as session:
        Vault(session, load_keyring(settings)).add(
            "lever-key", "wrong-key-12345", " ", replace=True
        )
    summary = run()
    assert summary.status == "failed"
    assert "Lever API key refused" in (summary.message or "")
    assert "wrong-key-12345" not in (summary.message or "")
    assert summary.outcomes["delete"] == {"success": 0, "failure": 0}
    assert synced[0].calls("POST") == 1, "the run stops at the first refusal"


# -- queued runs -----------------------------------------------------------------------------


def test_a_queued_run_is_walked_once_and_a_dead_workers_run_is_closed(
    settings: Settings, session_factory: sessionmaker[Session], synced: Sim,
    make: Callable[..., str],
) -> None:  # fmt: skip
    make(chain(ROLE))
    first = queue_workflow(session_factory, settings, "wf", record_ids=[1, 2])
    second = queue_workflow(session_factory, settings, "wf", dry_run=True)
    with session_factory() as session:
        assert [r.status for r in session.scalars(select(WorkflowRun))] == ["queued", "queued"]
        assert queued_workflow_runs(session) == [(first, "wf"), (second, "wf")]
    done = run_queued_workflow(session_factory, settings, first, options())
    assert done is not None and (done.status, done.matched) == ("succeeded", 2), "its records"
    assert run_queued_workflow(session_factory, settings, first, options()) is None, "taken once"
    assert close_unfinished(session_factory, second, "failed: its worker is gone", NOW)
    assert not close_unfinished(session_factory, first, "late", NOW), "a finished run stays"
    assert run_queued_workflow(session_factory, settings, second, options()) is None
    with session_factory() as session:
        closed = session.get_one(WorkflowRun, second)
        assert (closed.status, closed.message) == ("failed", "failed: its worker is gone")
        assert queued_workflow_runs(session) == []
