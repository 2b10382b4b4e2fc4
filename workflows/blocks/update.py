"""Update: set fields on the SaaS user, each value a template over the record (or null)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from inventory.records import set_fields
from inventory.statuses import SaasUserStatus, values
from workflows import templates
from workflows.context import Record, RunContext
from workflows.registry import Block, CheckEnv, Registry, Result

__all__ = ["DATETIME_FIELDS", "FIELDS", "STATUSES", "Update", "register"]

TEXT_FIELDS = ("name", "role", "status")
DATETIME_FIELDS = ("last_login_at", "deactivated_at")
FIELDS = TEXT_FIELDS + DATETIME_FIELDS
STATUSES = values(SaasUserStatus)


class Update(Block):
    """Set fields on the SaaS user (name, role, status, last_login_at, deactivated_at)."""

    type = "update"
    keys = frozenset({"set"})
    acts_on = "sets fields of SaaS users"

    @property
    def assignments(self) -> Mapping[str, Any]:
        """Field → value template, as written."""
        value = self.spec.get("set")
        return value if isinstance(value, Mapping) else {}

    def check(self, env: CheckEnv) -> list[str]:
        """Known fields; values that are templates or null; literal values of the right kind."""
        if not self.assignments:
            return ['needs "set": {"FIELD": "VALUE", …} with at least one field']
        problems: list[str] = []
        for field, value in self.assignments.items():
            problems += _check_assignment(field, value)
        return problems

    def describe(self, ctx: RunContext, record: Record) -> str:
        """The fields it would set."""
        return "would set " + ", ".join(sorted(self.assignments))

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Render each value, then set the fields that differ (a dry run only reports them)."""
        try:
            values = self._values(ctx, record)
        except (templates.TemplateProblem, ValueError) as exc:
            return Result.failure(str(exc))
        user = record.user
        changed = {f: v for f, v in values.items() if getattr(user, f) != v}
        if not changed:
            return Result.success("no change")
        if not ctx.dry_run:
            set_fields(ctx.session, user, changed, ctx.now)
        verb = "would set" if ctx.dry_run else "set"
        return Result.success(
            f"{verb} " + ", ".join(f"{f} to {_text(v)!r}" for f, v in changed.items())
        )

    def _values(self, ctx: RunContext, record: Record) -> dict[str, Any]:
        """Every assignment's value for this record, converted to the field's type."""
        variables = ctx.variables(record)
        return {
            field: _convert(field, None if value is None else templates.render(value, variables))
            for field, value in self.assignments.items()
        }


def _check_assignment(field: Any, value: Any) -> list[str]:
    """Problems of one `field: value` line."""
    if field not in FIELDS:
        return [f"cannot set {field!r} (use one of {', '.join(FIELDS)})"]
    if value is None:
        return [] if field != "status" else ["status cannot be null"]
    problem = templates.check(value)
    if problem is not None:
        return [f"set.{field}: {problem}"]
    if "{" in value:
        return []  # a template: checked when it renders
    try:
        _convert(field, value)
    except ValueError as exc:
        return [str(exc)]
    return []


def _convert(field: str, text: str | None) -> Any:
    """A rendered value as the field stores it; ValueError names what is wrong."""
    if field == "status" and text not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {text!r}")
    if text is None or text == "":
        return None
    if field in DATETIME_FIELDS:
        return _parse_datetime(field, text)
    return text[:500]


def _parse_datetime(field: str, text: str) -> datetime:
    """An ISO-8601 time (UTC when it has no offset)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} needs an ISO-8601 time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> Any:
    """A value as a step message shows it."""
    return value.isoformat() if isinstance(value, datetime) else value


def register(registry: Registry) -> None:
    """Register the Update block."""
    registry.add_block(Update)
