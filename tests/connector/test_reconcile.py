"""Reconciliation over loopback: unlisted SaaS users re-checked one by one, the guard, approval."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from connector.jobs import run_sync
from connector.lever.client import LeverClient
from connector.lever.sim import ANCHOR_MS
from inventory.errors import ConfigError
from inventory.models import SaasUser
from inventory.timeutil import from_ms
from tests.conftest import LAB_NOW as NOW
from tests.conftest import Lab


def test_a_user_gone_from_lever_is_deleted(lab: Lab) -> None:
    lab.create()
    lab.cycle()
    gone = lab.active_ids(1)[0]
    lab.sim.remove_user(gone)
    gets = lab.gets()
    summary, outcome = lab.cycle()
    assert (outcome.status, outcome.checked, outcome.deleted, outcome.kept) == ("done", 1, 1, 0)
    assert lab.gets() - gets == 1, "only the unlisted user is fetched"
    assert lab.statuses()[gone] == "deleted"
    run = lab.run(summary.run_id)
    assert run.status == "succeeded"
    assert run.counts["reconcile"] == {**outcome.to_dict(), "pending": 0}


def test_an_unlisted_deactivated_user_is_deactivated_and_an_unlisted_active_one_kept(
    lab: Lab,
) -> None:
    lab.create()
    lab.cycle()
    leaver, hidden = lab.active_ids(2)
    when = ANCHOR_MS + 60_000
    lab.sim.update_user(leaver, deactivatedAt=when)
    lab.update(filters={"field": "id", "op": "not_in", "value": [leaver, hidden]})
    gets = lab.gets()
    _, outcome = lab.cycle()
    assert (outcome.checked, outcome.deactivated, outcome.deleted, outcome.kept) == (2, 1, 0, 1)
    assert lab.gets() - gets == 2
    with lab.factory() as session:
        account = session.scalars(select(SaasUser).where(SaasUser.external_id == leaver)).one()
        assert (account.status, account.deactivated_at) == ("deactivated", from_ms(when))
    assert lab.statuses()[hidden] == "active"


def test_deleted_and_deactivated_users_come_back_and_nothing_flaps(lab: Lab) -> None:
    lab.create()
    lab.cycle()
    gone, leaver = lab.active_ids(2)
    record = lab.sim.get_user(gone)
    assert record is not None
    lab.sim.remove_user(gone)
    lab.sim.update_user(leaver, deactivatedAt=ANCHOR_MS + 1)
    lab.update(filters={"field": "id", "op": "ne", "value": leaver})
    _, first = lab.cycle()
    assert (first.deleted, first.deactivated) == (1, 1)
    gets = lab.gets()
    summary, second = lab.cycle()
    assert second.checked == 0, "deleted and deactivated accounts are not re-checked"
    assert lab.gets() == gets
    assert summary.saas_users.updated == 0
    lab.sim.set_raw_user(record)
    lab.sim.update_user(leaver, deactivatedAt=None)
    lab.update(filters=None)
    summary, third = lab.cycle()
    assert summary.saas_users.updated == 2, "the upsert reactivates both"
    assert (lab.statuses()[gone], lab.statuses()[leaver]) == ("active", "active")
    summary, fourth = lab.cycle()
    assert (summary.saas_users.updated, fourth.checked, third.checked) == (0, 0, 0)


def test_the_guard_holds_a_large_plan_until_it_is_approved(small_lab: Lab) -> None:
    small_lab.create()
    small_lab.cycle()
    removed = small_lab.active_ids(6)
    for uid in removed:
        small_lab.sim.remove_user(uid)
    before = small_lab.statuses()
    summary, outcome = small_lab.cycle()
    assert (outcome.status, outcome.checked, outcome.deleted) == ("held", 6, 0)
    assert small_lab.statuses() == before, "nothing changes while held"
    run = small_lab.run(summary.run_id)
    pending = run.pending or []
    assert run.status == "held"
    assert {e["external_id"] for e in pending} == set(removed)
    assert {e["action"] for e in pending} == {"delete"}
    assert run.counts["reconcile"]["pending"] == 6
    approved = small_lab.approve(summary.run_id)
    assert (approved.status, approved.deleted) == ("done", 6)
    run = small_lab.run(summary.run_id)
    assert (run.status, run.approved_by, run.approved_at) == ("succeeded", "alice@example.com", NOW)
    assert {small_lab.statuses()[uid] for uid in removed} == {"deleted"}


def test_a_configured_limit_replaces_the_default_guard(small_lab: Lab) -> None:
    small_lab.create(max_deactivate=6)
    small_lab.cycle()
    for uid in small_lab.active_ids(6):
        small_lab.sim.remove_user(uid)
    _, outcome = small_lab.cycle()
    assert (outcome.status, outcome.deleted) == ("done", 6)


def test_approve_refuses_a_run_that_is_not_held(lab: Lab) -> None:
    lab.create()
    summary, _ = lab.cycle()
    with pytest.raises(ConfigError, match=f"run {summary.run_id} is succeeded, not held"):
        lab.approve(summary.run_id)


def test_a_held_run_superseded_by_a_later_run_cannot_be_approved(small_lab: Lab) -> None:
    small_lab.create()
    small_lab.cycle()
    for uid in small_lab.active_ids(6):
        small_lab.sim.remove_user(uid)
    held, _ = small_lab.cycle()
    later, outcome = small_lab.cycle()
    assert outcome.status == "held", "the later run re-planned from scratch"
    with pytest.raises(ConfigError, match=f"superseded by run {later.run_id}") as refused:
        small_lab.approve(held.run_id)
    assert "\n" not in str(refused.value)
    assert small_lab.approve(later.run_id).deleted == 6


def test_no_reconciliation_after_a_partial_read(lab: Lab) -> None:
    lab.create()
    lab.cycle()
    lab.sim.remove_user(lab.active_ids(1)[0])
    make = lab.client_factory(max_tries=2)

    def lever_goes_down_after_one_page(integ: Any, secret: Any) -> LeverClient:
        client = make(integ, secret)
        pages = client.iter_user_pages

        def first_page_then_outage(**kw: Any) -> Iterator[list[dict[str, Any]]]:
            stream = pages(**kw)
            yield next(stream)
            lab.sim.inject("503", count=1000, path_prefix="/v1/users")
            yield from stream

        client.iter_user_pages = first_page_then_outage  # type: ignore[method-assign]
        return client

    summary = run_sync(
        lab.factory, lab.settings, "lever", client_factory=lever_goes_down_after_one_page
    )
    assert (summary.status, summary.fetched) == ("failed", 100)
    lab.sim.clear_faults()
    gets = lab.gets()
    outcome = lab.reconcile(summary.run_id)
    assert outcome.status == "skipped"
    assert outcome.message == "no reconciliation after a partial or cancelled read"
    assert lab.gets() == gets
    assert set(lab.statuses().values()) <= {"active", "deactivated"}
    assert lab.run(summary.run_id).status == "failed"


def test_lever_failing_during_the_re_checks_changes_nothing(lab: Lab) -> None:
    lab.create()
    lab.cycle()
    for uid in lab.active_ids(3):
        lab.sim.remove_user(uid)
    summary = lab.sync()
    lab.sim.inject("503", count=1000, path_prefix="/v1/users/")
    before = lab.statuses()
    outcome = lab.reconcile(summary.run_id, max_tries=2)
    assert outcome.status == "skipped"
    assert outcome.message and "Lever unreachable" in outcome.message
    assert lab.statuses() == before
    assert lab.run(summary.run_id).status == "succeeded"


def test_reconciliation_is_off_when_the_integration_says_so(lab: Lab) -> None:
    lab.create(deactivate_missing=False)
    lab.cycle()
    lab.sim.remove_user(lab.active_ids(1)[0])
    _, outcome = lab.cycle()
    assert outcome.status == "skipped" and "deactivate-missing is off" in (outcome.message or "")
    assert lab.gets() == 0


def test_an_empty_listing_never_deletes_anyone(lab: Lab) -> None:
    lab.create()
    lab.cycle()
    for user in lab.sim.users:
        lab.sim.remove_user(user["id"])
    summary, outcome = lab.cycle()
    assert (summary.status, summary.fetched) == ("succeeded", 0)
    assert outcome.status == "skipped"
    assert outcome.message == "no reconciliation: Lever listed no users in this run"
    assert "deleted" not in lab.statuses().values()
