"""Preview: the first Lever records through an integration's validation, filters and mapping,
showing what People and SaaS users would get before anything is synced. It only reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connector.errors import MappingError, RecordError
from connector.jobs import ClientFactory, lever_client
from connector.lever.schemas import load_user
from connector.mapping import Mapper, load_entries
from connector.sync import check_person, error_key, lever_saas_values, one_line
from inventory.models import Integration
from inventory.rules import Rule, evaluate, parse_rule
from inventory.settings import Settings
from inventory.timeutil import iso, utcnow
from vault.keys import load_keyring
from vault.store import Vault

__all__ = ["PREVIEW_SIZE", "PreviewRow", "preview"]

PREVIEW_SIZE = 10


@dataclass
class PreviewRow:
    """One source record: its key, and the People / SaaS-user values, or why it would not sync."""

    record: str
    person: dict[str, Any] = field(default_factory=dict)
    saas_user: dict[str, Any] | None = None
    outcome: str = "sync"  # "sync" | "skipped" (by the filters) | "error"
    message: str | None = None


def preview(
    session: Session,
    settings: Settings,
    integ: Integration,
    *,
    limit: int = PREVIEW_SIZE,
    client_factory: ClientFactory = lever_client,
    now: Callable[[], datetime] = utcnow,
) -> list[PreviewRow]:
    """Read the first `limit` Lever users and map them as a sync would; nothing is written."""
    mapper = Mapper(load_entries(integ.mapping))
    filters = parse_rule(integ.filters) if integ.filters else None
    secret = Vault(session, load_keyring(settings)).get(integ.credential_name)
    with client_factory(integ, secret) as client:
        page = next(iter(client.iter_user_pages(limit=limit)), [])
    moment = now()
    return [_row(raw, mapper, filters, integ.saas_users, moment) for raw in page[:limit]]


def _row(
    raw: dict[str, Any], mapper: Mapper, filters: Rule | None, saas_users: bool, now: datetime
) -> PreviewRow:
    """One record validated, filtered and mapped; a bad record becomes an `error` row."""
    try:
        record = load_user(raw)
        values = mapper.map(record)
        key = check_person(values)
    except (RecordError, MappingError) as exc:
        return PreviewRow(error_key(raw, exc), outcome="error", message=one_line(exc))
    account = _plain(lever_saas_values(record)) if saas_users else None
    row = PreviewRow(key, _plain(values), account)
    if filters is not None and not evaluate(filters, record, now):
        row.outcome, row.message = "skipped", "left out by the integration's filters"
    return row


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Values ready to show: datetimes as ISO-8601 UTC text, custom fields as `custom.NAME`."""
    custom: dict[str, Any] = values.get("custom") or {}
    flat = {k: v for k, v in values.items() if k != "custom"}
    flat |= {f"custom.{name}": value for name, value in custom.items()}
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in flat.items()}
