"""Mapping: smart mapping for Lever, hand-written assignments, transforms, and what they refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.errors import MappingError
from connector.mapping import Entry, Mapper, merge, parse_assignment, smart_mapping

LEVER_RECORD = {
    "id": "c21d911f-aaaa-4bbb-8ccc-000000000001",
    "name": "Siobhán Ó Briain",
    "email": "Siobhan.OBriain@Example.com",
    "username": "siobhan.obriain",
    "accessRole": "team member",
    "jobTitle": "Recruiter",
    "createdAt": datetime(2024, 12, 3, 6, 22, 36, 64000, tzinfo=UTC),
    "deactivatedAt": None,
    "team": {"name": "Talent"},
}


def test_smart_mapping_for_lever_proposes_the_documented_fields() -> None:
    proposal = smart_mapping("Lever", "Employee")
    got = {e.target: (e.path, e.constant, e.transform) for e in proposal.entries}
    assert got["email"] == ("email", None, None)
    assert got["username"] == ("email", None, None)
    assert got["first_name"] == ("name", None, "first_name")
    assert got["last_name"] == ("name", None, "last_name")
    assert got["full_name"] == ("name", None, None)
    assert got["job_title"] == ("jobTitle", None, None)
    assert got["custom.Lever ID"] == ("id", None, None)
    assert got["role"] == (None, "Employee", None)
    assert proposal.custom_fields == ["Lever ID"]


def test_smart_mapping_uses_the_given_default_role() -> None:
    entries = smart_mapping("Lever", "Contractor").entries
    assert Entry("role", constant="Contractor") in entries


def test_smart_mapping_applied_to_a_record() -> None:
    values = Mapper(smart_mapping("Lever", "Employee").entries).map(LEVER_RECORD)
    assert values["email"] == values["username"] == "Siobhan.OBriain@Example.com"
    assert (values["first_name"], values["last_name"]) == ("Siobhán", "Ó Briain")
    assert values["full_name"] == "Siobhán Ó Briain"
    assert values["custom"] == {"Lever ID": LEVER_RECORD["id"]}


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Ana Silva", "Ana", "Silva"),
        ("José Álvarez García", "José", "Álvarez García"),
        ("王芳", "王芳", None),
        ("jane@example.com", "jane@example.com", None),
        ("Nguyễn Văn An", "Nguyễn", "Văn An"),
    ],
)
def test_name_split_keeps_the_full_name(name: str, first: str, last: str | None) -> None:
    mapper = Mapper(
        [
            parse_assignment("first_name=name|first_name"),
            parse_assignment("last_name=name|last_name"),
        ]
    )  # type: ignore[list-item]
    values = mapper.map({"name": name})
    assert (values["first_name"], values["last_name"]) == (first, last)
    assert " ".join(p for p in (first, last) if p) == name


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("job_title=Job title", "Recruiter"),
        ("job_title=jobTitle", "Recruiter"),
        ("role=const:Staff", "Staff"),
        ("role=User's role|upper", "TEAM MEMBER"),
        ("job_title=template:{jobTitle} ({team.name})", "Recruiter (Talent)"),
        ("job_title=Created at|date", "2024-12-03"),
        ("job_title=createdAt", "2024-12-03T06:22:36.064Z"),
        ("job_title=team.name", "Talent"),
        ("job_title=no.such.path", None),
        ("status=deactivatedAt|status", "active"),
    ],
)
def test_assignments_read_labels_paths_constants_templates(
    assignment: str, expected: object
) -> None:
    entry = parse_assignment(assignment)
    assert isinstance(entry, Entry)
    target = assignment.split("=")[0]
    assert Mapper([entry]).map(LEVER_RECORD)[target] == expected


def test_template_is_text_substitution_only() -> None:
    entry = parse_assignment("job_title=template:{__class__} {email.__class__}")
    assert Mapper([entry]).map(LEVER_RECORD)["job_title"] == " "  # type: ignore[list-item]


def test_custom_target_lands_under_custom() -> None:
    entry = parse_assignment("custom.Team=team.name")
    assert Mapper([entry]).map(LEVER_RECORD)["custom"] == {"Team": "Talent"}  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("nonsense", "write TARGET=SOURCE"),
        ("shoe_size=name", "unknown target field 'shoe_size'"),
        ("email=name|reverse", "unknown transform 'reverse'"),
        ("full_name=Connector sync time", "only be mapped to a custom field"),
    ],
)
def test_bad_assignments_are_refused_with_the_fix(assignment: str, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_assignment(assignment)


def test_sync_time_to_a_custom_field_is_a_stamp_not_a_value() -> None:
    entry = parse_assignment("custom.Last sync=Connector sync time")
    mapper = Mapper([entry])  # type: ignore[list-item]
    assert mapper.stamp_custom == ["Last sync"]
    assert mapper.map(LEVER_RECORD)["custom"] == {}


def test_merge_replaces_and_unmaps() -> None:
    entries = smart_mapping("Lever", "Employee").entries
    merged = merge(entries, [parse_assignment("job_title="), parse_assignment("role=const:Staff")])
    targets = {e.target: e for e in merged}
    assert "job_title" not in targets
    assert targets["role"].constant == "Staff"
