"""Dry run over loopback: it writes nothing, and lists exactly what the next real run does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from connector.dryrun import dry_run
from connector.lever.sim import ANCHOR_MS, LeverSimulator
from inventory.db import read_only
from inventory.errors import ConfigError
from inventory.models import Base, Person, SaasUser, SyncRun
from inventory.timeutil import iso
from tests.conftest import LAB_NOW as NOW
from tests.conftest import Lab


def preview(lab: Lab) -> dict[str, Any]:
    """A dry run of the lab's integration at a fixed time."""
    factory = lab.client_factory()
    with read_only(lab.factory) as session:
        return dry_run(session, lab.settings, "lever", client_factory=factory, now=lambda: NOW)


def dump(lab: Lab) -> dict[str, list[Any]]:
    """Every row of every table, in key order."""
    with lab.factory() as session:
        return {
            table.name: [tuple(r) for r in session.execute(
                select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }  # fmt: skip


def rows(lab: Lab, model: Any, key: str) -> dict[str, dict[str, Any]]:
    """A table's rows as dicts, by a key column."""
    with lab.factory() as session:
        found = session.execute(select(*model.__table__.columns)).mappings()
        return {r[key]: dict(r) for r in found}


def writes(sim: LeverSimulator) -> int:
    """How many writing requests the simulator received."""
    return sum(sim.calls(method) for method in ("POST", "PUT", "DELETE", "PATCH"))


def plain(value: Any) -> Any:
    """A stored value as the report shows it."""
    return iso(value) if hasattr(value, "isoformat") else value


def assert_changes_happened(
    updates: list[dict[str, Any]], before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Each reported [old, new] pair is what the row held before and holds after."""
    for update in updates:
        old_row, new_row = before[update["key"]], after[update["key"]]
        for name, (old, new) in update["changes"].items():
            if name.startswith("custom."):
                custom = name.removeprefix("custom.")
                old_value, new_value = old_row["custom"].get(custom), new_row["custom"].get(custom)
            else:
                old_value, new_value = old_row[name], new_row[name]
            assert (plain(old_value), plain(new_value)) == (old, new), (update["key"], name)


def changed(before: dict[str, Any], after: dict[str, Any], ignore: set[str]) -> set[str]:
    """Keys of rows whose values (bookkeeping columns aside) differ."""
    strip = lambda row: {k: v for k, v in row.items() if k not in ignore}  # noqa: E731
    return {k for k in before.keys() & after.keys() if strip(before[k]) != strip(after[k])}


STAMPS = {"updated_at", "last_synced_at", "last_seen_at", "last_run_id"}


def test_a_dry_run_writes_nothing_and_lists_what_the_next_run_does(lab: Lab) -> None:
    lab.create()
    lab.cycle()
    sim = lab.sim
    renamed, leaver, gone = lab.active_ids(3)
    sim.update_user(renamed, name="Zoë Renamed-Müller", jobTitle="Head of Talent")
    sim.update_user(leaver, deactivatedAt=ANCHOR_MS + 1)
    sim.remove_user(gone)
    hire = sim.add_user(email="New.Hire@Example.com", name="New Hire")
    sim.set_raw_user({"id": "no-email", "name": "Nobody", "createdAt": 1_700_000_000_000})
    before, sent = dump(lab), writes(sim)
    people, accounts = rows(lab, Person, "email_key"), rows(lab, SaasUser, "external_id")

    report = preview(lab)

    assert dump(lab) == before, "the inventory is unchanged, row for row"
    assert writes(sim) == sent == 0, "Lever received no write"
    summary, outcome = lab.cycle()
    people_after = rows(lab, Person, "email_key")
    accounts_after = rows(lab, SaasUser, "external_id")
    assert report["fetched"] == summary.fetched == 251
    assert report["errors"] == [{"record": k, "message": m} for k, m in summary.error_samples]
    assert report["people"]["create"] == ["new.hire@example.com"]
    assert set(people_after) - set(people) == {"new.hire@example.com"}
    renamed_key = str(lab.sim.get_user(renamed)["email"]).casefold()  # type: ignore[index]
    assert [u["key"] for u in report["people"]["update"]] == [renamed_key]
    assert {u["key"] for u in report["people"]["update"]} == changed(people, people_after, STAMPS)
    assert_changes_happened(report["people"]["update"], people, people_after)
    assert report["saas_users"]["create"] == [hire["id"]]
    assert set(accounts_after) - set(accounts) == {hire["id"]}
    reported = {u["key"] for u in report["saas_users"]["update"]}
    reconciled = {e["external_id"] for e in report["deactivate"]}
    assert reported == {renamed, leaver}
    assert reported | reconciled == changed(accounts, accounts_after, STAMPS)
    assert_changes_happened(report["saas_users"]["update"], accounts, accounts_after)
    assert (summary.people.created, summary.people.updated) == (1, 1)
    assert (summary.saas_users.created, summary.saas_users.updated) == (1, 2)
    assert [(e["external_id"], e["action"]) for e in report["deactivate"]] == [(gone, "delete")]
    assert (outcome.status, outcome.deleted) == ("done", 1)
    assert report["reconcile"]["status"] == "would_apply"


def test_a_dry_run_shows_when_the_guard_would_hold(small_lab: Lab) -> None:
    small_lab.create()
    small_lab.cycle()
    removed = small_lab.active_ids(6)
    for uid in removed:
        small_lab.sim.remove_user(uid)
    report = preview(small_lab)
    assert {e["external_id"] for e in report["deactivate"]} == set(removed)
    assert (report["reconcile"]["status"], report["reconcile"]["limit"]) == ("would_hold", 5)
    _, outcome = small_lab.cycle()
    assert outcome.status == "held"
    assert outcome.pending == report["deactivate"]


def test_a_draft_with_a_usable_mapping_may_be_dry_run(lab: Lab) -> None:
    lab.create(launch=False)
    report = preview(lab)
    assert report["fetched"] == 250
    assert len(report["people"]["create"]) == len(report["saas_users"]["create"]) == 250
    assert report["deactivate"] == [] and report["errors"] == []
    with lab.factory() as session:
        assert session.scalar(select(func.count()).select_from(SyncRun)) == 0
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_a_draft_without_a_usable_mapping_is_refused_naming_what_is_missing(lab: Lab) -> None:
    lab.create(launch=False, smart=False)
    with pytest.raises(ConfigError, match="still needed: map username; map email; map role"):
        preview(lab)
    assert lab.sim.counts["list_users"] == 0, "Lever is not read"


def test_a_dry_run_of_an_unknown_integration_is_refused(lab: Lab) -> None:
    with (
        pytest.raises(ConfigError, match="no integration named 'nope'"),
        read_only(lab.factory) as session,
    ):
        dry_run(session, lab.settings, "nope")
