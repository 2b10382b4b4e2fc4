"""Printing lists and objects as table, JSON or CSV, streaming so long lists use little memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from web import csvout

FORMATS = ("table", "json", "csv")


def write_json(obj: Any, out: TextIO) -> None:
    """One JSON document, non-ASCII kept readable."""
    out.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def write_json_list(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    """A JSON array written an item at a time."""
    out.write("[")
    for i, row in enumerate(rows):
        out.write(("," if i else "") + "\n  " + json.dumps(row, ensure_ascii=False))
    out.write("\n]\n")


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """Custom fields as `custom.NAME` columns, for CSV and tables."""
    flat = {k: v for k, v in row.items() if k != "custom"}
    for name, value in (row.get("custom") or {}).items():
        flat[f"custom.{name}"] = value
    return flat


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """CSV with a header row (the one CSV dialect, `web.csvout`); missing values are empty."""
    flat = (flatten(row) for row in rows)
    csvout.write(out, columns, ([values.get(c) for c in columns] for values in flat))


def write_table(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: TextIO) -> int:
    """Plain aligned columns, widths from the first rows; returns how many rows were printed."""
    it = iter(rows)
    head = [flatten(r) for r in _take(it, 200)]
    widths = {c: min(40, max([len(c), *(len(_cell(r.get(c))) for r in head)])) for c in columns}
    out.write("  ".join(c.ljust(widths[c]) for c in columns).rstrip() + "\n")
    count = 0
    for row in _chain(head, (flatten(r) for r in it)):
        out.write(
            "  ".join(_cell(row.get(c))[:40].ljust(widths[c]) for c in columns).rstrip() + "\n"
        )
        count += 1
    return count


def _cell(value: Any) -> str:
    """A value as table text."""
    return "" if value is None else str(value)


def _take(it: Iterator[Any], n: int) -> list[Any]:
    """Up to n items from an iterator."""
    return [x for _, x in zip(range(n), it, strict=False)]


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    """The buffered rows, then the rest of the stream."""
    yield from first
    yield from rest
