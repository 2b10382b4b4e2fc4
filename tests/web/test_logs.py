"""Logs on stderr: the short text line by default, one JSON object a line with
INVSYNC_LOG_FORMAT=json, from the formatter up to a real sync against the simulator."""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inventory.errors import ConfigError
from inventory.settings import Settings
from tests.conftest import API_KEY, Sim
from tests.web.conftest import run_invsync
from web.logs import JsonFormatter, configure_logging

KEYS = {"time", "level", "logger", "message"}


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back as they were after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def _record(**extra: Any) -> logging.LogRecord:
    """A warning from invsync.lever, as the client would log it."""
    record = logging.LogRecord(
        "invsync.lever", logging.WARNING, __file__, 1, "attempt %d failed", (2,), None
    )
    record.__dict__.update(extra)
    return record


def _parsed(text: str) -> list[dict[str, Any]]:
    """Every line of a log as JSON; a line that is not JSON fails the test."""
    return [json.loads(line) for line in text.splitlines()]


def test_a_record_is_one_json_line_with_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(_record(created=1_767_225_600.25))

    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-01-01T00:00:00.250Z",
        "level": "WARNING",
        "logger": "invsync.lever",
        "message": "attempt 2 failed",
    }


def test_an_exception_gives_its_type_and_never_its_traceback() -> None:
    secret_local = "local-value-7c1e"
    try:
        raise KeyError(secret_local)
    except KeyError:
        record = _record(exc_info=sys.exc_info())

    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert set(entry) == {*KEYS, "exc_type"} and entry["exc_type"] == "KeyError"
    assert "Traceback" not in line and secret_local not in line
    assert datetime.fromisoformat(entry["time"]).utcoffset() == UTC.utcoffset(None)


def test_a_newline_in_a_message_stays_inside_its_one_line() -> None:
    line = JsonFormatter().format(_record(msg="first\nsecond", args=()))
    assert "\n" not in line and json.loads(line)["message"] == "first\nsecond"


@pytest.mark.parametrize(
    ("log_format", "written"),
    [
        ("text", "invsync: WARNING: disk nearly full\n"),
        ("json", {"level": "WARNING", "logger": "invsync.test", "message": "disk nearly full"}),
    ],
)
def test_configure_logging_writes_warnings_in_the_chosen_format(
    root_logging: logging.Logger, tmp_path: Path, log_format: str, written: Any
) -> None:
    stream = io.StringIO()
    settings = Settings.load(env={"INVSYNC_LOG_FORMAT": log_format}, home=tmp_path)
    configure_logging(settings, stream)
    configure_logging(settings, stream)  # a second call replaces the first handler

    log = logging.getLogger("invsync.test")
    log.info("not shown")
    log.warning("disk nearly full")

    if log_format == "text":
        assert stream.getvalue() == written
    else:
        [entry] = _parsed(stream.getvalue())
        assert {k: entry[k] for k in written} == written and set(entry) == KEYS


def test_an_unknown_log_format_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="INVSYNC_LOG_FORMAT must be text or json, got 'xml'"):
        Settings.load(env={"INVSYNC_LOG_FORMAT": "xml"}, home=tmp_path)


def _secrets_absent(*texts: str) -> None:
    """Neither the API key nor the Basic auth token made of it is in any of the texts."""
    basic = base64.b64encode(f"{API_KEY}: ".encode()).decode()
    for text in texts:
        assert API_KEY not in text and basic not in text


def test_a_sync_with_json_logs_writes_only_json_lines_and_no_key(
    launched: Sim, cli_env: dict[str, str]
) -> None:
    launched[0].inject("429", count=2, retry_after="0")

    done = run_invsync({**cli_env, "INVSYNC_LOG_FORMAT": "json"}, "sync", "lever")

    assert done.returncode == 0, done.stderr
    entries = _parsed(done.stderr)
    assert all(set(entry) >= KEYS for entry in entries)
    retries = [e for e in entries if e["logger"] == "invsync.lever" and "429" in e["message"]]
    assert len(retries) == 2 and {e["level"] for e in retries} == {"WARNING"}
    _secrets_absent(done.stdout, done.stderr)


def test_a_sync_logs_text_lines_by_default(launched: Sim, cli_env: dict[str, str]) -> None:
    launched[0].inject("429", count=1, retry_after="0")

    done = run_invsync(cli_env, "sync", "lever")

    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(
        "invsync: WARNING: Lever GET /users: attempt 1 failed (status 429"
    )
    _secrets_absent(done.stdout, done.stderr)


def test_a_caller_may_choose_the_text_line_and_json_stays_json(
    root_logging: logging.Logger, tmp_path: Path
) -> None:
    stream = io.StringIO()
    for log_format in ("text", "json"):
        settings = Settings.load(env={"INVSYNC_LOG_FORMAT": log_format}, home=tmp_path)
        configure_logging(settings, stream, text_format="scheduler: %(levelname)s %(message)s")
        logging.getLogger("connector.scheduler").warning("lease lost")

    text_line, json_line = stream.getvalue().splitlines()
    assert text_line == "scheduler: WARNING lease lost"
    assert json.loads(json_line)["message"] == "lease lost"
