"""Errors of the connector package, grouped by what the caller does with them.

InvsyncError                       (inventory.errors) root of every invsync error
 ├── ConfigError                   (inventory.errors) a user's mistake, exit code 2
 │    ├── ConnectorConfigError     FIX: a connector setting is malformed (base URL, page size…)
 │    │    ├── MappingError        a mapping entry is malformed, or maps a record to unusable values
 │    │    ├── LaunchError         an integration is not ready to leave draft
 │    │    └── NotLaunchedError    an integration is a draft or paused, so it may not sync
 │    ├── ScheduleError            a schedule cannot be used as typed
 │    └── EmailFormatError         an integration's work-email format cannot be used as typed
 └── ConnectorError                root of this package; `.status` is Lever's HTTP status or None
      ├── AlreadyRunningError      a run of the integration is going already (exit code 4)
     ├── NotQueuedError           the waiting run a worker was to start was cancelled meanwhile
      ├── ConnectorConfigError     (also a ConfigError, see above)
      ├── FatalError               STOP: the run cannot go on, exit code 1
      │    ├── LeverAuthError          401: the API key was refused
      │    ├── LeverPermissionError    403: the key may not read or list users
      │    ├── LeverNotFoundError      404: no such path or object (`.path`)
      │    ├── LeverRequestError       any other refused request (`.code`, `.lever_message`)
      │    ├── LeverUnavailableError   429/5xx/network/invalid JSON until the retry budget ran out
      │    └── LeverResponseError      Lever answered with an unexpected shape
      │         └── PaginationError    a repeated `next` token, or a page that is not the envelope
      ├── RetriableError           RETRY: transient (429, 5xx, network, timeout, invalid JSON);
      │                            the client retries these itself, then raises
      │                            LeverUnavailableError
      ├── RecordError              SKIP: one record failed validation (`.key`); note it, carry on
      │    └── HireError           a hire lacks what a person needs (no signed offer, no start
      │                            date): the event fails, naming what to fix in Lever, and
      │                            can be run again
      └── WebhookRefused           401: a webhook's signature, time or token is refused;
           └── WebhookMalformed    400: its body is not Lever's (nothing stored either way)

`http_status` is what invsync's own web app and API answer with: 400 for a setting to fix, 409
for a run already going, and 502 for whatever Lever did (401, 403 and 404 from Lever included:
they are Lever's answers to invsync, not the caller's).

No message, repr or argument ever holds a secret: every message passes through `scrub`.
"""

from __future__ import annotations

from collections.abc import Iterable

from inventory.errors import ConfigError, ExitCode, InvsyncError

REDACTED = "[redacted]"


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with every non-empty secret replaced, so echoed credentials never leak."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _one_line(text: str) -> str:
    """Collapse whitespace runs (newlines included) so a message stays on one line."""
    return " ".join(text.split())


class ConnectorError(InvsyncError):
    """Root of every error the connector raises; the message is safe to show a user."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(
        self, message: str, *, status: int | None = None, secrets: Iterable[str] = ()
    ) -> None:
        super().__init__(_one_line(scrub(message, secrets)))
        self.status = status


class ConnectorConfigError(ConnectorError, ConfigError):
    """A connector setting is malformed; the message names the setting to fix."""

    exit_code = ExitCode.USAGE
    http_status = 400


class MappingError(ConnectorConfigError):
    """A mapping is malformed, or turns a record into values a person cannot hold."""

    exit_code = ExitCode.USAGE
    http_status = 400


class LaunchError(ConnectorConfigError):
    """An integration lacks what it needs to become active."""

    exit_code = ExitCode.USAGE
    http_status = 400


class NotLaunchedError(ConnectorConfigError):
    """An integration is not active, so it may not sync."""

    exit_code = ExitCode.USAGE
    http_status = 400


class AlreadyRunningError(ConnectorError):
    """A run of this integration is going already; a second one is refused (exit code 4)."""

    exit_code = ExitCode.RUNNING
    http_status = 409


class NotQueuedError(ConnectorError):
    """The waiting run a worker was to start is no longer waiting (it was cancelled)."""

    exit_code = ExitCode.FAILED
    http_status = 409


class FatalError(ConnectorError):
    """Stop: the run cannot continue until someone acts on the message."""

    exit_code = ExitCode.FAILED
    http_status = 502


class LeverAuthError(FatalError):
    """Lever refused the API key (HTTP 401)."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(self) -> None:
        super().__init__(
            "Lever API key refused (HTTP 401): check that the credential's username"
            " holds the Lever API key",
            status=401,
        )


class LeverPermissionError(FatalError):
    """The API key is valid but not allowed to do this (HTTP 403)."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(self) -> None:
        super().__init__(
            "Lever API key lacks permission (HTTP 403): the key must be allowed to read and"
            " list users; talk to a Lever Super Admin",
            status=403,
        )


class LeverNotFoundError(FatalError):
    """Lever knows no such path or object (HTTP 404)."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(self, path: str, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(
            f"Lever has nothing at {path} (HTTP 404): check the base URL and the id",
            status=404,
            secrets=secrets,
        )
        self.path = scrub(path, secrets)


class LeverRequestError(FatalError):
    """Lever refused a request for a reason other than auth, permission or a missing object."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(
        self,
        status: int,
        code: str,
        lever_message: str,
        *,
        request: str,
        secrets: Iterable[str] = (),
    ) -> None:
        said = ": ".join(filter(None, (code, lever_message))) or "no details"
        super().__init__(
            f"Lever refused {request} (HTTP {status}, {said})", status=status, secrets=secrets
        )
        self.code = scrub(code, secrets)
        self.lever_message = scrub(lever_message, secrets)


class LeverUnavailableError(FatalError):
    """Lever stayed rate-limited, down or garbled until the retry budget ran out."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(
        self,
        tries: int,
        elapsed: float,
        cause: RetriableError,
        *,
        note: str = "",
        secrets: Iterable[str] = (),
    ) -> None:
        plural = "try" if tries == 1 else "tries"
        super().__init__(
            f"Lever unreachable after {tries} {plural} over {elapsed:.1f} s: {cause}{note}",
            status=cause.status,
            secrets=secrets,
        )
        self.tries = tries


class LeverResponseError(FatalError):
    """Lever answered a request with a body of an unexpected shape."""

    exit_code = ExitCode.FAILED
    http_status = 502


class PaginationError(LeverResponseError):
    """Paging cannot go on safely: a repeated `next` token, or a page that is not the envelope."""

    exit_code = ExitCode.FAILED
    http_status = 502


class RetriableError(ConnectorError):
    """Retry: a transient failure; `retry_after` is Lever's hint in seconds, if any."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = True,
        secrets: Iterable[str] = (),
    ) -> None:
        super().__init__(message, status=status, secrets=secrets)
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied


class RecordError(ConnectorError):
    """Skip: one source record failed validation; `key` names it (email, id or `<unknown>`)."""

    exit_code = ExitCode.FAILED
    http_status = 502

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class ScheduleError(ConfigError):
    """A schedule cannot be used as typed; the message shows how to write it."""

    exit_code = ExitCode.USAGE
    http_status = 400


class EmailFormatError(ConfigError):
    """A work-email format cannot be used as typed; the message shows how to write it."""

    exit_code = ExitCode.USAGE
    http_status = 400


class HireError(RecordError):
    """A hire lacks what a person needs; the message names what to fix in Lever."""

    exit_code = ExitCode.FAILED
    http_status = 502


class WebhookRefused(ConnectorError):
    """A webhook request refused before anything is stored: its signature does not match, its
    time is stale, or its token was seen before."""

    exit_code = ExitCode.FAILED
    http_status = 401


class WebhookMalformed(WebhookRefused):
    """A webhook request whose body is not Lever's webhook body; nothing is stored."""

    exit_code = ExitCode.FAILED
    http_status = 400
