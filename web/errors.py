"""Errors of the web shell: sign-in, permissions and request mistakes (all exit code 2).

InvsyncError (inventory.errors)
 ├── ConfigError
 │    ├── AccountError        an account or token request is invalid (name taken…) (HTTP 400)
 │    └── HookClosedError     a webhook came for an integration that is a draft or paused (409)
 └── AuthError               not signed in, or a wrong name, password or token (HTTP 401)
      ├── LoginThrottledError too many failed sign-ins for a name; says when to try again (429)
      └── ForbiddenError      signed in, but the role does not allow it (HTTP 403)
"""

from __future__ import annotations

from inventory.errors import ConfigError, ExitCode, InvsyncError


class AccountError(ConfigError):
    """An account or token request a user can fix (name taken, unknown role, short password)."""

    exit_code = ExitCode.USAGE
    http_status = 400


class AuthError(InvsyncError):
    """Not signed in, or the name, password or token is wrong; never says which."""

    exit_code = ExitCode.USAGE
    http_status = 401


class LoginThrottledError(AuthError):
    """Too many failed sign-ins for one name: wait, then try again."""

    exit_code = ExitCode.USAGE
    http_status = 429


class ForbiddenError(AuthError):
    """The account's role does not allow this."""

    exit_code = ExitCode.USAGE
    http_status = 403


class HookClosedError(ConfigError):
    """A webhook for an integration that does not take events now (a draft, or paused)."""

    exit_code = ExitCode.USAGE
    http_status = 409
