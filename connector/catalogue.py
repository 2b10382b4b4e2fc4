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

CUSTOM_PREFIX = "custom."


def source_by_label_or_path(text: str) -> SourceField:
    """Resolve what a user typed: a catalogue label ("Job title") or a path ("jobTitle", "a.b")."""
    folded = text.strip().casefold()
    for field in LEVER_FIELDS:
        if folded in (field.label.casefold(), field.path.casefold()):
            return field
    return SourceField(text.strip(), text.strip())


def person_target(name: str) -> TargetField | None:
    """The built-in People target of that name, if any."""
    return next((t for t in PERSON_TARGETS if t.name == name), None)


def unique_targets() -> set[str]:
    """Targets a sync key may sit on."""
    return {t.name for t in PERSON_TARGETS if t.unique}
