"""Schedules as users type them: what is accepted, what is refused with which line, and when the
next run is, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector import schedules
from connector.errors import NotLaunchedError
from connector.schedules import ScheduleError, ScheduleSpec, next_run, parse
from inventory.errors import ConfigError
from inventory.models import Integration

NOV_21_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a Saturday


def _integration(state: str = "active", **schedule: object) -> Integration:
    """An integration in memory with the given state and schedule columns."""
    return Integration(name="lever", state=state, **schedule)


def _fires(spec: ScheduleSpec, start: datetime, count: int) -> list[str]:
    """The next `count` fire times after `start`, as ISO-8601 with offsets."""
    trigger, fire, out = schedules.trigger(spec), None, []
    for _ in range(count):
        fire = trigger.get_next_fire_time(fire, fire or start)
        assert fire is not None
        out.append(fire.isoformat())
    return out


@pytest.mark.parametrize(
    ("kind", "typed", "tz", "stored"),
    [
        ("daily", "02:00", "UTC", "02:00"),
        ("daily", "7:05", "Europe/Berlin", "07:05"),
        ("daily", " 23:59 ", "Asia/Kolkata", "23:59"),
        ("every", "2s", "UTC", "2s"),
        ("every", "15M", "UTC", "15m"),
        ("every", "6 h", "UTC", "6h"),
        ("every", "1d", "UTC", "1d"),
        ("every", "366d", "UTC", "366d"),
        ("cron", "0 6 * * 1-5", "America/New_York", "0 6 * * 1-5"),
        ("cron", "  */15   9-17 * * mon-fri ", "UTC", "*/15 9-17 * * mon-fri"),
        ("cron", "30 2 1 jan,jul 0", "UTC", "30 2 1 jan,jul 0"),
    ],
)
def test_good_schedules_are_stored_normalised(kind: str, typed: str, tz: str, stored: str) -> None:
    assert parse(kind, typed, tz) == ScheduleSpec(kind, stored, tz)


@pytest.mark.parametrize(
    ("kind", "typed", "tz", "message"),
    [
        ("daily", "02:00", "Mars/Olympus_Mons",
         "unknown time zone 'Mars/Olympus_Mons': give an IANA name such as Europe/Berlin or UTC"),
        ("daily", "02:00", "../etc/passwd", "unknown time zone '../etc/passwd'"),
        ("daily", "24:00", "UTC",
         "--daily '24:00' is not a time of day: give HH:MM from 00:00 to 23:59, e.g. 02:00"),
        ("daily", "2pm", "UTC", "--daily '2pm' is not a time of day"),
        ("daily", "12:60", "UTC", "--daily '12:60' is not a time of day"),
        ("every", "0s", "UTC", "--every '0s': the interval must be from 1s to 366d"),
        ("every", "367d", "UTC", "--every '367d': the interval must be from 1s to 366d"),
        ("every", "5w", "UTC",
         "--every '5w' is not an interval: give a number and a unit s, m, h or d, e.g. 30m or 6h"),
        ("every", "-5m", "UTC", "--every '-5m' is not an interval"),
        ("cron", "0 6 * *", "UTC",
         "--cron '0 6 * *' needs 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("cron", "61 6 * * *", "UTC",
         "--cron '61 6 * * *' is not a valid crontab line: Error validating expression '61': "
         "the last value (61) is higher than the maximum value (59)"),
        ("cron", "0 6 * * 8", "UTC",
         "--cron '0 6 * * 8' is not a valid crontab line: day of week '8' is not 0-7 or sun..sat"),
        ("cron", "0 6 * * 5-1", "UTC", "day-of-week range '5-1' runs backwards"),
        ("cron", "0 6 * * funday", "UTC", "day of week 'funday' is not 0-7 or sun..sat"),
        ("cron", "0 6 * * *", "Nowhere/Land", "unknown time zone 'Nowhere/Land'"),
        ("hourly", "1", "UTC", "unknown schedule kind 'hourly': use daily, every or cron"),
    ],
)  # fmt: skip
def test_bad_schedules_are_refused_with_one_line(
    kind: str, typed: str, tz: str, message: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse(kind, typed, tz)
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("kind", "expression", "tz", "now", "expected"),
    [
        # Winter and summer offsets of the same local time.
        ("daily", "02:00", "Europe/Berlin", NOV_21_NOON, "2026-11-22T02:00:00+01:00"),
        ("daily", "02:00", "Europe/Berlin", datetime(2026, 7, 1, 12, tzinfo=UTC),
         "2026-07-02T02:00:00+02:00"),
        # 02:30 does not exist on 2026-03-29 in Berlin: it runs as much later as the clocks jump.
        ("daily", "02:30", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC),
         "2026-03-29T03:30:00+02:00"),
        # 02:30 happens twice on 2026-10-25: after the first one, the next run is the next day.
        ("daily", "02:30", "Europe/Berlin", datetime(2026, 10, 25, 0, 45, tzinfo=UTC),
         "2026-10-26T02:30:00+01:00"),
        ("daily", "02:30", "Europe/Berlin", datetime(2026, 10, 25, 0, 15, tzinfo=UTC),
         "2026-10-25T02:30:00+02:00"),
        ("daily", "02:00", "UTC", NOV_21_NOON, "2026-11-22T02:00:00+00:00"),
        # Crontab weekdays: 1-5 is Monday to Friday, 0 and 7 are Sunday.
        ("cron", "0 6 * * 1-5", "America/New_York", NOV_21_NOON, "2026-11-23T06:00:00-05:00"),
        ("cron", "0 6 * * 0", "UTC", NOV_21_NOON, "2026-11-22T06:00:00+00:00"),
        ("cron", "0 6 * * 7", "UTC", NOV_21_NOON, "2026-11-22T06:00:00+00:00"),
        ("cron", "0 6 * * 6", "UTC", datetime(2026, 11, 21, 5, tzinfo=UTC),
         "2026-11-21T06:00:00+00:00"),
        # A day of month and a day of week: either one (the 1st, or a Wednesday).
        ("cron", "0 6 1 * 3", "UTC", NOV_21_NOON, "2026-11-25T06:00:00+00:00"),
        ("cron", "0 6 1 * 3", "UTC", datetime(2026, 11, 26, tzinfo=UTC),
         "2026-12-01T06:00:00+00:00"),
        # Intervals count from midnight 2000-01-01 in the zone, so every process agrees.
        ("every", "2s", "UTC", datetime(2026, 11, 21, 12, 0, 1, tzinfo=UTC),
         "2026-11-21T12:00:02+00:00"),
        ("every", "45m", "UTC", NOV_21_NOON, "2026-11-21T12:00:00+00:00"),
        ("every", "7m", "UTC", NOV_21_NOON, "2026-11-21T12:01:00+00:00"),
        ("every", "6h", "Asia/Kolkata", NOV_21_NOON, "2026-11-21T18:00:00+05:30"),
    ],
)  # fmt: skip
def test_next_run_in_the_zone_with_its_offset(
    kind: str, expression: str, tz: str, now: datetime, expected: str
) -> None:
    fire = next_run(parse(kind, expression, tz), now)
    assert fire is not None and fire.isoformat() == expected


def test_a_daily_schedule_runs_once_a_local_day_across_both_changes() -> None:
    spec = parse("daily", "02:00", "Europe/Berlin")
    assert _fires(spec, datetime(2026, 3, 27, 12, tzinfo=UTC), 3) == [
        "2026-03-28T02:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00",
    ]  # fmt: skip
    assert _fires(spec, datetime(2026, 10, 24, 12, tzinfo=UTC), 3) == [
        "2026-10-25T02:00:00+02:00", "2026-10-26T02:00:00+01:00", "2026-10-27T02:00:00+01:00",
    ]  # fmt: skip


def test_a_cron_schedule_runs_each_local_time_once_when_clocks_go_back() -> None:
    spec = parse("cron", "*/30 * * * *", "Europe/Berlin")
    assert _fires(spec, datetime(2026, 10, 24, 23, 10, tzinfo=UTC), 5) == [
        "2026-10-25T01:30:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00", "2026-10-25T03:30:00+01:00",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("expression", "seconds"), [("1s", 1), ("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800)]
)
def test_every_units(expression: str, seconds: int) -> None:
    spec = parse("every", expression)
    first = next_run(spec, NOV_21_NOON)
    assert first is not None
    second = schedules.trigger(spec).get_next_fire_time(first, first)
    assert second is not None and second - first == timedelta(seconds=seconds)


def test_a_paused_schedule_has_no_next_run() -> None:
    assert next_run(parse("daily", "02:00", paused=True), NOV_21_NOON) is None


def test_schedule_dict_shape_and_when_next_run_is_null() -> None:
    active = _integration(schedule_kind="daily", schedule_expr="02:00", schedule_tz="Europe/Berlin")
    assert schedules.schedule_dict(active, NOV_21_NOON) == {
        "kind": "daily", "expression": "02:00", "tz": "Europe/Berlin", "paused": False,
        "next_run_at": "2026-11-22T02:00:00+01:00",
    }  # fmt: skip
    assert schedules.schedule_dict(_integration("draft"), NOV_21_NOON)["next_run_at"] is None
    assert schedules.schedule_dict(_integration("paused"), NOV_21_NOON)["next_run_at"] is None
    paused = _integration(schedule_paused=True)
    assert schedules.schedule_dict(paused, NOV_21_NOON)["next_run_at"] is None


def test_change_keeps_what_is_not_given() -> None:
    integ = _integration(schedule_kind="daily", schedule_expr="02:00", schedule_tz="UTC")
    schedules.change(integ, tz="Europe/Berlin")
    assert schedules.of(integ) == ScheduleSpec("daily", "02:00", "Europe/Berlin")
    schedules.change(integ, kind="every", expression="30m")
    assert schedules.of(integ) == ScheduleSpec("every", "30m", "Europe/Berlin")
    schedules.change(integ, paused=True)
    assert schedules.of(integ) == ScheduleSpec("every", "30m", "Europe/Berlin", paused=True)
    schedules.change(integ, kind="daily", expression="04:15", tz="UTC", paused=False)
    assert schedules.of(integ) == ScheduleSpec("daily", "04:15", "UTC")


def test_a_bad_change_leaves_the_schedule_as_it_was() -> None:
    integ = _integration(schedule_kind="daily", schedule_expr="02:00", schedule_tz="UTC")
    with pytest.raises(ScheduleError):
        schedules.change(integ, kind="cron", expression="not a cron line")
    assert schedules.of(integ) == ScheduleSpec("daily", "02:00", "UTC")


@pytest.mark.parametrize("change", [{"kind": "daily", "expression": "03:00"}, {"paused": True}])
def test_a_draft_cannot_be_scheduled(change: dict[str, object]) -> None:
    with pytest.raises(NotLaunchedError, match=r"'lever' is a draft: launch it first"):
        schedules.change(_integration("draft"), **change)  # type: ignore[arg-type]


def test_ensure_default_fills_a_missing_schedule_and_keeps_one_that_is_set() -> None:
    blank = _integration("draft")
    schedules.ensure_default(blank)
    assert schedules.of(blank) == schedules.DEFAULT and blank.schedule_kind == "daily"
    kept = _integration(schedule_kind="every", schedule_expr="1h", schedule_tz="UTC")
    schedules.ensure_default(kept)
    assert schedules.of(kept) == ScheduleSpec("every", "1h", "UTC")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (ScheduleSpec("daily", "02:00", "UTC"), "daily at 02:00 (UTC)"),
        (ScheduleSpec("every", "15m", "UTC"), "every 15m"),
        (ScheduleSpec("cron", "0 6 * * 1-5", "UTC", True), "cron '0 6 * * 1-5' (UTC), paused"),
    ],
)
def test_describe(spec: ScheduleSpec, words: str) -> None:
    assert schedules.describe(spec) == words


def test_exported_members_are_public() -> None:
    assert all(not name.startswith("_") and hasattr(schedules, name) for name in schedules.__all__)
