"""Mappings: People target ← source path, constant or template, with an optional transform.

A mapping is stored on the integration as a JSON list of entries, each
`{"target": T, "path": P | "constant": C | "template": "{a} {b}", "transform": X,
"default": D}`, the default standing in when the source gives nothing.
`Mapper` compiles the entries once per run into plain getters, because it runs on every record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.catalogue import (
    CUSTOM_PREFIX,
    LEVER_FIELDS,
    PERSON_TARGETS,
    SYNC_TIME,
    SourceField,
    TargetField,
    person_target,
    source_by_label_or_path,
)
from connector.errors import MappingError
from inventory.statuses import PersonStatus
from inventory.timeutil import iso

Getter = Callable[[Mapping[str, Any]], Any]
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _first_name(value: Any) -> Any:
    """The name up to its first space; a one-word name is all first name."""
    return value.split(None, 1)[0] if isinstance(value, str) and value.strip() else value


def _last_name(value: Any) -> Any:
    """The name after its first space, or None for a one-word name."""
    if not isinstance(value, str):
        return None
    parts = value.split(None, 1)
    return parts[1] if len(parts) == 2 else None


def _status(value: Any) -> str:
    """A deactivation time becomes 'deactivated', none 'active' (as plain text, like any value)."""
    status = PersonStatus.ACTIVE if value in (None, "") else PersonStatus.DEACTIVATED
    return status.value


def _date(value: Any) -> Any:
    """A datetime's calendar date in UTC, as YYYY-MM-DD."""
    return iso(value)[:10] if isinstance(value, datetime) else value  # type: ignore[index]


def _text(fn: Callable[[str], str]) -> Callable[[Any], Any]:
    """Apply a string method to strings and leave anything else alone."""
    return lambda v: fn(v) if isinstance(v, str) else v


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "first_name": _first_name,
    "last_name": _last_name,
    "status": _status,
    "date": _date,
    "lower": _text(str.lower),
    "upper": _text(str.upper),
    "strip": _text(str.strip),
}


@dataclass(frozen=True)
class Entry:
    """One mapping line, validated."""

    target: str
    path: str | None = None
    constant: Any = None
    template: str | None = None
    transform: str | None = None
    default: Any = None  # used when the source gives nothing (None or an empty string)

    @property
    def is_stamp(self) -> bool:
        """True when the source is the connector's sync time (refreshed in bulk, never compared)."""
        return self.path == SYNC_TIME

    @property
    def custom_name(self) -> str | None:
        """The custom field's name when the target is `custom.NAME`."""
        return self.target[len(CUSTOM_PREFIX) :] if self.target.startswith(CUSTOM_PREFIX) else None

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form, without empty keys."""
        doc: dict[str, Any] = {"target": self.target}
        if self.path is not None:
            doc["path"] = self.path
        elif self.template is not None:
            doc["template"] = self.template
        else:
            doc["constant"] = self.constant
        if self.transform:
            doc["transform"] = self.transform
        if self.default is not None:
            doc["default"] = self.default
        return doc

    def describe(self) -> str:
        """How the entry reads in `integration map --show`."""
        if self.path is not None:
            source = _label_for(self.path)
        elif self.template is not None:
            source = f"template:{self.template}"
        else:
            source = f"const:{self.constant}"
        source += f" | {self.transform}" if self.transform else ""
        return source + (f" (default {self.default})" if self.default is not None else "")


def _label_for(path: str) -> str:
    """The catalogue label of a path, or the path itself for custom paths."""
    return next((f.label for f in LEVER_FIELDS if f.path == path), path)


def entry_from_dict(doc: Mapping[str, Any]) -> Entry:
    """Validate a stored or submitted entry."""
    target = str(doc.get("target", "")).strip()
    _check_target(target)
    kinds = [k for k in ("path", "constant", "template") if k in doc]
    if len(kinds) != 1:
        raise MappingError(f"mapping for {target!r}: give exactly one of path, constant, template")
    transform = doc.get("transform") or None
    if transform is not None and transform not in TRANSFORMS:
        raise MappingError(
            f"mapping for {target!r}: unknown transform {transform!r} "
            f"(use one of {', '.join(sorted(TRANSFORMS))})"
        )
    entry = Entry(
        target, doc.get("path"), doc.get("constant"), doc.get("template"), transform,
        doc.get("default"),
    )  # fmt: skip
    _check_stamp(entry)
    return entry


def _check_target(target: str) -> None:
    """A target is a built-in People field or `custom.NAME`."""
    if target.startswith(CUSTOM_PREFIX) and target[len(CUSTOM_PREFIX) :].strip():
        return
    if person_target(target) is None:
        raise MappingError(
            f"unknown target field {target!r}: use a People field "
            "(username, email, first_name, last_name, full_name, role, job_title, status; "
            "for hires also personal_email, department, location, start_date, manager) "
            "or custom.NAME"
        )


def _check_stamp(entry: Entry) -> None:
    """The sync time is bookkeeping: it may only fill a custom field."""
    if entry.is_stamp and entry.custom_name is None:
        raise MappingError(
            "Connector sync time can only be mapped to a custom field "
            "(People's last_synced_at is always kept up to date)"
        )


def parse_assignment(text: str, fields: tuple[SourceField, ...] = LEVER_FIELDS) -> Entry | str:
    """Parse `TARGET=SOURCE[|transform]` from the command line; `TARGET=` alone means unmap.

    SOURCE is a catalogue label or a path, `const:VALUE`, or `template:TEXT WITH {path}`.
    Returns the target name alone when the assignment clears it.
    """
    target, sep, source = text.partition("=")
    if not sep or not target.strip():
        raise MappingError(f"cannot read {text!r}: write TARGET=SOURCE, e.g. job_title=jobTitle")
    target, source = target.strip(), source.strip()
    if not source:
        _check_target(target)
        return target
    if source.startswith("const:"):
        return entry_from_dict({"target": target, "constant": source[6:]})
    if source.startswith("template:"):
        return entry_from_dict({"target": target, "template": source[9:]})
    source, _, transform = source.partition("|")
    path = source_by_label_or_path(source, fields).path
    return entry_from_dict({"target": target, "path": path, "transform": transform.strip()})


def load_entries(docs: Iterable[Mapping[str, Any]]) -> list[Entry]:
    """Validate a whole stored mapping."""
    return [entry_from_dict(d) for d in docs]


def merge(entries: list[Entry], changes: Iterable[Entry | str]) -> list[Entry]:
    """Apply assignments in order: an entry replaces its target's line, a bare target removes it."""
    by_target = {e.target: e for e in entries}
    for change in changes:
        if isinstance(change, str):
            by_target.pop(change, None)
        else:
            by_target[change.target] = change
    return list(by_target.values())


def _getter(path: str) -> Getter:
    """Read a dotted path from a record; a missing step yields None."""
    steps = path.split(".")
    if len(steps) == 1:
        return lambda rec: rec.get(path)

    def get(rec: Mapping[str, Any]) -> Any:
        value: Any = rec
        for step in steps:
            value = value.get(step) if isinstance(value, Mapping) else None
        return value

    return get


def _template(text: str) -> Getter:
    """Fill `{path}` placeholders with the record's values (no expressions, nothing executed)."""
    getters = {name: _getter(name.strip()) for name in _PLACEHOLDER.findall(text)}

    def render(rec: Mapping[str, Any]) -> str:
        return _PLACEHOLDER.sub(lambda m: _as_text(getters[m.group(1)](rec)) or "", text)

    return render


def _as_text(value: Any) -> Any:
    """Datetimes become ISO-8601 text so they fit string and JSON fields."""
    return iso(value) if isinstance(value, datetime) else value


def _compile(entry: Entry) -> Getter:
    """One entry as a single function of the record, falling back on its default."""
    get = _compile_source(entry)
    default = entry.default
    if default is None:
        return get
    return lambda rec: default if (value := get(rec)) is None or value == "" else value


def _compile_source(entry: Entry) -> Getter:
    """One entry's source (and transform) as a single function of the record."""
    if entry.template is not None:
        base = _template(entry.template)
    elif entry.path is not None:
        base = _getter(entry.path)
    else:
        constant = entry.constant
        return lambda _rec: constant
    fn = TRANSFORMS.get(entry.transform or "")
    if fn is None:
        return lambda rec: _as_text(base(rec))
    return lambda rec: _as_text(fn(base(rec)))


@dataclass
class Mapper:
    """A compiled mapping: turns a validated source record into People values."""

    entries: list[Entry]
    fields: list[tuple[str, Getter]] = field(init=False)
    custom: list[tuple[str, Getter]] = field(init=False)
    stamp_custom: list[str] = field(init=False)

    def __post_init__(self) -> None:
        """Split entries into built-in fields, custom fields and sync-time stamps."""
        live = [e for e in self.entries if not e.is_stamp]
        self.fields = [(e.target, _compile(e)) for e in live if e.custom_name is None]
        self.custom = [(e.custom_name, _compile(e)) for e in live if e.custom_name is not None]
        self.stamp_custom = [e.custom_name for e in self.entries if e.is_stamp and e.custom_name]

    def map(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """People values for one record; custom fields under "custom"."""
        values = {name: get(record) for name, get in self.fields}
        values["custom"] = {name: get(record) for name, get in self.custom}
        return values


@dataclass(frozen=True)
class SmartMapping:
    """What smart mapping proposes: the entries and the custom fields they need."""

    entries: list[Entry]
    custom_fields: list[str]


# Each People target with the source names it is recognised by, in order of preference. A
# (name, transform) pair reads a field through a transform, e.g. first name out of a full name.
# Username prefers the email because inventories key logins by address (as Oomnitza requires).
_RECOGNISED: dict[str, list[str | tuple[str, str]]] = {
    "email": ["email", "emailaddress", "mail"],
    "username": ["email", "emailaddress", "username", "login", "loginname"],
    "first_name": ["firstname", "givenname", ("name", "first_name"), ("fullname", "first_name")],
    "last_name": [
        "lastname",
        "surname",
        "familyname",
        ("name", "last_name"),
        ("fullname", "last_name"),
    ],
    "full_name": ["fullname", "name", "displayname"],
    "job_title": ["jobtitle", "title", "position"],
    # what a hire from Lever fills (connector.catalogue.HIRE_TARGETS)
    "personal_email": ["personalemail"],
    "department": ["department", "dept"],
    "location": ["location", "office"],
    "start_date": ["startdate", "anticipatedstartdate"],
    "manager": ["managerid", "directmanager", "manager"],
}
for _target in ("first_name", "last_name"):
    _RECOGNISED[_target].append(("candidatename", _target))
_RECOGNISED["full_name"].append("candidatename")


_MAPPABLE = ("string", "date")


def _norm(text: str) -> str:
    """Fold a field name for comparison: case, spaces and punctuation do not matter."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _find_source(fields: Iterable[SourceField], name: str) -> SourceField | None:
    """The string- or date-typed source whose path or label folds to `name`."""
    wanted = (f for f in fields if f.type in _MAPPABLE)
    return next((f for f in wanted if name in (_norm(f.path), _norm(f.label))), None)


def _propose(fields: list[SourceField], target: str) -> Entry | None:
    """The first recognised source for a target, as an entry."""
    for wanted in _RECOGNISED[target]:
        name, transform = wanted if isinstance(wanted, tuple) else (wanted, None)
        found = _find_source(fields, name)
        if found is not None:
            return Entry(target, path=found.path, transform=transform)
    return None


def smart_mapping(
    app: str,
    default_role: str,
    fields: Iterable[SourceField] = LEVER_FIELDS,
    targets: Iterable[TargetField] = PERSON_TARGETS,
) -> SmartMapping:
    """Propose a mapping from field names and types; the app's id goes to a custom "<App> ID"."""
    catalogue, wanted = list(fields), {t.name for t in targets}
    entries = [e for t in _RECOGNISED if t in wanted and (e := _propose(catalogue, t)) is not None]
    entries.append(Entry("role", constant=default_role))
    custom: list[str] = []
    if (ident := _find_source(catalogue, "id")) is not None:
        custom.append(f"{app} ID")
        entries.append(Entry(f"{CUSTOM_PREFIX}{app} ID", path=ident.path))
    return SmartMapping(entries, custom)
