"""Integration services: create, map (smart or by hand), check what a launch needs, launch.

An integration stays a draft until username, email and role are mapped and its sync key sits on
a unique, mapped field; `launch` refuses with the list of what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import schedules
from connector.catalogue import (
    HIRE_FIELDS,
    HIRE_TARGETS,
    LEVER_FIELDS,
    PERSON_TARGETS,
    hire_only,
    unique_targets,
)
from connector.errors import LaunchError, MappingError, NotLaunchedError
from connector.hires.email import check_format
from connector.hires.signature import DEFAULT_MAX_AGE
from connector.mapping import Entry, load_entries, merge, parse_assignment, smart_mapping
from inventory.errors import AlreadyExistsError, ConfigError, NotFoundError
from inventory.models import Credential, CustomField, Integration
from inventory.rules import FieldSpec, parse_rule
from inventory.timeutil import iso, utcnow
from inventory.upsert import Preference

HIRES = "lever-hires"
# Connector name → the SaaS app it reads. `lever` syncs Lever users; `lever-hires` makes
# pre-start people of Lever hires (connector.hires).
CONNECTORS = {"lever": "Lever", HIRES: "Lever"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class NewIntegration:
    """What `integration create` asks for."""

    name: str
    credential: str
    connector: str = "lever"
    base_url: str = "https://api.lever.co/v1"
    saas_users: bool = True
    preference: str = "create_update"
    sync_key: str = "email"
    max_rps: float = 10.0
    default_role: str = "Employee"
    filters: Any = None
    deactivate_missing: bool | None = None
    max_deactivate: int | None = None
    contacts: tuple[str, ...] = ()
    login_activity: str | None = None
    # lever-hires only
    email_format: str | None = None
    webhook_secret: str | None = None
    poll: bool = True
    webhook_max_age: float = DEFAULT_MAX_AGE


LOGIN_ACTIVITY = ("audit-events",)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UPDATABLE = (
    "credential", "base_url", "saas_users", "preference", "max_rps", "default_role", "filters",
    "deactivate_missing", "max_deactivate", "contacts", "login_activity", "email_format",
    "webhook_secret", "poll", "webhook_max_age",
)  # fmt: skip
HIRE_OPTIONS = ("email_format", "webhook_secret", "poll", "webhook_max_age")


def lever_field_specs() -> dict[str, FieldSpec]:
    """The Lever fields a filter may test, with their types."""
    return {f.path: FieldSpec(f.path, f.type) for f in LEVER_FIELDS if not f.stamp}


def create(session: Session, spec: NewIntegration) -> Integration:
    """Add a draft integration after checking every setting a user typed."""
    _check_new(session, spec)
    hires = spec.connector == HIRES
    integ = Integration(
        name=spec.name,
        connector=spec.connector,
        credential_name=spec.credential,
        base_url=spec.base_url.rstrip("/"),
        saas_users=spec.saas_users and not hires,
        preference=_preference(spec.preference).value,
        sync_keys=[spec.sync_key],
        mapping=[],
        filters=spec.filters,
        options=_options(spec),
        state="draft",
        deactivate_missing=spec.saas_users and not hires
        if spec.deactivate_missing is None
        else spec.deactivate_missing,
        max_deactivate=spec.max_deactivate,
        contacts=list(spec.contacts),
        login_activity=spec.login_activity,
    )
    session.add(integ)
    session.flush()
    return integ


def _options(spec: NewIntegration) -> dict[str, Any]:
    """The settings kept in `options`: pacing and role, and a hires integration's own."""
    options: dict[str, Any] = {"max_rps": spec.max_rps, "default_role": spec.default_role}
    if spec.connector == HIRES:
        options |= {name: getattr(spec, name) for name in HIRE_OPTIONS}
    return options


def _check_hires(session: Session, spec: NewIntegration) -> None:
    """A hires integration's own settings: email format, webhook secret, webhook age."""
    if spec.connector != HIRES:
        if spec.email_format is not None or spec.webhook_secret is not None:
            raise ConfigError(
                f"--email-format and --webhook-secret are settings of --connector {HIRES}"
            )
        return
    if spec.email_format is not None:
        check_format(spec.email_format)
    if spec.webhook_secret is not None:
        _require_credential(session, spec.webhook_secret)
    if spec.webhook_max_age <= 0:
        raise ConfigError("--webhook-max-age must be more than 0 seconds")
    if spec.filters is not None or spec.login_activity is not None:
        raise ConfigError("filters and login activity are settings of --connector lever")


# Names that are pages of their own under /integrations/ in the web app.
RESERVED_NAMES = frozenset({"new"})


def _check_new(session: Session, spec: NewIntegration) -> None:
    """Refuse a bad name, connector, credential, URL, rate, preference or filter up front."""
    if not _NAME.match(spec.name):
        raise ConfigError(f"invalid integration name {spec.name!r}: use letters, digits, . _ -")
    if spec.name.casefold() in RESERVED_NAMES:
        raise ConfigError(
            f"integration name {spec.name!r} is reserved by the web app: pick another"
        )
    if session.scalar(select(Integration.id).where(Integration.name == spec.name)):
        raise AlreadyExistsError(f"an integration named {spec.name!r} already exists")
    if spec.connector not in CONNECTORS:
        raise ConfigError(
            f"unknown connector {spec.connector!r}: use one of {', '.join(CONNECTORS)}"
        )
    _require_credential(session, spec.credential)
    _check_url(spec.base_url)
    if spec.max_rps < 0:
        raise ConfigError("--max-rps must be 0 (unpaced) or more")
    _preference(spec.preference)
    if spec.filters is not None:
        parse_rule(spec.filters, lever_field_specs())
    _check_lifecycle(spec.max_deactivate, spec.contacts, spec.login_activity)
    _check_hires(session, spec)


def _check_lifecycle(
    max_deactivate: int | None, contacts: Iterable[str], login_activity: str | None
) -> None:
    """Refuse a negative guard, a malformed contact address or an unknown activity source."""
    if max_deactivate is not None and max_deactivate < 0:
        raise ConfigError("--max-deactivate must be 0 or more")
    for contact in contacts:
        if not _EMAIL.match(contact):
            raise ConfigError(f"--contact {contact!r} is not an email address")
    if login_activity is not None and login_activity not in LOGIN_ACTIVITY:
        raise ConfigError(
            f"unknown --login-activity {login_activity!r}: use audit-events (or none)"
        )


def update(session: Session, integ: Integration, changes: dict[str, Any]) -> Integration:
    """Change settings of an existing integration, checked as strictly as on create."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ConfigError(f"cannot change {', '.join(sorted(unknown))} of an integration")
    current = _as_spec(integ)
    spec = NewIntegration(**{**current.__dict__, **changes})
    if spec.credential != integ.credential_name:
        _require_credential(session, spec.credential)
    _check_url(spec.base_url)
    if spec.max_rps < 0:
        raise ConfigError("--max-rps must be 0 (unpaced) or more")
    if spec.filters is not None:
        parse_rule(spec.filters, lever_field_specs())
    _check_lifecycle(spec.max_deactivate, spec.contacts, spec.login_activity)
    _check_hires(session, spec)
    _apply(integ, spec)
    return integ


def _as_spec(integ: Integration) -> NewIntegration:
    """An integration's current settings in the shape create takes."""
    return NewIntegration(
        name=integ.name, credential=integ.credential_name, connector=integ.connector,
        base_url=integ.base_url, saas_users=integ.saas_users, preference=integ.preference,
        sync_key=integ.sync_keys[0] if integ.sync_keys else "email",
        max_rps=float(integ.options.get("max_rps", 10.0)),
        default_role=integ.options.get("default_role", "Employee"), filters=integ.filters,
        deactivate_missing=integ.deactivate_missing, max_deactivate=integ.max_deactivate,
        contacts=tuple(integ.contacts or ()), login_activity=integ.login_activity,
        **{name: integ.options[name] for name in HIRE_OPTIONS if name in integ.options},
    )  # fmt: skip


def _apply(integ: Integration, spec: NewIntegration) -> None:
    """Write checked settings onto the integration."""
    integ.credential_name = spec.credential
    integ.base_url = spec.base_url.rstrip("/")
    integ.saas_users = spec.saas_users
    integ.preference = _preference(spec.preference).value
    integ.options = {**integ.options, **_options(spec)}
    integ.filters = spec.filters
    integ.deactivate_missing = bool(spec.deactivate_missing)
    integ.max_deactivate = spec.max_deactivate
    integ.contacts = list(spec.contacts)
    integ.login_activity = spec.login_activity
    integ.updated_at = utcnow()


def _require_credential(session: Session, name: str) -> None:
    """The credential must be in the vault already."""
    if not session.scalar(select(Credential.id).where(Credential.name == name)):
        raise NotFoundError(
            f"no credential named {name!r}: add it with `invsync vault add {name} --username KEY`"
        )


def _check_url(url: str) -> None:
    """A base URL must be an absolute http(s) URL."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"invalid --base-url {url!r}: give e.g. https://api.lever.co/v1")


def _preference(text: str) -> Preference:
    """Read a preference as typed (create-update) or stored (create_update)."""
    try:
        return Preference(text.replace("-", "_"))
    except ValueError:
        raise ConfigError(
            f"unknown preference {text!r}: use create-update, create-only or update-only"
        ) from None


def get(session: Session, name: str) -> Integration:
    """The integration of that name, or a NotFoundError naming the fix."""
    integ = session.scalar(select(Integration).where(Integration.name == name))
    if integ is None:
        raise NotFoundError(
            f"no integration named {name!r}: create it with `invsync integration create {name} "
            "--connector lever --credential CRED`"
        )
    return integ


def list_all(session: Session) -> list[Integration]:
    """Every integration, by name."""
    return list(session.scalars(select(Integration).order_by(Integration.name)))


def apply_smart_mapping(
    session: Session, integ: Integration, default_role: str | None
) -> list[Entry]:
    """Replace the mapping with what smart mapping proposes, creating the custom fields it needs."""
    role = default_role or integ.options.get("default_role") or "Employee"
    if integ.connector == HIRES:
        proposal = smart_mapping(CONNECTORS[integ.connector], role, HIRE_FIELDS, HIRE_TARGETS)
    else:
        proposal = smart_mapping(CONNECTORS[integ.connector], role)
    kept = [e for e in load_entries(integ.mapping) if e.is_stamp]
    ensure_custom_fields(session, proposal.custom_fields)
    return _store_mapping(integ, proposal.entries + kept, default_role=role)


def apply_assignments(
    session: Session, integ: Integration, assignments: Iterable[str]
) -> list[Entry]:
    """Change mapping lines from `TARGET=SOURCE` texts; custom targets get their field created."""
    hires = integ.connector == HIRES
    changes = [parse_assignment(a, HIRE_FIELDS if hires else LEVER_FIELDS) for a in assignments]
    check_targets(integ, [c if isinstance(c, str) else c.target for c in changes])
    entries = merge(load_entries(integ.mapping), changes)
    ensure_custom_fields(session, [e.custom_name for e in entries if e.custom_name])
    return _store_mapping(integ, entries)


def check_targets(integ: Integration, targets: Iterable[str]) -> None:
    """Refuse a target only a hire fills (start_date, department…) on a Lever users integration."""
    if integ.connector == HIRES:
        return
    for target in targets:
        if hire_only(target):
            raise MappingError(f"{target} is filled by hires: map it on a {HIRES} integration")


def apply_defaults(integ: Integration, pairs: Iterable[str]) -> list[Entry]:
    """Set (or with `TARGET=` drop) the default of mapped fields from `TARGET=VALUE` texts."""
    entries = {e.target: e for e in load_entries(integ.mapping)}
    for text in pairs:
        target, sep, value = text.partition("=")
        target = target.strip()
        if not sep or target not in entries:
            raise MappingError(
                f"cannot set a default from {text!r}: write TARGET=VALUE for a mapped TARGET "
                f"(mapped: {', '.join(entries) or 'nothing yet'})"
            )
        entries[target] = replace(entries[target], default=value.strip() or None)
    return _store_mapping(integ, list(entries.values()))


def _store_mapping(integ: Integration, entries: list[Entry], **options: Any) -> list[Entry]:
    """Save a mapping (and option changes) on the integration."""
    integ.mapping = [e.to_dict() for e in entries]
    if options:
        integ.options = {**integ.options, **options}
    integ.updated_at = utcnow()
    return entries


def ensure_custom_fields(session: Session, names: Iterable[str]) -> list[str]:
    """Create the custom People fields that do not exist yet; return the ones created."""
    wanted = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    have = set(session.scalars(select(CustomField.name).where(CustomField.name.in_(wanted))))
    created = [n for n in wanted if n not in have]
    session.add_all(CustomField(name=n) for n in created)
    return created


def missing_for_launch(integ: Integration) -> list[str]:
    """What stops an integration from leaving draft, one item per missing piece."""
    try:
        mapped = {e.target for e in load_entries(integ.mapping)}
    except MappingError as exc:
        return [str(exc)]
    if integ.connector == HIRES:
        return _missing_for_hires(integ, mapped)
    missing = [f"map {t.name}" for t in PERSON_TARGETS if t.required and t.name not in mapped]
    for key in integ.sync_keys or ["(none)"]:
        if key not in unique_targets():
            missing.append(f"put the sync key on a unique field (not {key!r}; use email)")
        elif key not in mapped:
            missing.append(f"map the sync key field {key}")
    return missing


def _missing_for_hires(integ: Integration, mapped: set[str]) -> list[str]:
    """What a hires integration needs: its mapped targets and a work-email format."""
    missing = [f"map {t.name}" for t in HIRE_TARGETS if t.required and t.name not in mapped]
    if not integ.options.get("email_format"):
        missing.append("set the work-email format (--email-format '{first}.{last}@example.com')")
    if not integ.options.get("poll", True) and not integ.options.get("webhook_secret"):
        missing.append("turn polling on (--poll) or give the webhook's --webhook-secret")
    return missing


def launch(integ: Integration) -> None:
    """Move a ready draft (or a paused integration) to active, keeping its schedule (by default
    daily at 02:00 UTC)."""
    missing = missing_for_launch(integ)
    if missing:
        raise LaunchError(
            f"integration {integ.name!r} stays a draft; still needed: {'; '.join(missing)} "
            f"(try `invsync integration map {integ.name} --smart`)"
        )
    schedules.ensure_default(integ)
    integ.state = "active"
    integ.updated_at = utcnow()


def require_active(integ: Integration) -> None:
    """Refuse to sync a draft or paused integration."""
    if integ.state == "draft":
        raise NotLaunchedError(
            f"integration {integ.name!r} is a draft: map it and run "
            f"`invsync integration launch {integ.name}` first"
        )
    if integ.state != "active":
        raise NotLaunchedError(f"integration {integ.name!r} is {integ.state}: resume it first")


def to_dict(integ: Integration) -> dict[str, Any]:
    """An integration as JSON (no secret: only the credential's name)."""
    return {
        "name": integ.name,
        "connector": integ.connector,
        "state": integ.state,
        "mode": "users+saas_users" if integ.saas_users else "users",
        "preference": integ.preference,
        "base_url": integ.base_url,
        "credential": integ.credential_name,
        "sync_keys": list(integ.sync_keys),
        "mapping": list(integ.mapping),
        "filters": integ.filters,
        "options": dict(integ.options),
        "deactivate_missing": integ.deactivate_missing,
        "max_deactivate": integ.max_deactivate,
        "contacts": list(integ.contacts or ()),
        "login_activity": integ.login_activity,
        "schedule": schedules.schedule_dict(integ),
        "created_at": iso(integ.created_at),
        "updated_at": iso(integ.updated_at),
    }
