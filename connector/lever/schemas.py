"""Validation of Lever user records: Lever's camelCase keys in, typed values out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields

from connector.errors import RecordError
from inventory.timeutil import from_ms

__all__ = ["LeverUserSchema", "load_user"]

# 9999-12-31T23:59:59.999Z, the last instant a datetime can hold.
MAX_MS = 253_402_300_799_999


class Milliseconds(fields.Field):
    """Lever's integer milliseconds since the Unix epoch, loaded as an aware UTC datetime."""

    default_error_messages = {  # noqa: RUF012 - marshmallow merges this class attribute
        "invalid": "Not an integer number of milliseconds.",
        "range": "Milliseconds out of range.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        """Reject bools, strings and floats, which would hide a unit or type mistake."""
        if type(value) is not int:
            raise self.make_error("invalid")
        if not 0 <= value <= MAX_MS:
            raise self.make_error("range")
        return from_ms(value)


class Identifier(fields.String):
    """A non-blank string id."""

    default_error_messages = {"blank": "Must not be blank."}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        """Refuse an empty or all-whitespace id, which could match nothing or anything."""
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise self.make_error("blank")
        return text


class Email(fields.String):
    """An email address: a string holding an "@", surrounding whitespace stripped."""

    default_error_messages = {"no_at": "Not an email address."}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        """Strip, then insist on the "@" every address has."""
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if "@" not in text:
            raise self.make_error("no_at")
        return text


class LenientMilliseconds(Milliseconds):
    """A time that only informs (creation, last login): a value that cannot be read loads as
    None, so one odd field never keeps an account out of the inventory."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        """Lever's milliseconds as a datetime, or None when they are not a valid time."""
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            return None


def _optional(field: type[fields.Field], **kwargs: Any) -> Any:
    """An optional field: missing or null both load as None."""
    return field(load_default=None, allow_none=True, **kwargs)


class LeverUserSchema(Schema):
    """One Lever user; unknown keys are kept as they are, for custom mappings.

    Only what identifies the account is strict: `id`, `email`, and `deactivatedAt` (it decides
    whether the account is active, so a value that cannot be read is an error rather than a
    guess). Text fields take any JSON value, stored in the sync's stable text form; a creation
    or last-login time that cannot be read loads as None.
    """

    class Meta:
        unknown = INCLUDE

    id = Identifier(required=True)
    email = Email(required=True)
    name = _optional(fields.Raw)
    username = _optional(fields.Raw)
    accessRole = _optional(fields.Raw)
    photo = _optional(fields.Raw)
    externalDirectoryId = _optional(fields.Raw)
    jobTitle = _optional(fields.Raw)
    managerId = _optional(fields.Raw)
    linkedContactIds = _optional(fields.Raw)
    createdAt = _optional(LenientMilliseconds)
    deactivatedAt = _optional(Milliseconds)
    lastLoggedInAt = _optional(LenientMilliseconds)


_SCHEMA = LeverUserSchema()
_TEXT = ("name", "username", "accessRole", "photo", "externalDirectoryId", "jobTitle", "managerId")
_TIMES = ("createdAt", "deactivatedAt", "lastLoggedInAt")
_STRICT_TIMES = frozenset({"deactivatedAt"})


def load_user(raw: Any) -> dict[str, Any]:
    """Validate one raw Lever user; a bad record raises RecordError naming the record and field.

    Records of the usual shape are checked by `_fast`, which accepts only what the schema
    accepts and returns what it returns; anything else goes to the schema, which decides and
    words the error. Syncs validate every record, so the common case must be cheap.
    """
    if not isinstance(raw, Mapping):
        raise RecordError("<unknown>", "record: Not a JSON object.")
    loaded = _fast(raw)
    if loaded is not None:
        return loaded
    try:
        return _SCHEMA.load(raw)
    except ValidationError as exc:
        raise RecordError(record_key(raw), _describe(exc.messages)) from None


def _fast(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema's result for a plainly valid record, or None to let the schema decide."""
    uid, email = raw.get("id"), raw.get("email")
    if type(uid) is not str or not uid.strip() or type(email) is not str or "@" not in email:
        return None
    out = dict(raw)
    out["email"] = email.strip()
    for key in _TEXT:
        out.setdefault(key, None)
    for key in _TIMES:
        value = out.get(key)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_MS):
            if key in _STRICT_TIMES:
                return None
            value = None
        out[key] = None if value is None else from_ms(value)
    out.setdefault("linkedContactIds", None)
    return out


def record_key(raw: Mapping[str, Any]) -> str:
    """How to name a record in an error: its email, else its id, else `<unknown>`."""
    for field in ("email", "id"):
        value = raw.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "<unknown>"


def _describe(messages: Any, prefix: str = "") -> str:
    """Marshmallow's nested error messages as one line: `field: message; other.0: message`."""
    if isinstance(messages, dict):
        return "; ".join(_describe(sub, f"{prefix}{key}.") for key, sub in messages.items())
    if isinstance(messages, list):
        return f"{prefix.rstrip('.')}: {' '.join(map(str, messages))}"
    return f"{prefix.rstrip('.')}: {messages}"
