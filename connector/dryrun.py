"""Dry run: read Lever and report what a real sync would change, writing nothing anywhere.

It runs the records through the sync's own pipeline (validation, filters, mapping, the sync-key
check) and compares them with the stored rows the way the upsert does, page by page, so the report
names exactly the creates and updates a real run would make. Reconciliation is planned with the
same re-checks (`GET /users/{id}`, reads only). The session only reads and is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import integrations, reconcile
from connector.errors import ConnectorError, MappingError, RecordError
from connector.jobs import ClientFactory, lever_client
from connector.lever.client import LeverClient
from connector.lever.schemas import load_user
from connector.mapping import Mapper, load_entries
from connector.sync import check_person, error_key, lever_saas_values, one_line
from inventory.errors import ConfigError
from inventory.models import Integration, Person, SaasUser
from inventory.rules import Rule, evaluate, parse_rule
from inventory.settings import Settings
from inventory.timeutil import iso, utcnow
from inventory.upsert import PERSON_FIELDS, SAAS_FIELDS, Preference, saas_changes
from inventory.upsert import person_changes as stored_changes
from vault.keys import load_keyring
from vault.store import Vault

__all__ = ["NEW_PERSON", "dry_run", "require_mapping"]

# The person id a SaaS user would link to when its person is created by the same run.
NEW_PERSON = "(new person)"


def dry_run(
    session: Session,
    settings: Settings,
    name: str,
    *,
    client_factory: ClientFactory = lever_client,
    now: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    """Read Lever and report what a real sync of the integration would do, in the caller's
    session; it writes nothing the caller should keep (callers use `inventory.db.read_only`)."""
    integ = integrations.get(session, name)
    require_mapping(integ)
    secret = Vault(session, load_keyring(settings)).get(integ.credential_name)
    with client_factory(integ, secret) as client:
        return _Report.build(session, integ, client, now()).to_dict()


def require_mapping(integ: Integration) -> None:
    """A draft may be dry-run, but only with a mapping a real run could use."""
    missing = integrations.missing_for_launch(integ)
    if missing:
        raise ConfigError(
            f"integration {integ.name!r} cannot be dry-run yet; still needed: "
            f"{'; '.join(missing)} (try `invsync integration map {integ.name} --smart`)"
        )


@dataclass
class _Row:
    """One record that would be written: its sync key, People values and SaaS-user values."""

    key: str
    external_id: str
    person: dict[str, Any]
    account: dict[str, Any]


@dataclass
class _Report:
    """What a real run would do, gathered page by page."""

    session: Session
    integ: Integration
    mapper: Mapper
    preference: Preference
    filters: Rule | None
    app_id: int | None
    now: datetime
    fetched: int = 0
    skipped: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    people: dict[str, list[Any]] = field(default_factory=lambda: {"create": [], "update": []})
    accounts: dict[str, list[Any]] = field(default_factory=lambda: {"create": [], "update": []})
    person_ids: dict[str, int | str | None] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    deactivate: list[dict[str, Any]] = field(default_factory=list)
    reconcile: dict[str, Any] = field(default_factory=dict)
    active_delta: int = 0  # how the integration's count of active accounts would move

    @classmethod
    def build(
        cls, session: Session, integ: Integration, client: LeverClient, now: datetime
    ) -> _Report:
        """Read every page, compare it with the inventory, then plan reconciliation."""
        mapper = Mapper(load_entries(integ.mapping))
        filters = parse_rule(integ.filters) if integ.filters else None
        app_id = reconcile.lever_app_id(session) if integ.saas_users else None
        report = cls(session, integ, mapper, Preference(integ.preference), filters, app_id, now)
        for page in client.iter_user_pages():
            report.page(page)
        report.plan_reconcile(client)
        return report

    def page(self, page: list[dict[str, Any]]) -> None:
        """Compare one page with the stored rows, as the upsert would."""
        rows = [row for raw in page if (row := self.row(raw)) is not None]
        self.compare_people(rows)
        if self.integ.saas_users:
            self.compare_accounts(rows)

    def row(self, raw: dict[str, Any]) -> _Row | None:
        """Validate, filter and map one record, as the sync does; None if it writes nothing."""
        self.fetched += 1
        try:
            record = load_user(raw)
            if self.filters is not None and not evaluate(self.filters, record, self.now):
                self.skipped += 1
                return None
            values = self.mapper.map(record)
            key = check_person(values)
        except (RecordError, MappingError) as exc:
            self.errors.append({"record": error_key(raw, exc), "message": one_line(exc)})
            return None
        self.seen.add(record["id"])
        return _Row(key, record["id"], values, lever_saas_values(record))

    # -- people ---------------------------------------------------------------------------

    def compare_people(self, rows: list[_Row]) -> None:
        """New keys become creates, changed ones updates; a key met before is unchanged."""
        firsts: dict[str, _Row] = {}
        for row in rows:
            if row.key not in self.person_ids:
                firsts.setdefault(row.key, row)
        existing = _stored(self.session, Person, Person.email_key, list(firsts), PERSON_COLUMNS)
        for key, row in firsts.items():
            self.person_ids[key] = self.compare_person(key, row.person, existing.get(key))

    def compare_person(
        self, key: str, values: dict[str, Any], old: dict[str, Any] | None
    ) -> int | str | None:
        """Note what happens to one person; the id its SaaS users would link to."""
        if old is None:
            if not self.preference.creates:
                return None
            self.people["create"].append(key)
            return NEW_PERSON
        changes = person_changes(old, values)
        if changes and self.preference.updates:
            self.people["update"].append({"key": key, "changes": changes})
        return int(old["id"])

    # -- SaaS users -----------------------------------------------------------------------

    def compare_accounts(self, rows: list[_Row]) -> None:
        """New accounts become creates, changed ones updates, as the SaaS-user upsert decides."""
        firsts = {row.external_id: self.linked(row) for row in rows}
        existing = {}
        if self.app_id is not None:
            where = SaasUser.app_id == self.app_id
            existing = _stored(
                self.session, SaasUser, SaasUser.external_id, list(firsts), SAAS_COLUMNS, where
            )
        for ext_id, values in firsts.items():
            self.compare_account(ext_id, values, existing.get(ext_id))

    def linked(self, row: _Row) -> dict[str, Any]:
        """The account's values with its person's id, as the upsert links them."""
        return {**row.account, "email_key": row.key, "person_id": self.person_ids.get(row.key)}

    def compare_account(
        self, ext_id: str, values: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        """Note what happens to one SaaS user."""
        if old is None:
            if self.preference.creates:
                self.accounts["create"].append(ext_id)
                self.active_delta += values["status"] == "active"
            return
        changes = {f: _pair(old[f], v) for f, v in saas_changes(old, values).items()}
        if changes and self.preference.updates:
            self.accounts["update"].append({"key": ext_id, "changes": changes})
            if old["integration_id"] == self.integ.id:
                self.active_delta += (values["status"] == "active") - (old["status"] == "active")

    # -- reconciliation -------------------------------------------------------------------

    def plan_reconcile(self, client: LeverClient) -> None:
        """What reconciliation would check and deactivate or delete after this read."""
        reason = self.reconcile_skip_reason()
        if reason is not None:
            self.reconcile = {"status": "skipped", "message": reason}
            return
        stored = reconcile.candidates(self.session, self.integ)
        missing = [c for c in stored if c.external_id not in self.seen]
        try:
            self.deactivate = reconcile.plan(client, missing)
        except ConnectorError as exc:
            message = f"reconciliation would stop, nothing deactivated: {exc}"
            self.reconcile = {"status": "skipped", "checked": len(missing), "message": message}
            return
        self.reconcile = self.guard(len(missing))

    def reconcile_skip_reason(self) -> str | None:
        """Why a real run would not reconcile, or None when it would."""
        if not (self.integ.saas_users and self.integ.deactivate_missing):
            return "deactivate-missing is off for this integration"
        if self.fetched == 0:
            return "Lever listed no users"
        return None

    def guard(self, checked: int) -> dict[str, Any]:
        """Whether the plan would be applied or held for approval."""
        limit = reconcile.deactivate_limit(self.session, self.integ, adjust=self.active_delta)
        held = len(self.deactivate) > limit
        status = "would_hold" if held else "would_apply"
        return {"status": status, "checked": checked, "limit": limit, "message": None}

    def to_dict(self) -> dict[str, Any]:
        """The report: snake_case keys, ISO-8601 UTC times."""
        return {
            "integration": self.integ.name,
            "dry_run": True,
            "fetched": self.fetched,
            "skipped": self.skipped,
            "errors": self.errors,
            "people": self.people,
            "saas_users": self.accounts,
            "deactivate": self.deactivate,
            "reconcile": self.reconcile,
        }


PERSON_COLUMNS = ("id", "email_key", "custom", *PERSON_FIELDS)
SAAS_COLUMNS = ("id", "external_id", "integration_id", *SAAS_FIELDS)


def _stored(
    session: Session,
    model: Any,
    key_column: Any,
    keys: list[str],
    columns: Iterable[str],
    where: Any = None,
) -> dict[str, dict[str, Any]]:
    """Stored rows whose key is among these, as plain dicts by key (one query)."""
    if not keys:
        return {}
    stmt = select(*(getattr(model, c) for c in columns)).where(key_column.in_(keys))
    if where is not None:
        stmt = stmt.where(where)
    return {r[key_column.key]: dict(r) for r in session.execute(stmt).mappings()}


def person_changes(old: dict[str, Any], values: dict[str, Any]) -> dict[str, list[Any]]:
    """The upsert's change test for a person, as {field: [old, new]}; custom fields one by one."""
    changes = stored_changes(old, values)
    pairs = {f: _pair(old[f], v) for f, v in changes.items() if f != "custom"}
    stored = old["custom"] or {}
    for name, value in changes.get("custom", {}).items():
        if stored.get(name, _ABSENT) != value:
            pairs[f"custom.{name}"] = _pair(stored.get(name), value)
    return pairs


_ABSENT = object()


def _pair(old: Any, new: Any) -> list[Any]:
    """An [old, new] pair in JSON-ready form."""
    return [_plain(old), _plain(new)]


def _plain(value: Any) -> Any:
    """Datetimes as ISO-8601 UTC text; everything else as it is."""
    return iso(value) if isinstance(value, datetime) else value
