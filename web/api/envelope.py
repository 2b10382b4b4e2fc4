"""The one JSON error shape of the API: `{"error": {"status", "code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

__all__ = ["CODES", "error_response"]

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
}


def error_response(status: int, message: str, details: Any = None) -> Response:
    """An error in the API's one envelope; `details` carries per-field problems, if any."""
    body = {
        "error": {
            "status": status,
            "code": CODES.get(status, "error"),
            "message": " ".join(message.split()),
            "details": details,
        }
    }
    response = jsonify(body)
    response.status_code = status
    return response
