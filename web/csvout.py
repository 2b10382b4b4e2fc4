"""The one CSV writer: list exports, report downloads and `--format csv` in the CLI.

One dialect everywhere: RFC 4180 (comma, `"` quoting only where needed, CRLF line ends), a
header row first, streamed a few hundred rows at a time so memory stays flat. Cells are
neutralised as OWASP's CSV-injection advice says: text that starts with `=`, `+`, `-`, `@`, a
tab or a carriage return, which a spreadsheet would run as a formula, gets a leading `'`, so
a Lever user named `=HYPERLINK(...)` reads as text. Numbers are written as they are (a negative
number is not a formula); None is an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

__all__ = ["CHUNK_ROWS", "FORMULA_START", "LINE_END", "cell", "lines", "write"]

LINE_END = "\r\n"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 200


def cell(value: Any) -> str:
    """A value as one safe CSV cell's text."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text of a header and rows of values, in chunks of a few hundred rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_END)
    writer.writerow([cell(name) for name in header])
    for n, row in enumerate(rows, 1):
        writer.writerow([cell(value) for value in row])
        if n % CHUNK_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def write(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write the CSV of a header and rows to a text stream, chunk by chunk."""
    for chunk in lines(header, rows):
        out.write(chunk)


def _drain(buffer: io.StringIO) -> str:
    """What the buffer holds, emptying it."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
