"""What the simulator sends back: responses, errors in Lever's shape and Lever's compact JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass
class SimResponse:
    """What the server should send back (or, for faults, not send)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    drop: bool = False
    delay: float = 0.0


class ApiError(Exception):
    """An error answer in Lever's shape: an HTTP status and a {code, message} body."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> SimResponse:
        """This error as a JSON response."""
        return SimResponse(
            self.status, to_json({"code": self.code, "message": self.message}), self.headers
        )


def bad_request(message: str) -> ApiError:
    """A 400 in Lever's shape."""
    return ApiError(400, "BadRequestError", message)


def not_found(message: str = "User not found", code: str = "ResourceNotFound") -> ApiError:
    """A 404 in Lever's shape."""
    return ApiError(404, code, message)


def to_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (as Lever sends it)."""
    return _ENCODER.encode(payload).encode("utf-8")
