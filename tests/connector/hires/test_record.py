"""A hire as one record: the latest signed offer first, the posting's categories, Lever's dates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.errors import HireError
from connector.hires.record import hire_record, is_hired, latest_signed, posting_id_of

JAN_4 = int(datetime(2027, 1, 4, tzinfo=UTC).timestamp() * 1000)
FEB_1 = int(datetime(2027, 2, 1, tzinfo=UTC).timestamp() * 1000)


def offer(status: str = "signed", signed_at: int | None = 1, **fields: Any) -> dict[str, Any]:
    values = {"anticipated_start_date": JAN_4, "candidate_name": "Ada Lovelace"} | fields
    return {
        "id": f"offer-{status}-{signed_at}",
        "status": status,
        "createdAt": 1,
        "fields": [
            {"identifier": k, "text": k, "value": v} for k, v in values.items() if v is not None
        ],
        "signatures": {"candidate": {"signedAt": signed_at, "signed": status == "signed"}},
    }


OPPORTUNITY = {
    "id": "opp-1",
    "name": "Ada L.",
    "emails": ["ada@mail.example"],
    "location": "Remote",
    "archived": {"reason": "hired-reason", "archivedAt": JAN_4 - 86_400_000},
    "applications": [{"id": "app-1", "posting": "post-1"}],
    "contact": {"id": "c-1", "emails": ["ada.personal@mail.example"]},
}
POSTING = {
    "id": "post-1",
    "text": "Backend Engineer",
    "hiringManager": "user-9",
    "categories": {"department": "Engineering", "team": "Platform", "location": "Berlin"},
}


def test_the_record_reads_the_offer_the_posting_and_the_contact() -> None:
    record = hire_record(OPPORTUNITY, [offer(job_title="Staff Engineer", direct_manager="u-1")],
                         POSTING)  # fmt: skip
    assert record["candidate_name"] == "Ada Lovelace"
    assert record["start_date"] == "2027-01-04"
    assert record["job_title"] == "Staff Engineer"
    assert (record["department"], record["team"], record["location"]) == (
        "Engineering", "Platform", "Berlin",
    )  # fmt: skip
    assert record["personal_email"] == "ada.personal@mail.example"
    assert record["manager_id"] == "u-1"
    assert record["offer"]["job_title"] == "Staff Engineer"
    assert record["hired_at"] == datetime(2027, 1, 3, tzinfo=UTC)


def test_missing_offer_fields_fall_back_on_the_posting_and_the_opportunity() -> None:
    bare = {**OPPORTUNITY, "contact": "c-1"}
    record = hire_record(bare, [offer(candidate_name=None)], {**POSTING, "categories": {}})
    assert record["candidate_name"] == "Ada L."
    assert record["job_title"] == "Backend Engineer"
    assert record["location"] == "Remote"
    assert record["department"] is None
    assert record["manager_id"] == "user-9"
    assert record["personal_email"] == "ada@mail.example"


def test_the_hiring_manager_stands_in_for_a_missing_direct_manager() -> None:
    record = hire_record(OPPORTUNITY, [offer(hiring_manager="u-2")], POSTING)
    assert record["manager_id"] == "u-2"


def test_the_latest_signed_offer_wins_and_unsigned_ones_are_ignored() -> None:
    offers = [
        offer(signed_at=10, anticipated_start_date=JAN_4),
        offer(signed_at=20, anticipated_start_date=FEB_1),
        offer(status="sent", signed_at=None, anticipated_start_date=JAN_4),
    ]
    assert hire_record(OPPORTUNITY, offers, POSTING)["start_date"] == "2027-02-01"
    assert latest_signed([offers[2]]) is None


def test_no_signed_offer_is_an_error_naming_the_fix() -> None:
    with pytest.raises(HireError, match="no signed offer") as caught:
        hire_record(OPPORTUNITY, [offer(status="approved")], POSTING)
    assert caught.value.key == "opp-1"
    assert "rerun" in str(caught.value)


def test_no_start_date_is_an_error_naming_the_offer_field() -> None:
    with pytest.raises(HireError, match="Anticipated start date"):
        hire_record(OPPORTUNITY, [offer(anticipated_start_date=None)], POSTING)


def test_an_iso_start_date_is_read_too() -> None:
    record = hire_record(OPPORTUNITY, [offer(anticipated_start_date="2027-03-01")], None)
    assert record["start_date"] == "2027-03-01"
    assert record["department"] is None


def test_hired_means_archived_with_a_hired_reason_now() -> None:
    assert is_hired(OPPORTUNITY, {"hired-reason"})
    assert not is_hired(OPPORTUNITY, {"another"})
    assert not is_hired({**OPPORTUNITY, "archived": None}, {"hired-reason"})
    assert posting_id_of(OPPORTUNITY) == "post-1"
    assert posting_id_of({"applications": ["app-1"]}) is None
