"""Errors of the inventory package, and the project's root error every package builds on.

InvsyncError                 root; its message is one line that names what to fix
 ├── ConfigError             a user's or configuration mistake (exit code 2)
 │    ├── NotFoundError      a named thing (integration, credential…) does not exist
 │    ├── AlreadyExistsError a name is taken
 │    └── RuleError          a rule tree is malformed (unknown op, field or value type)
 └── DatabaseError           the database cannot be reached or is not initialised
"""

from __future__ import annotations


class InvsyncError(Exception):
    """Root of every error invsync raises on purpose; the message is safe to show a user."""

    exit_code = 1


class ConfigError(InvsyncError):
    """A usage or configuration mistake the user can fix."""

    exit_code = 2


class NotFoundError(ConfigError):
    """A named object does not exist."""


class AlreadyExistsError(ConfigError):
    """A name is already in use."""


class RuleError(ConfigError):
    """A rule tree (filter or workflow criteria) is malformed."""


class DatabaseError(InvsyncError):
    """The database cannot be opened or has no schema yet."""

    exit_code = 2


def failure_line(exc: BaseException) -> str:
    """The one line a run that broke off records as its reason: an invsync error says what to fix;
    anything else is named by its type only, since its message may hold internals."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, InvsyncError):
        return " ".join(str(exc).split())
    return f"internal error: {type(exc).__name__}"
