"""Bulk writes without per-row statements: `COPY` on PostgreSQL, `executemany` on SQLite.

The sync stages each batch of mapped rows in a temporary table and lets the database do the
work with a few set statements; these helpers are the one fast path for getting many rows into a
table (a staging table or the change log). Values go through each column's own bind processing
(aware UTC datetimes, JSON documents), so what lands is what an ORM insert would have written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

__all__ = ["copy_rows", "stage", "temp_table"]


def copy_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the rows (dicts keyed by column name; a missing key is NULL) in one bulk write."""
    if not rows:
        return
    conn = session.connection()
    names = _present(table, rows)
    values = list(zip(*(_column(conn, table.c[n], rows) for n in names), strict=True))
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        _copy_pg(raw, table.name, names, values)
    else:
        marks = ", ".join("?" for _ in names)
        sql = f'INSERT INTO "{table.name}" ({_quoted(names)}) VALUES ({marks})'
        raw.cursor().executemany(sql, values)  # type: ignore[union-attr]


def _present(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table's columns that any row sets (the others keep their server default or NULL)."""
    keys: set[str] = set()
    for row in rows:
        keys.update(row)
    return [c.name for c in table.columns if c.name in keys]


def _column(conn: Connection, column: Column[Any], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """One column's values across the rows, through the column type's bind processing (a
    column at a time, so the per-value work stays in C-level map calls)."""
    raw = [row.get(column.name) for row in rows]
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return raw if process is None else list(map(process, raw))


def _copy_pg(raw: Any, name: str, columns: list[str], values: list[tuple[Any, ...]]) -> None:
    """COPY the rows in, through psycopg's own adaptation of each value."""
    with raw.cursor() as cur, cur.copy(f'COPY "{name}" ({_quoted(columns)}) FROM STDIN') as copy:
        for row in values:
            copy.write_row(row)


def _quoted(names: Sequence[str]) -> str:
    """Column names quoted for SQL."""
    return ", ".join(f'"{n}"' for n in names)


def stage(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Fill the connection's temporary staging table, made if missing and emptied first (a
    rolled-back transaction may have taken it away, so it is never assumed to exist)."""
    conn = session.connection()
    conn.execute(CreateTable(table, if_not_exists=True))
    conn.execute(text(f'DELETE FROM "{table.name}"'))
    copy_rows(session, table, rows)


def temp_table(name: str, *columns: Column[Any]) -> Table:
    """A temporary table of the connection, for staging (never part of the schema)."""
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])
