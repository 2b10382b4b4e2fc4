"""Which integrations and workflows send a vault credential, so a credential in use is never
deleted from under them and the credentials page can say where each one is used."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.errors import ConfigError
from inventory.models import Integration, Workflow

__all__ = ["Usage", "require_unused", "usage", "usage_by_credential"]


@dataclass
class Usage:
    """The names of the integrations and workflows that use one credential."""

    integrations: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.integrations or self.workflows)

    def describe(self) -> str:
        """The users in words, e.g. `integration 'lever' and workflow 'Role'`."""
        parts = [f"integration {n!r}" for n in self.integrations]
        parts += [f"workflow {n!r}" for n in self.workflows]
        return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def usage_by_credential(session: Session) -> dict[str, Usage]:
    """Every credential name in use, with its integrations and workflows (each list by name)."""
    found: dict[str, Usage] = {}
    rows = session.execute(
        select(Integration.name, Integration.credential_name).order_by(Integration.name)
    )
    for name, credential in rows:
        found.setdefault(credential, Usage()).integrations.append(name)
    for name, definition in session.execute(
        select(Workflow.name, Workflow.definition).order_by(Workflow.name)
    ):
        for credential in sorted(_credentials_of(definition)):
            found.setdefault(credential, Usage()).workflows.append(name)
    return found


def usage(session: Session, credential: str) -> Usage:
    """The integrations and workflows that use one credential."""
    return usage_by_credential(session).get(credential, Usage())


def require_unused(session: Session, credential: str) -> None:
    """Refuse, in one line naming the users, to remove a credential something still sends."""
    users = usage(session, credential)
    if users:
        raise ConfigError(
            f"credential {credential!r} is used by {users.describe()}: "
            "point them at another credential (or delete them) first"
        )


def _credentials_of(definition: Any) -> set[str]:
    """The credential names the blocks of a stored workflow definition send."""
    blocks = definition.get("blocks") if isinstance(definition, Mapping) else None
    if not isinstance(blocks, Iterable):
        return set()
    names = (b.get("credential") for b in blocks if isinstance(b, Mapping))
    return {n for n in names if isinstance(n, str) and n}
