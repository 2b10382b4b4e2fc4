"""Who may call: HTTP Basic with the account's API key, and the scopes the key is granted."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Container

from connector.lever.sim.responses import ApiError

_FORBIDDEN = "This API key is not allowed to do that. Talk to a Super Admin about its permissions."


def parse_basic(header: str | None) -> str | None:
    """The username (Lever's API key) of an HTTP Basic header; the password is ignored."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0]


def authenticate(authorization: str | None, api_key: str) -> str:
    """The API key of a valid Basic header, or Lever's 401."""
    key = parse_basic(authorization)
    if key is None or not hmac.compare_digest(key.encode(), api_key.encode()):
        raise ApiError(401, "UnauthorizedError", "Invalid API key")
    return key


def check_scope(scope: str, permissions: Container[str]) -> None:
    """Nothing when the key holds the scope an endpoint needs, else Lever's 403."""
    if scope not in permissions:
        raise ApiError(403, "ForbiddenError", _FORBIDDEN)
