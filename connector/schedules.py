"""Schedules of integrations: check what a user typed, build the trigger, find the next run.

A schedule is one of:
- `daily HH:MM` in a time zone (every launched integration starts at daily 02:00 UTC);
- `every N` with a unit of s, m, h or d (`30s`, `15m`, `6h`, `1d`), counted from midnight of
  2000-01-01 in the time zone, so every process agrees on when the next run is;
- `cron "minute hour day-of-month month day-of-week"` in a time zone, read as crontab reads it
  (0 or 7 is Sunday; a day-of-month and a day-of-week both given mean either day).

Wall-clock schedules follow the zone's daylight-saving rules: a time the clocks skip runs as much
later as they jumped, and a time that happens twice runs once, the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connector.errors import NotLaunchedError, ScheduleError
from inventory.models import Integration
from inventory.timeutil import utcnow

__all__ = [
    "DEFAULT",
    "KINDS",
    "ScheduleError",
    "ScheduleSpec",
    "WallClockTrigger",
    "change",
    "describe",
    "ensure_default",
    "next_run",
    "of",
    "parse",
    "runs_on_schedule",
    "schedule_dict",
    "text",
    "trigger",
    "zone",
]

KINDS = ("daily", "every", "cron")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_EVERY = 366 * 86400
_DAILY = re.compile(r"^(\d{1,2}):(\d{2})$")
_EVERY = re.compile(r"^(\d+)\s*([smhd])$", re.IGNORECASE)
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_APS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DOW_ITEM = re.compile(r"^(\*|\w+(?:-\w+)?)(?:/(\d+))?$")
_MAX_SKIPS = 8


@dataclass(frozen=True)
class ScheduleSpec:
    """A checked schedule: kind, normalised expression, IANA time zone, paused or not."""

    kind: str
    expression: str
    tz: str = "UTC"
    paused: bool = False


DEFAULT = ScheduleSpec("daily", "02:00", "UTC")


# -- reading what a user typed -----------------------------------------------------------------


def parse(kind: str, expression: str, tz: str = "UTC", paused: bool = False) -> ScheduleSpec:
    """A checked, normalised schedule, or a ScheduleError naming what to fix."""
    zone(tz)
    if kind == "daily":
        return ScheduleSpec(kind, _parse_daily(expression), tz, paused)
    if kind == "every":
        return ScheduleSpec(kind, _parse_every(expression), tz, paused)
    if kind == "cron":
        text = " ".join(expression.split())
        _cron_trigger(text, zone(tz))
        return ScheduleSpec(kind, text, tz, paused)
    raise ScheduleError(f"unknown schedule kind {kind!r}: use daily, every or cron")


def zone(name: str) -> tzinfo:
    """The time zone of an IANA name such as Europe/Berlin, or a ScheduleError."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin or UTC"
        ) from None


def _parse_daily(text: str) -> str:
    """`H:MM` or `HH:MM` from 00:00 to 23:59, returned as `HH:MM`."""
    match = _DAILY.match(text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(
            f"--daily {text!r} is not a time of day: give HH:MM from 00:00 to 23:59, e.g. 02:00"
        )
    return f"{int(match[1]):02d}:{match[2]}"


def _parse_every(text: str) -> str:
    """`N` followed by s, m, h or d, at least one second and at most 366 days."""
    match = _EVERY.match(text.strip())
    if not match:
        raise ScheduleError(
            f"--every {text!r} is not an interval: give a number and a unit s, m, h or d, "
            "e.g. 30m or 6h"
        )
    count, unit = int(match[1]), match[2].lower()
    if not 1 <= count * UNITS[unit] <= MAX_EVERY:
        raise ScheduleError(f"--every {text!r}: the interval must be from 1s to 366d")
    return f"{count}{unit}"


def _every_seconds(expression: str) -> int:
    """The length of a normalised `every` interval in seconds."""
    return int(expression[:-1]) * UNITS[expression[-1]]


# -- crontab lines -----------------------------------------------------------------------------


def _cron_trigger(text: str, tz: tzinfo) -> BaseTrigger:
    """The trigger of a crontab line, with crontab's weekdays and either-day rule."""
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"--cron {text!r} needs 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}"
        )
    minute, hour, day, month, dow = fields
    try:
        days = _aps_weekdays(dow)
        if day.startswith("*") or dow.startswith("*"):
            return _cron(minute, hour, day, month, days, tz)
        by_date = _cron(minute, hour, day, month, "*", tz)
        return OrTrigger([by_date, _cron(minute, hour, "*", month, days, tz)])
    except ValueError as exc:
        raise ScheduleError(f"--cron {text!r} is not a valid crontab line: {exc}") from None


def _cron(minute: str, hour: str, day: str, month: str, dow: str, tz: tzinfo) -> CronTrigger:
    """One CronTrigger of crontab fields, weekdays already in APScheduler's names."""
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=tz)


def _aps_weekdays(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler's weekday names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.lower().split(","):
        days |= _cron_days(item)
    return ",".join(_CRON_DAYS[d] for d in sorted(days, key=lambda d: (d + 6) % 7))


def _cron_days(item: str) -> set[int]:
    """The crontab day numbers (0 = Sunday) of one item: `*`, `N`, `A-B`, names, `/STEP`."""
    match = _DOW_ITEM.match(item)
    if not match:
        raise ValueError(f"day-of-week {item!r} is not understood")
    span, step = match[1], int(match[2] or 1)
    first, _, last = span.partition("-")
    low, high = (0, 6) if span == "*" else (_cron_day(first), _cron_day(last or first))
    if match[2] and not last and span != "*":
        high = 6
    if low > high or step < 1:
        raise ValueError(f"day-of-week range {item!r} runs backwards or has a zero step")
    return {d % 7 for d in range(low, high + 1, step)}


def _cron_day(text: str) -> int:
    """One crontab weekday, a number 0-7 or a name sun..sat, as a number (7 kept for ranges)."""
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text in _CRON_DAYS:
        return _CRON_DAYS.index(text)
    raise ValueError(f"day of week {text!r} is not 0-7 or sun..sat")


# -- triggers and the next run -----------------------------------------------------------------


class WallClockTrigger(BaseTrigger):
    """Fires at local times once each across daylight-saving changes: skipped times run shifted
    by the jump, and a repeated time runs only at its first occurrence."""

    def __init__(self, inner: BaseTrigger, tz: tzinfo) -> None:
        self.inner, self.tz = inner, tz

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The next fire time of the inner trigger that is not a repeat of a local time."""
        candidate = self.inner.get_next_fire_time(previous_fire_time, now)
        for _ in range(_MAX_SKIPS):
            if candidate is None:
                return None
            fixed = datetime.fromtimestamp(candidate.timestamp(), self.tz)
            if not _second_occurrence(fixed):
                return fixed
            candidate = self.inner.get_next_fire_time(candidate, candidate)
        return None

    def __str__(self) -> str:
        return str(self.inner)

    def __repr__(self) -> str:
        return f"<WallClockTrigger ({self.inner!r})>"


def _second_occurrence(local: datetime) -> bool:
    """Whether a local time is the repeat of one the clocks already showed (fall back)."""
    return local.replace(fold=0).timestamp() != local.timestamp()


def trigger(spec: ScheduleSpec) -> BaseTrigger:
    """The APScheduler trigger of a schedule."""
    tz = zone(spec.tz)
    if spec.kind == "every":
        start = datetime(2000, 1, 1, tzinfo=tz)
        seconds = _every_seconds(spec.expression)
        return IntervalTrigger(seconds=seconds, start_date=start, timezone=tz)
    if spec.kind == "daily":
        hour, minute = spec.expression.split(":")
        return WallClockTrigger(CronTrigger(hour=hour, minute=minute, timezone=tz), tz)
    if spec.kind == "cron":
        return WallClockTrigger(_cron_trigger(spec.expression, tz), tz)
    raise ScheduleError(f"unknown schedule kind {spec.kind!r}: use daily, every or cron")


def next_run(spec: ScheduleSpec, now: datetime) -> datetime | None:
    """When the schedule runs next after `now`, in its time zone; None when paused."""
    if spec.paused:
        return None
    fire = trigger(spec).get_next_fire_time(None, now)
    return None if fire is None else fire.astimezone(zone(spec.tz))


def describe(spec: ScheduleSpec) -> str:
    """A schedule in words, such as `daily at 02:00 (Europe/Berlin)`."""
    if spec.kind == "daily":
        text = f"daily at {spec.expression} ({spec.tz})"
    elif spec.kind == "every":
        text = f"every {spec.expression}"
    else:
        text = f"cron {spec.expression!r} ({spec.tz})"
    return text + (", paused" if spec.paused else "")


# -- integrations ------------------------------------------------------------------------------


def of(integ: Integration) -> ScheduleSpec:
    """An integration's stored schedule (unchecked)."""
    return ScheduleSpec(
        integ.schedule_kind or DEFAULT.kind,
        integ.schedule_expr or DEFAULT.expression,
        integ.schedule_tz or DEFAULT.tz,
        bool(integ.schedule_paused),
    )


def _store(integ: Integration, spec: ScheduleSpec) -> None:
    """Write a schedule onto an integration."""
    integ.schedule_kind, integ.schedule_expr = spec.kind, spec.expression
    integ.schedule_tz, integ.schedule_paused = spec.tz, spec.paused
    integ.updated_at = utcnow()


def ensure_default(integ: Integration) -> None:
    """Give an integration the default schedule unless it has one (launch keeps what is set)."""
    if not (integ.schedule_kind and integ.schedule_expr and integ.schedule_tz):
        _store(integ, ScheduleSpec(DEFAULT.kind, DEFAULT.expression, DEFAULT.tz, False))


def change(
    integ: Integration,
    *,
    kind: str | None = None,
    expression: str | None = None,
    tz: str | None = None,
    paused: bool | None = None,
) -> ScheduleSpec:
    """Change an integration's schedule, its time zone, or pause or resume it; drafts refuse."""
    if integ.state == "draft":
        raise NotLaunchedError(
            f"integration {integ.name!r} is a draft: launch it first "
            f"(`invsync integration launch {integ.name}`), then schedule it"
        )
    current = of(integ)
    spec = parse(
        kind or current.kind,
        expression if kind and expression is not None else current.expression,
        tz or current.tz,
        current.paused if paused is None else paused,
    )
    _store(integ, spec)
    return spec


def runs_on_schedule(integ: Integration) -> bool:
    """Whether an integration's schedule starts runs: it is active and its schedule unpaused."""
    return integ.state == "active" and not integ.schedule_paused


def schedule_dict(integ: Integration, now: datetime | None = None) -> dict[str, Any]:
    """The schedule as JSON; `next_run_at` carries the zone's offset, null when nothing runs."""
    spec = of(integ)
    return {
        "kind": spec.kind,
        "expression": spec.expression,
        "tz": spec.tz,
        "paused": spec.paused,
        "next_run_at": _next_run_text(integ, spec, now or utcnow()),
    }


def text(integ: Integration, now: datetime | None = None) -> str:
    """The schedule in words with its next run, as `integration show` prints it."""
    spec, when = of(integ), schedule_dict(integ, now)["next_run_at"]
    if when:
        return f"{describe(spec)}; next run {when}"
    if integ.state == "draft":
        return f"{describe(spec)}; no runs until launched"
    if integ.state != "active":
        return f"{describe(spec)}; no runs while the integration is {integ.state}"
    return describe(spec)


def _next_run_text(integ: Integration, spec: ScheduleSpec, now: datetime) -> str | None:
    """ISO-8601 of the next run with the zone's offset, or None when none is coming."""
    if not runs_on_schedule(integ):
        return None
    try:
        fire = next_run(spec, now)
    except ScheduleError:
        return None
    return None if fire is None else fire.isoformat(timespec="seconds")
