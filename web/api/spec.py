"""How an API view describes itself and reads its input: one mark feeds the OpenAPI document.

`@operation(...)` records the request and response schemas of a view; `web.api.openapi` walks
the URL map and turns every mark into an operation of the document, so a view cannot be served
without being documented (a test checks that). `body()` and `query()` load the request through
the same schemas; a marshmallow ValidationError becomes a 422 envelope (see `web.api.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from marshmallow import Schema, fields
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

__all__ = ["Operation", "body", "check_text", "operation", "operation_of", "query"]

F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "invsync_operation"
SchemaRef = type[Schema] | None
# An answer that is one of several shapes (documented as `oneOf`).
Answers = SchemaRef | tuple[type[Schema], ...]


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one view."""

    tag: str
    responses: Mapping[int, Answers]
    body: SchemaRef = None
    query: SchemaRef = None
    errors: tuple[int, ...] = ()
    headers: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    body_optional: bool = False


def operation(
    tag: str,
    response: SchemaRef = None,
    *,
    status: int = 200,
    responses: Mapping[int, Answers] | None = None,
    body: SchemaRef = None,
    query: SchemaRef = None,
    errors: tuple[int, ...] = (),
    headers: Mapping[int, tuple[str, ...]] | None = None,
    body_optional: bool = False,
) -> Callable[[F], F]:
    """Mark a view with its tag, schemas, success status(es) and the errors it may answer."""
    found = dict(responses) if responses is not None else {status: response}
    op = Operation(tag, found, body, query, errors, dict(headers or {}), body_optional)

    def mark(view: F) -> F:
        setattr(view, _ATTR, op)
        return view

    return mark


def operation_of(view: Callable[..., Any]) -> Operation | None:
    """The mark of a view, if it has one."""
    return getattr(view, _ATTR, None)


def body(schema: Schema, *, optional: bool = False) -> Any:
    """The request's JSON body loaded by `schema`; an empty optional body loads as `{}`."""
    if optional and not request.get_data(cache=True):
        return schema.load({})
    return schema.load(_json())


def _json() -> Any:
    """The parsed JSON body: 415 unless it is sent as JSON, 400 when it does not parse."""
    if not request.is_json:
        raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")
    try:
        data = request.get_json()
    except BadRequest:
        raise BadRequest("the body is not valid JSON") from None
    check_text(data)
    return data


def check_text(value: Any) -> None:
    """Refuse text no database can store: NUL characters and unpaired surrogates (400)."""
    if isinstance(value, str):
        if "\x00" in value or not _encodes(value):
            raise BadRequest("text must be valid UTF-8 without NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    elif isinstance(value, list):
        for item in value:
            check_text(item)


def _encodes(text: str) -> bool:
    """Whether the text is valid UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def query(schema: Schema) -> dict[str, Any]:
    """The query string loaded by `schema`; list fields take every value of a repeated key."""
    return dict(schema.load(_args(schema.fields)))


def _args(known: Mapping[str, fields.Field]) -> dict[str, Any]:
    """The query string as a dict: a list for list fields, else the single (last) value."""
    raw: dict[str, Any] = {}
    for key, values in request.args.lists():
        is_list = isinstance(known.get(key), fields.List)
        raw[key] = values if is_list else values[-1]
    return raw
