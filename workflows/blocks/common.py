"""What the Lever-facing blocks share: credential and preset checks, Lever errors as results,
and the changes they make to SaaS users (through `inventory.records`, which logs each one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from connector.errors import (
    ConnectorError,
    LeverAuthError,
    LeverPermissionError,
    LeverUnavailableError,
    RetriableError,
)
from inventory.models import SaasUser
from inventory.records import set_fields
from inventory.statuses import SaasUserStatus
from workflows.context import Record
from workflows.errors import RunFailed
from workflows.registry import OBJECT_NOUNS, Block, CheckEnv, Preset, Result

__all__ = [
    "PresetBlock",
    "call_lever",
    "failure_of",
    "is_retryable",
    "mark_active",
    "mark_deactivated",
]

T = TypeVar("T")


class PresetBlock(Block):
    """A block that may be filled by a preset and acts with a vault credential."""

    preset_required = True

    @property
    def preset(self) -> Preset | None:
        """The block's preset, if it names a registered one."""
        name = self.spec.get("preset")
        return self.registry.presets.get(name) if isinstance(name, str) else None

    @property
    def credential(self) -> str:
        """The name of the vault credential the block sends."""
        return str(self.spec.get("credential"))

    def check(self, env: CheckEnv) -> list[str]:
        """The preset (when given or required) and the credential must exist."""
        return self._check_preset() + _check_credential(self.spec.get("credential"), env)

    def refusal(self, obj: str) -> str | None:
        """The block type's refusal, else the preset's: a Lever preset acts on Lever users."""
        refused = super().refusal(obj)
        preset = self.preset
        if refused is not None or preset is None or obj in preset.objects:
            return refused
        instead = "" if self.preset_required else ' (send a custom "request" instead)'
        return (f"preset {preset.name!r} acts on {preset.vendor} users, so a "
                f"{OBJECT_NOUNS.get(obj, obj)} workflow cannot use it{instead}")  # fmt: skip

    def _check_preset(self) -> list[str]:
        """A preset of this block type, when one is named or required."""
        name = self.spec.get("preset")
        if name is None and not self.preset_required:
            return []
        choices = ", ".join(self.registry.presets_for(self.type)) or "none registered"
        if name is None:
            return [f'needs a "preset" (one of {choices})']
        preset = self.preset
        if preset is None or preset.block_type != self.type:
            return [f"unknown preset {name!r} for block type {self.type!r} (use one of {choices})"]
        return []

    def wrong_app(self, record: Record) -> Result | None:
        """A failure when the record is not an account of the preset's vendor, else None."""
        preset = self.preset
        if preset is not None and record.app.casefold() != preset.vendor.casefold():
            return Result.failure(f"not a {preset.vendor} account (app {record.app!r})")
        return None


def _check_credential(name: Any, env: CheckEnv) -> list[str]:
    """The credential is named, and stored in the vault when the vault is known."""
    if not isinstance(name, str) or not name:
        return ['needs a "credential" (the name of a vault credential, such as "lever-key")']
    if env.credentials is not None and name not in env.credentials:
        return [
            f"credential {name!r} is not in the vault "
            f"(add it with `invsync vault add {name} --username KEY`)"
        ]
    return []


def is_retryable(exc: ConnectorError) -> bool:
    """Whether a block's retry policy applies: Lever stayed unavailable, or a transient failure."""
    return isinstance(exc, LeverUnavailableError | RetriableError)


def failure_of(exc: ConnectorError) -> Result:
    """A failure result carrying the error's one-line, secret-free message and status."""
    return Result.failure(str(exc), exc.status, retryable=is_retryable(exc))


def call_lever(call: Callable[[], T]) -> T:
    """Run a Lever call; a refused key or missing permission stops the run, for every record."""
    try:
        return call()
    except (LeverAuthError, LeverPermissionError) as exc:
        raise RunFailed(str(exc)) from None


def mark_deactivated(
    session: Session, user: SaasUser, when: datetime | None, now: datetime
) -> bool:
    """Make the SaaS user deactivated (keeping a known deactivation time); True if it changed."""
    values: dict[str, Any] = {"status": SaasUserStatus.DEACTIVATED}
    if when is not None:
        values["deactivated_at"] = when
    elif user.deactivated_at is None:
        values["deactivated_at"] = now
    return set_fields(session, user, values, now)


def mark_active(session: Session, user: SaasUser, now: datetime) -> bool:
    """Make the SaaS user active again; True if it changed."""
    values = {"status": SaasUserStatus.ACTIVE, "deactivated_at": None}
    return set_fields(session, user, values, now)
