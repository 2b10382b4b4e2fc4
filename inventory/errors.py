"""Errors of the inventory package, and the project's root error every package builds on.

InvsyncError                 root; its message is one line that names what to fix (exit 1, 500)
 ├── ConfigError             a user's or configuration mistake (exit 2, HTTP 400)
 │    ├── NotFoundError      a named thing (integration, credential…) does not exist (404)
 │    ├── AlreadyExistsError a name is taken (409)
 │    └── RuleError          a rule tree is malformed (unknown op, field or value type) (400)
 └── DatabaseError           the database cannot be reached or is not initialised (exit 2, 400)

Every error class states its own `exit_code` (an `ExitCode`, what the command line exits with)
and `http_status` (what the web app and the API answer with), so neither is ever inferred.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of the `invsync` command line, in one place."""

    OK = 0
    FAILED = 1
    USAGE = 2
    RECORD_ERRORS = 3
    RUNNING = 4
    INTERRUPTED = 130


class InvsyncError(Exception):
    """Root of every error invsync raises on purpose; the message is safe to show a user."""

    exit_code: ExitCode = ExitCode.FAILED
    http_status: int = 500


class ConfigError(InvsyncError):
    """A usage or configuration mistake the user can fix."""

    exit_code = ExitCode.USAGE
    http_status = 400


class NotFoundError(ConfigError):
    """A named object does not exist."""

    exit_code = ExitCode.USAGE
    http_status = 404


class AlreadyExistsError(ConfigError):
    """A name is already in use."""

    exit_code = ExitCode.USAGE
    http_status = 409


class RuleError(ConfigError):
    """A rule tree (filter or workflow criteria) is malformed."""

    exit_code = ExitCode.USAGE
    http_status = 400


class DatabaseError(InvsyncError):
    """The database cannot be opened or has no schema yet."""

    exit_code = ExitCode.USAGE
    http_status = 400


def failure_line(exc: BaseException) -> str:
    """The one line a run that broke off records as its reason: an invsync error says what to fix;
    anything else is named by its type only, since its message may hold internals."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, InvsyncError):
        return " ".join(str(exc).split())
    return f"internal error: {type(exc).__name__}"
