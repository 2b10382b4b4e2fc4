"""How the command line and the served app log to stderr: a text line, or one JSON object a line.

With `INVSYNC_LOG_FORMAT=json` every line is `{"time", "level", "logger", "message"}` (time in
ISO-8601 UTC), plus `"exc_type"` when an exception is attached. The traceback itself is never
written in that format: its text may quote values a log reader must not see, and a log shipper
wants one record per line. Messages are written as they were logged; invsync keeps secrets out
of them where they are made (errors take `secrets=` and scrub them).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TextIO

from inventory.settings import Settings
from inventory.timeutil import iso

__all__ = ["TEXT_FORMAT", "JsonFormatter", "configure_logging", "formatter_for"]

TEXT_FORMAT = "invsync: %(levelname)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One log record as one line of JSON, with the exception's type but not its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        entry = {
            "time": iso(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def formatter_for(settings: Settings, text_format: str = TEXT_FORMAT) -> logging.Formatter:
    """The formatter the settings ask for: JSON lines, or the given text line."""
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(text_format)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs, told apart so that a second call replaces it."""


def configure_logging(
    settings: Settings, stream: TextIO | None = None, *, text_format: str = TEXT_FORMAT
) -> None:
    """Send warnings and worse to stderr (or `stream`) in the configured format (`text_format`
    when it is text), replacing the handler an earlier call installed and leaving any other
    handler alone."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream)
    handler.setFormatter(formatter_for(settings, text_format))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
