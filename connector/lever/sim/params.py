"""Reading a request the way Lever does: query parameters, `include=` and JSON bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.lever.sim.responses import bad_request

Query = dict[str, list[str]]


def first(query: Query, name: str) -> str | None:
    """The first value of a query parameter, if given."""
    values = query.get(name)
    return values[0] if values else None


def flag(query: Query, name: str) -> bool:
    """A boolean parameter, read the way clients in the wild send it (true/True/1)."""
    value = first(query, name)
    if value is None or value.lower() in ("", "false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise bad_request(f"Invalid value for {name}: expected true or false")


def multi(query: Query, *names: str) -> list[str]:
    """All values of a repeatable parameter, also accepting comma-separated lists."""
    return [v for n in names for raw in query.get(n, []) for v in raw.split(",") if v]


def ms_param(query: Query, name: str) -> int | None:
    """An optional millisecond timestamp parameter."""
    value = first(query, name)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise bad_request(f"Invalid {name}: expected milliseconds since the epoch")
    return int(value)


def project(record: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    """`include=`: only the asked fields, plus id."""
    if not fields:
        return dict(record)
    return {"id": record.get("id"), **{f: record[f] for f in fields if f in record}}


def json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad_request("Request body must be valid JSON") from None
    if not isinstance(value, dict):
        raise bad_request("Request body must be a JSON object")
    return value


def required_text(body: Mapping[str, Any], name: str) -> str:
    """A required, non-empty string field of a request body."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"Missing required field: {name}")
    return value


def optional_text(body: Mapping[str, Any], name: str) -> str | None:
    """An optional string field of a request body (null or absent means none)."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"Invalid {name}: expected a string")
    return value
