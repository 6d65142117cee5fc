"""Core-level write helpers for the relay: many-row INSERT and UPDATE at the driver level.

The relay's flush writes thousands of rows a second from a worker thread while its event loop relays
messages; both share the GIL. SQLAlchemy's per-row parameter processing costs more of it than the database
does, so these helpers hand rows to the driver in its own types (see `Converters`).

How the rows go differs by driver. SQLite's releases and takes back the GIL around every statement step, and
executemany is one step per row: each step is a GIL hand-over that stalls the event loop (a flush of a few
thousand rows cut relaying throughput by a fifth). There the rows go as a few multi-row statements, in chunks
of power-of-two sizes so that the SQL of each size is built once and stays in the driver's statement cache.
psycopg's executemany pipelines the rows in a few round trips and plans one small statement, which beats a
large multi-row statement, so PostgreSQL keeps it. Values are always bound, never formatted into the SQL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import Session, SQLModel

MAX_ROWS_PER_STATEMENT = 64
"""Rows per statement at most. SQLite keeps each prepared size in its statement cache, per connection: with
512-row statements the relay held ~1.3 KiB more per idle connection at 1,000 connections (bench/load.py idle),
with 64 about 0.5 KiB; a statement of 64 rows still hands the GIL over 64 times less than executemany."""

_MS_TO_TIMESTAMP = {
    # the text SQLAlchemy's SQLite DATETIME stores ('%f' is SS.SSS; the relay's clock is in ms)
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f000', {} / 1000.0, 'unixepoch')",
    "postgresql": "to_timestamp({} / 1000.0)",
}
"""SQL that turns a bound Unix time in ms into the timestamp the dialect stores."""


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel model."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def conflict_insert(session: Session, table: Table) -> Any:
    """The dialect's INSERT construct, which supports ON CONFLICT (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _as_is(value: Any) -> Any:
    return value


class Converters:
    """Python values to the driver's types for one dialect, and the SQL bits that differ between dialects."""

    def __init__(self, dialect: Dialect) -> None:
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.ms_to_timestamp = _MS_TO_TIMESTAMP[dialect.name].format(self.mark)
        self.quote: Callable[[str], str] = dialect.identifier_preparer.quote
        self._dialect = dialect
        self.multi_row = dialect.name == "sqlite"
        """True: many rows per statement; False: one-row statement, executemany."""
        self.max_params = 65535
        if self.multi_row:
            import sqlite3  # here: a PostgreSQL-only Python may lack it

            self.max_params = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999

    def of(self, column: ColumnElement[Any]) -> Callable[[Any], Any]:
        """The driver-side converter of a column's values (identity when the driver takes them as they are)."""
        dialect = self._dialect
        return column.type.dialect_impl(dialect).bind_processor(dialect) or _as_is


def _sizes(total: int, largest: int) -> Iterator[tuple[int, int]]:
    """(start, size) chunks covering `total` rows, each size a power of two no larger than `largest`."""
    start, size = 0, largest
    while start < total:
        while size > total - start:
            size //= 2
        yield start, size
        start += size


def _largest_chunk(params_per_row: int, max_params: int) -> int:
    limit = min(MAX_ROWS_PER_STATEMENT, max(1, max_params // params_per_row))
    return 1 << (limit.bit_length() - 1)


@functools.lru_cache(maxsize=256)
def _values_sql(head: str, row: str, size: int, tail: str) -> str:
    return f"{head} VALUES {', '.join([row] * size)}{tail}"


def insert_rows(
    connection: Connection, sql: Converters, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
    *, templates: Mapping[str, str] | None = None, on_conflict: str = "",
) -> None:
    """INSERT INTO table (columns) VALUES (...), (...) ... [on_conflict]. `templates` replaces a column's
    bare placeholder with SQL around it (e.g. sql.ms_to_timestamp)."""
    if not rows:
        return
    quote = sql.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))})"
    row = "(" + ", ".join((templates or {}).get(name, sql.mark) for name in columns) + ")"
    tail = on_conflict and f" {on_conflict}"
    if not sql.multi_row:
        connection.exec_driver_sql(_values_sql(head, row, 1, tail), list(rows))
        return
    largest = _largest_chunk(len(columns), sql.max_params)
    for start, size in _sizes(len(rows), largest):
        params = tuple(chain.from_iterable(rows[start:start + size]))  # a tuple: one parameter set
        connection.exec_driver_sql(_values_sql(head, row, size, tail), params)


def upsert_clause(sql: Converters, table: Table, *, keys: Sequence[str], replace: Sequence[str] = (),
                  add: Sequence[str] = ()) -> str:
    """ON CONFLICT (keys) DO UPDATE: `replace` columns take the new value, `add` columns add it up
    (the same text in SQLite and PostgreSQL)."""
    q = sql.quote
    sets = [f"{q(c)} = excluded.{q(c)}" for c in replace]
    sets += [f"{q(c)} = {q(table.name)}.{q(c)} + excluded.{q(c)}" for c in add]
    return f"ON CONFLICT ({', '.join(map(q, keys))}) DO UPDATE SET {', '.join(sets)}"


def update_by_key(
    connection: Connection, sql: Converters, table: Table, *, key: str, column: str, values: Mapping[Any, Any],
    template: str | None = None,
) -> None:
    """UPDATE table SET column = CASE key WHEN k THEN v ... END WHERE key IN (...): one value per row,
    in a few statements."""
    if not values:
        return
    q, mark = sql.quote, sql.mark
    value_sql = template or mark
    items = list(values.items())
    if not sql.multi_row:
        statement = f"UPDATE {q(table.name)} SET {q(column)} = {value_sql} WHERE {q(key)} = {mark}"  # noqa: S608
        connection.exec_driver_sql(statement, [(v, k) for k, v in items])
        return
    largest = _largest_chunk(3, sql.max_params)
    for start, size in _sizes(len(items), largest):
        chunk = items[start:start + size]
        statement = _values_sql_case(q(table.name), q(key), q(column), mark, value_sql, size)
        params = tuple([v for pair in chunk for v in pair] + [k for k, _ in chunk])
        connection.exec_driver_sql(statement, params)


@functools.lru_cache(maxsize=64)
def _values_sql_case(table: str, key: str, column: str, mark: str, value: str, size: int) -> str:
    whens = " ".join([f"WHEN {mark} THEN {value}"] * size)
    keys = ", ".join([mark] * size)
    return f"UPDATE {table} SET {column} = CASE {key} {whens} END WHERE {key} IN ({keys})"  # noqa: S608
