"""SaaS User Role: read each user's role from the SaaS app and store it on the SaaS user.

With the Lever User Role preset, a run over many records reads Lever's user list once (pages of
100, deactivated users included) instead of one call per record, so N records cost at most
⌈users/100⌉ + 1 calls however large N is; a run over one record (an event) or a block with
``"lookup": "each"`` reads each user with ``GET /users/{id}`` instead. A user Lever does not list
(404) or has deactivated becomes ``deactivated`` when ``deactivate_user`` is on (the default).
The list is used only when read completely: a failed read fails the block for every record and
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.errors import ConnectorError, LeverNotFoundError
from inventory.records import set_fields
from inventory.statuses import SaasUserStatus
from inventory.timeutil import from_ms
from workflows.blocks.common import (
    PresetBlock,
    call_lever,
    failure_of,
    is_retryable,
    mark_deactivated,
)
from workflows.context import Record, RunContext
from workflows.registry import CheckEnv, Registry, Result

__all__ = ["LOOKUPS", "LeverUser", "SaasUserRole", "register"]

LOOKUPS = ("auto", "each")
MAX_MS = 253_402_300_799_999  # 9999-12-31, the latest time a datetime holds


@dataclass(frozen=True)
class LeverUser:
    """What the block needs of a Lever user: its role and when it was deactivated."""

    role: str | None
    deactivated_ms: int | None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> LeverUser:
        """The parts of a raw Lever user the block reads (odd values read as absent)."""
        role, when = raw.get("accessRole"), raw.get("deactivatedAt")
        valid_when = type(when) is int and 0 <= when <= MAX_MS
        return cls(role if isinstance(role, str) else None, when if valid_when else None)


@dataclass(frozen=True)
class _Unreadable:
    """Lever's user list could not be read completely in this run."""

    error: ConnectorError


class SaasUserRole(PresetBlock):
    """Read the user's role from the SaaS app and store it; deactivate users it no longer has."""

    type = "saas_user_role"
    keys = frozenset({"preset", "credential", "deactivate_user", "lookup"})
    acts_on = "reads and changes SaaS users' roles in Lever"

    @property
    def deactivate_user(self) -> bool:
        """Whether users Lever lacks or has deactivated become deactivated (default true)."""
        default = self.preset.defaults.get("deactivate_user", True) if self.preset else True
        return bool(self.spec.get("deactivate_user", default))

    def check(self, env: CheckEnv) -> list[str]:
        """Preset and credential, plus the two options' types."""
        problems = super().check(env)
        if not isinstance(self.spec.get("deactivate_user", True), bool):
            problems.append('"deactivate_user" must be true or false')
        if self.spec.get("lookup", "auto") not in LOOKUPS:
            problems.append(f'"lookup" must be one of {", ".join(LOOKUPS)}')
        return problems

    def describe(self, ctx: RunContext, record: Record) -> str:
        """Reading a role changes nothing in Lever."""
        return f"would read the role of {record.user.external_id} from Lever"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Look the user up, then store its role (or deactivate the record)."""
        wrong = self.wrong_app(record)
        if wrong is not None:
            return wrong
        try:
            found = self._lookup(ctx, record)
        except ConnectorError as exc:
            return failure_of(exc)
        if isinstance(found, _Unreadable):
            return Result.failure(f"Lever's user list could not be read: {found.error}",
                                  found.error.status)  # fmt: skip
        return self._apply(ctx, record, found)

    # -- looking users up -------------------------------------------------------------------

    def _per_record(self, ctx: RunContext) -> bool:
        """Whether to read users one at a time rather than the whole list once."""
        return self.spec.get("lookup", "auto") == "each" or ctx.record_count <= 1

    def _lookup(self, ctx: RunContext, record: Record) -> LeverUser | _Unreadable | None:
        """The Lever user of the record, None when Lever has none."""
        external_id = record.user.external_id
        if self._per_record(ctx):
            return self._get(ctx, external_id)
        users = ctx.cache.get(self._cache_key)
        if users is None:
            users = ctx.cache[self._cache_key] = self._read_list(ctx)
        return users if isinstance(users, _Unreadable) else users.get(external_id)

    @property
    def _cache_key(self) -> tuple[str, str]:
        """Where a run keeps the user list read with this block's credential."""
        return ("lever_users", self.credential)

    def _get(self, ctx: RunContext, external_id: str) -> LeverUser | None:
        """One user with GET /users/{id}; None on Lever's 404."""
        client = ctx.lever.client(self.credential)
        try:
            return LeverUser.of(call_lever(lambda: client.get_user(external_id)))
        except LeverNotFoundError:
            return None

    def _read_list(self, ctx: RunContext) -> dict[str, LeverUser] | _Unreadable:
        """Every Lever user by id, deactivated ones too, retried under the block's policy."""
        policy = self.spec.retry
        for attempt in range(1, policy.tries + 1):
            try:
                return call_lever(lambda: self._list_once(ctx))
            except ConnectorError as exc:
                if not is_retryable(exc) or attempt == policy.tries:
                    return _Unreadable(exc)
                ctx.sleep(policy.delay(attempt))
        raise AssertionError("unreachable: the last attempt returns")

    def _list_once(self, ctx: RunContext) -> dict[str, LeverUser]:
        """One complete read of Lever's user list."""
        client = ctx.lever.client(self.credential)
        return {
            raw["id"]: LeverUser.of(raw)
            for page in client.iter_user_pages()
            for raw in page
            if isinstance(raw, dict) and isinstance(raw.get("id"), str)
        }

    # -- storing what was found -------------------------------------------------------------

    def _apply(self, ctx: RunContext, record: Record, found: LeverUser | None) -> Result:
        """Store the role, or deactivate the record, as Lever's answer says."""
        if found is None:
            return self._missing(ctx, record)
        user, verb = record.user, "would set" if ctx.dry_run else "set"
        notes = [
            f"role {found.role!r}" if user.role == found.role else f"{verb} role {found.role!r}"
        ]
        if not ctx.dry_run:
            set_fields(ctx.session, user, {"role": found.role}, ctx.now)
        if found.deactivated_ms is not None and self.deactivate_user:
            notes.append(self._deactivate(ctx, record, from_ms(found.deactivated_ms), "in Lever"))
        return Result.success("; ".join(notes), 200)

    def _missing(self, ctx: RunContext, record: Record) -> Result:
        """Lever has no such user: deactivate the record, or fail when that option is off."""
        external_id = record.user.external_id
        if not self.deactivate_user:
            return Result.failure(f"Lever has no user {external_id}", 404)
        return Result.success(self._deactivate(ctx, record, None, "not in Lever"), 404)

    def _deactivate(self, ctx: RunContext, record: Record, when: Any, why: str) -> str:
        """Deactivate the record (or say it would be); the words for the step's message."""
        if record.user.status == SaasUserStatus.DEACTIVATED:
            return f"{why}: already deactivated"
        if ctx.dry_run:
            return f"{why}: would deactivate the SaaS user"
        mark_deactivated(ctx.session, record.user, when, ctx.now)
        return f"{why}: deactivated the SaaS user"


def register(registry: Registry) -> None:
    """Register the SaaS User Role block."""
    registry.add_block(SaasUserRole)
