"""Time helpers: aware UTC datetimes in, ISO-8601 UTC text out, Lever's milliseconds converted."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def from_ms(ms: int) -> datetime:
    """Milliseconds since the Unix epoch (Lever's timestamps) to an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC).replace(microsecond=(ms % 1000) * 1000)


def to_ms(dt: datetime) -> int:
    """An aware datetime to milliseconds since the Unix epoch."""
    return int(dt.timestamp()) * 1000 + dt.microsecond // 1000


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC with milliseconds and a Z suffix, or None."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
