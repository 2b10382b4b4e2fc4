"""Lever's cursor paging, shared by every list endpoint: page tokens, page size, the envelope."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

from connector.lever.sim.params import Query, first
from connector.lever.sim.responses import bad_request, to_json

Key = tuple[int, str]
_BAD_OFFSET = "Invalid offset token: Offset token is invalid for sort"


def encode_offset(key: Key) -> str:
    """Lever's page token: a percent-encoded JSON array [createdAtMs, "id"]."""
    return quote(json.dumps(list(key), separators=(",", ":")), safe="")


def decode_offset(token: str) -> Key:
    """The (createdAt, id) a token points after, whether it arrives raw, once or twice encoded."""
    text = token
    for _ in range(3):
        if text.startswith("["):
            break
        text = unquote(text)
    try:
        value = json.loads(text)
    except ValueError:
        raise bad_request(_BAD_OFFSET) from None
    if not (isinstance(value, list) and len(value) == 2 and type(value[0]) is int):
        raise bad_request(_BAD_OFFSET)
    if not isinstance(value[1], str):
        raise bad_request(_BAD_OFFSET)
    return value[0], value[1]


def page_limit(query: Query) -> int:
    """The page size: 1-100, 100 when absent."""
    value = first(query, "limit")
    if value is None:
        return 100
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise bad_request("Invalid limit: must be an integer between 1 and 100")
    return int(value)


def page_offset(query: Query) -> Key | None:
    """The position after which the page starts, or None for the first page."""
    token = first(query, "offset")
    return decode_offset(token) if token else None


def envelope(records: list[bytes], has_next: bool, last: Key | None) -> bytes:
    """The list envelope around encoded records; `next` is left out on the last page."""
    tail = b""
    if has_next and last is not None:
        tail = b',"next":' + to_json(encode_offset(last))
    flag = b"true" if has_next else b"false"
    return b'{"data":[' + b",".join(records) + b'],"hasNext":' + flag + tail + b"}"
