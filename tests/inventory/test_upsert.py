"""Upsert by sync key: one match per email (any case), preferences, stamps that are not changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from inventory.models import Change, Person, SaasUser
from inventory.upsert import (
    PersonRow,
    Preference,
    SaasUserRow,
    Stamp,
    email_key,
    ensure_app,
    upsert_people,
    upsert_saas_users,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(email: str, **values: object) -> PersonRow:
    return PersonRow(email_key(email) or "", {"email": email, "custom": {}, **values})


def stamp(run_id: int, minutes: int = 0, custom: tuple[str, ...] = ()) -> Stamp:
    return Stamp(run_id, T0 + timedelta(minutes=minutes), custom)


def people(session: Session) -> dict[str, Person]:
    session.expire_all()
    return {p.email_key: p for p in session.scalars(select(Person))}


def test_create_then_unchanged_then_update(session: Session) -> None:
    rows = [row("ana@example.com", full_name="Ana"), row("bo@example.com", full_name="Bo")]
    first = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(1))
    assert (first.counts.created, first.counts.updated, first.counts.unchanged) == (2, 0, 0)
    again = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(2))
    assert (again.counts.created, again.counts.updated, again.counts.unchanged) == (0, 0, 2)
    changed = [row("ana@example.com", full_name="Ana Silva"), rows[1]]
    third = upsert_people(session, changed, Preference.CREATE_UPDATE, stamp(3))
    assert (third.counts.updated, third.counts.unchanged) == (1, 1)
    assert people(session)["ana@example.com"].full_name == "Ana Silva"


def test_sync_key_matches_email_in_any_case(session: Session) -> None:
    upsert_people(session, [row("Ana.Silva@Example.com")], Preference.CREATE_UPDATE, stamp(1))
    result = upsert_people(
        session, [row("ana.silva@example.COM")], Preference.CREATE_UPDATE, stamp(2)
    )
    assert result.counts.created == 0
    assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_stamps_refresh_without_counting_as_updates(session: Session) -> None:
    upsert_people(session, [row("ana@example.com")], Preference.CREATE_UPDATE, stamp(1))
    before = people(session)["ana@example.com"]
    updated_at = before.updated_at
    result = upsert_people(
        session, [row("ana@example.com")], Preference.CREATE_UPDATE, stamp(2, 60)
    )
    after = people(session)["ana@example.com"]
    assert result.counts.updated == 0
    assert after.last_synced_at == T0 + timedelta(minutes=60)
    assert after.updated_at == updated_at


def test_sync_time_stamp_fills_a_custom_field_and_keeps_other_custom_values(
    session: Session,
) -> None:
    first = row("ana@example.com", custom={"Lever ID": "u1"})
    upsert_people(session, [first], Preference.CREATE_UPDATE, stamp(1, 0, ("Last sync",)))
    result = upsert_people(session, [first], Preference.CREATE_UPDATE, stamp(2, 5, ("Last sync",)))
    custom = people(session)["ana@example.com"].custom
    assert custom == {"Lever ID": "u1", "Last sync": "2026-01-01T00:05:00.000Z"}
    assert result.counts.unchanged == 1


@pytest.mark.parametrize(
    ("preference", "created", "updated", "skipped"),
    [
        (Preference.CREATE_UPDATE, 1, 1, 0),
        (Preference.CREATE_ONLY, 1, 0, 1),
        (Preference.UPDATE_ONLY, 0, 1, 1),
    ],
)
def test_preferences(
    session: Session, preference: Preference, created: int, updated: int, skipped: int
) -> None:
    upsert_people(session, [row("old@example.com", role="A")], Preference.CREATE_UPDATE, stamp(1))
    rows = [row("old@example.com", role="B"), row("new@example.com", role="B")]
    counts = upsert_people(session, rows, preference, stamp(2)).counts
    assert (counts.created, counts.updated, counts.skipped) == (created, updated, skipped)
    stored = people(session)
    assert ("new@example.com" in stored) == bool(created)
    assert stored["old@example.com"].role == ("B" if updated else "A")


def test_two_accounts_with_one_address_are_one_person_first_met_wins(session: Session) -> None:
    rows = [row("ana@example.com", full_name="Ana (old)"), row("ANA@example.com", full_name="Ana")]
    first = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(1))
    assert (first.counts.created, first.counts.unchanged) == (1, 1)
    assert people(session)["ana@example.com"].full_name == "Ana (old)"
    # the same person met again later in the same run (next page) stays as the first account left it
    later = upsert_people(session, [rows[1]], Preference.CREATE_UPDATE, stamp(1))
    assert (later.counts.updated, later.counts.unchanged) == (0, 1)
    # a re-run sees no change at all
    rerun = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(2))
    assert (rerun.counts.updated, rerun.counts.unchanged) == (0, 2)


def test_saas_users_keyed_by_app_and_external_id_and_linked_by_email(session: Session) -> None:
    app = ensure_app(session, "Lever")
    person = upsert_people(session, [row("ana@example.com")], Preference.CREATE_UPDATE, stamp(1))
    accounts = [
        SaasUserRow(
            "u1",
            {"email": "ana@example.com", "role": "admin", "status": "active"},
            "ana@example.com",
        ),
        SaasUserRow(
            "u2",
            {"email": "Ana@Example.com", "role": "interviewer", "status": "deactivated"},
            "ana@example.com",
        ),
    ]
    counts = upsert_saas_users(
        session, app.id, None, accounts, Preference.CREATE_UPDATE, stamp(1), person.person_ids
    )
    assert counts.created == 2
    users = list(session.scalars(select(SaasUser).order_by(SaasUser.external_id)))
    assert [u.person_id for u in users] == [person.person_ids["ana@example.com"]] * 2
    assert [u.last_seen_at for u in users] == [T0, T0]
    accounts[0].values["role"] = "super admin"
    again = upsert_saas_users(
        session, app.id, None, accounts, Preference.CREATE_UPDATE, stamp(2), person.person_ids
    )
    assert (again.updated, again.unchanged) == (1, 1)
    assert ensure_app(session, "Lever").id == app.id


@pytest.mark.parametrize(
    ("stored", "incoming", "kept"),
    [
        (T0, None, T0),
        (T0, T0 - timedelta(days=1), T0),
        (T0, T0 + timedelta(days=1), T0 + timedelta(days=1)),
        (None, T0, T0),
    ],
)
def test_a_last_login_never_moves_back(
    session: Session, stored: datetime | None, incoming: datetime | None, kept: datetime | None
) -> None:
    app = ensure_app(session, "Lever")
    values = {"email": "ana@example.com", "status": "active", "last_login_at": stored}
    rows = [SaasUserRow("u1", values, None)]
    upsert_saas_users(session, app.id, None, rows, Preference.CREATE_UPDATE, stamp(1), {})
    rows = [SaasUserRow("u1", {**values, "last_login_at": incoming}, None)]
    counts = upsert_saas_users(session, app.id, None, rows, Preference.CREATE_UPDATE, stamp(2), {})
    session.expire_all()
    assert session.scalar(select(SaasUser.last_login_at)) == kept
    assert counts.updated == (kept != stored)


def test_a_cleared_fingerprint_is_compared_in_full_and_restored_without_a_change(
    session: Session,
) -> None:
    rows = [row("ana@example.com", full_name="Ana", role="Admin")]
    upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(1))
    print_ = people(session)["ana@example.com"].fingerprint
    assert print_
    session.execute(update(Person).values(fingerprint=None))
    logged = session.scalar(select(func.count()).select_from(Change))
    again = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(2, 5))
    assert (again.counts.updated, again.counts.unchanged) == (0, 1)
    stored = people(session)["ana@example.com"]
    assert stored.fingerprint == print_
    assert stored.updated_at == T0
    assert session.scalar(select(func.count()).select_from(Change)) == logged


def test_a_value_changed_behind_a_kept_fingerprint_is_not_compared(session: Session) -> None:
    """The fingerprint is why a re-sync is cheap: only rows whose source moved are read."""
    rows = [row("ana@example.com", full_name="Ana")]
    upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(1))
    session.execute(update(Person).values(full_name="Edited"))
    again = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(2))
    assert again.counts.unchanged == 1
    assert people(session)["ana@example.com"].full_name == "Edited"


def test_a_batch_larger_than_one_statement_creates_updates_and_logs_every_row(
    session: Session,
) -> None:
    rows = [row(f"p{i}@example.com", full_name=f"P {i}") for i in range(1200)]
    first = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(1))
    assert first.counts.created == 1200
    assert len(set(first.person_ids.values())) == 1200
    for r in rows[::2]:
        r.values["full_name"] += " (new)"
    again = upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(2))
    assert (again.counts.updated, again.counts.unchanged) == (600, 600)
    stored = people(session)
    assert stored["p0@example.com"].full_name == "P 0 (new)"
    assert stored["p1@example.com"].full_name == "P 1"
    actions = session.execute(
        select(Change.action, func.count()).group_by(Change.action).order_by(Change.action)
    ).all()
    assert actions == [("create", 1200), ("update", 600)]
    update_row = session.scalar(
        select(Change).where(Change.action == "update", Change.object_key == "p0@example.com")
    )
    assert update_row is not None
    assert update_row.before == {"full_name": "P 0"}
    assert update_row.after == {"full_name": "P 0 (new)"}


def test_only_the_rows_whose_values_differ_are_written(
    session: Session, statements: list[str]
) -> None:
    rows = [row(f"p{i}@example.com", full_name=f"P {i}") for i in range(50)]
    upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(1))
    statements.clear()
    upsert_people(session, rows, Preference.CREATE_UPDATE, stamp(2))
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    # a no-change re-sync: one statement stamps the rows the batch saw, nothing else is written
    assert len(writes) == 1
    assert "last_synced_at" in writes[0]


def test_a_rolled_back_batch_leaves_neither_rows_nor_change_rows(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        upsert_people(session, [row("ana@example.com")], Preference.CREATE_UPDATE, stamp(1))
        session.rollback()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
        assert session.scalar(select(func.count()).select_from(Change)) == 0
        # the staging table of the rolled-back transaction is made again on the next write
        upsert_people(session, [row("ana@example.com")], Preference.CREATE_UPDATE, stamp(2))
        session.commit()
        assert session.scalar(select(func.count()).select_from(Change)) == 1
