"""The field catalogue: what a Lever record offers to map, and what People records accept."""

from __future__ import annotations

from dataclasses import dataclass

SYNC_TIME = "$sync_time"


@dataclass(frozen=True)
class SourceField:
    """A field of the source record a mapping may read."""

    label: str
    path: str
    type: str = "string"
    stamp: bool = False


@dataclass(frozen=True)
class TargetField:
    """A People field a mapping may write."""

    name: str
    type: str = "string"
    unique: bool = False
    required: bool = False


LEVER_FIELDS: tuple[SourceField, ...] = (
    SourceField("Id", "id"),
    SourceField("Name", "name"),
    SourceField("Email", "email"),
    SourceField("Username", "username"),
    SourceField("User's role", "accessRole"),
    SourceField("Created at", "createdAt", "datetime"),
    SourceField("Deactivated at", "deactivatedAt", "datetime"),
    SourceField("Last logged in at", "lastLoggedInAt", "datetime"),
    SourceField("Job title", "jobTitle"),
    SourceField("Manager id", "managerId"),
    SourceField("External directory id", "externalDirectoryId"),
    SourceField("Photo", "photo"),
    SourceField("Connector sync time", SYNC_TIME, "datetime", stamp=True),
)

PERSON_TARGETS: tuple[TargetField, ...] = (
    TargetField("username", required=True),
    TargetField("email", unique=True, required=True),
    TargetField("first_name"),
    TargetField("last_name"),
    TargetField("full_name"),
    TargetField("role", required=True),
    TargetField("job_title"),
    TargetField("status"),
)

# What a hire from Lever offers to map (`connector.hires.record`); offer fields are also under
# `offer.<identifier>` for custom mappings.
HIRE_FIELDS: tuple[SourceField, ...] = (
    SourceField("Opportunity id", "opportunity_id"),
    SourceField("Candidate name", "candidate_name"),
    SourceField("Personal email", "personal_email"),
    SourceField("Job title", "job_title"),
    SourceField("Anticipated start date", "start_date", "date"),
    SourceField("Department", "department"),
    SourceField("Team", "team"),
    SourceField("Location", "location"),
    SourceField("Direct manager", "manager_id"),
    SourceField("Posting id", "posting_id"),
    SourceField("Posting title", "posting_title"),
    SourceField("Hired at", "hired_at", "datetime"),
)

# The People fields a hire fills. The work email (and the username, which is the work email)
# comes from the integration's email format; `manager` takes a Lever user id, resolved to the
# manager's person.
HIRE_TARGETS: tuple[TargetField, ...] = (
    TargetField("first_name"),
    TargetField("last_name"),
    TargetField("full_name", required=True),
    TargetField("role", required=True),
    TargetField("job_title"),
    TargetField("personal_email"),
    TargetField("department"),
    TargetField("location"),
    TargetField("start_date", "date", required=True),
    TargetField("manager"),
)

CUSTOM_PREFIX = "custom."


def source_by_label_or_path(
    text: str, fields: tuple[SourceField, ...] = LEVER_FIELDS
) -> SourceField:
    """Resolve what a user typed: a catalogue label ("Job title") or a path ("jobTitle", "a.b")."""
    folded = text.strip().casefold()
    for field in fields:
        if folded in (field.label.casefold(), field.path.casefold()):
            return field
    return SourceField(text.strip(), text.strip())


def person_target(name: str) -> TargetField | None:
    """The built-in People target of that name (a hire's included), if any."""
    return next((t for t in (*PERSON_TARGETS, *HIRE_TARGETS) if t.name == name), None)


def hire_only(name: str) -> bool:
    """Whether a target is one only a hire fills (a Lever user has no start date)."""
    return any(t.name == name for t in HIRE_TARGETS) and person_target_of_users(name) is None


def person_target_of_users(name: str) -> TargetField | None:
    """The People target a Lever users integration may fill, if any."""
    return next((t for t in PERSON_TARGETS if t.name == name), None)


def unique_targets() -> set[str]:
    """Targets a sync key may sit on."""
    return {t.name for t in PERSON_TARGETS if t.unique}
