"""Many rows straight to the driver, in the connection's open transaction: for bulk import.

Why not `conn.execute(insert(table), rows)`: SQLAlchemy builds and checks a parameter set
per row, a large share of an import's time (bench/RESULTS.md). `Writes` converts a
batch's rows up front (so that, on SQLite, the write lock is held only while they go in)
and then sends them: one binary COPY per table on PostgreSQL, one executemany on SQLite.
Values are converted as each column type's SQLAlchemy bind processor would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import JSON, Connection, Table
from sqlalchemy.dialects.postgresql import psycopg as _pg_dialect

from aftersales.adapters.db import bundles
from aftersales.adapters.db.tables import UtcDateTime
from aftersales.service.errors import Conflict

_PG = _pg_dialect.dialect()  # type: ignore[no-untyped-call]


class _Plan:
    """How to turn a row dict into the driver's parameter tuple for these columns.

    Each value is converted as SQLAlchemy's bind processor for its column type would,
    with direct equivalents for the two kinds that are most of the work: UtcDateTime (on
    SQLite UTC, naive, "YYYY-MM-DD HH:MM:SS.ffffff", the text SQLAlchemy's SQLite DATETIME
    stores; on PostgreSQL the aware UTC datetime) and JSON (bundles.dumps, as every JSON
    column is written; like SQLAlchemy's JSON type, None is the JSON `null`, not SQL NULL).
    tests/integration/test_import.py reads both back.
    """

    def __init__(self, table: Table, names: list[str], dialect: Any) -> None:
        self.names = names
        self.get = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        self.convert: list[tuple[int, Any, bool]] = []  # (index, converter, also None)
        for i, name in enumerate(names):
            kind = table.c[name].type
            if isinstance(kind, UtcDateTime):
                utc = _sqlite_utc_text if dialect.name == "sqlite" else _utc
                self.convert.append((i, utc, False))
            elif isinstance(kind, JSON):
                self.convert.append((i, _json_binary if dialect.name == "postgresql"
                                     else bundles.dumps, True))
            else:
                processor = kind.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    self.convert.append((i, processor, False))

    def values(self, row: dict[str, Any]) -> tuple[Any, ...] | list[Any]:
        if not self.convert:
            return self.get(row)
        out = list(self.get(row))
        for i, convert, with_none in self.convert:
            value = out[i]
            if value is not None or with_none:
                out[i] = convert(value)
        return out


def _utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC)


# The last datetime converted and its text: a payload's rows mostly share one moment. One
# tuple, replaced whole, so a concurrent caller never pairs a value with another's text.
_last_text: tuple[datetime | None, str] = (None, "")


def _sqlite_utc_text(value: datetime) -> str:
    global _last_text
    last = _last_text
    if value is last[0]:
        return last[1]
    text = _utc(value).isoformat(" ", "microseconds")[:26]  # without the "+00:00"
    _last_text = (value, text)
    return text


def _json_binary(value: Any) -> Json:
    return Json(value, dumps=bundles.dumps)


_PG_TYPE_NAMES = {"VARCHAR": "varchar", "TEXT": "text", "INTEGER": "int4", "BIGINT": "int8",
                  "BOOLEAN": "bool", "TIMESTAMP WITH TIME ZONE": "timestamptz", "JSON": "json"}


@cache
def _pg_types(table: Table, names: tuple[str, ...] | list[str]) -> list[str]:
    return [_PG_TYPE_NAMES[str(table.c[n].type.compile(dialect=_PG)).split("(")[0]] for n in names]


class Writes:
    """A batch's writes, converted up front and sent straight to the driver.

    Why not `conn.execute(insert(table), rows)`: SQLAlchemy builds and checks a parameter
    set per row, a large share of an import's time. The values still
    go through each column type's own bind processor (so a datetime or JSON value is
    stored exactly as the Core path stores it); only the per-row bookkeeping is skipped.
    PostgreSQL receives inserts by binary COPY (column types from the table; JSON values
    handed over as psycopg `Json`, so None is the JSON `null`), SQLite by one prepared
    executemany.
    """

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect
        self.postgres = dialect.name == "postgresql"
        self.ops: list[tuple[str, Any, Any, Any]] = []  # (kind, sql or stmt, rows, expected)

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        plan = _Plan(table, list(rows[0]), self.dialect)
        columns = ", ".join(plan.names)
        if self.postgres:
            self.ops.append(("copy", f"COPY {table.name} ({columns}) FROM STDIN (FORMAT BINARY)",
                             [plan.values(row) for row in rows], _pg_types(table, tuple(plan.names))))
        else:
            marks = ", ".join("?" * len(plan.names))
            self.ops.append(("many", f"INSERT INTO {table.name} ({columns}) VALUES ({marks})",
                             [plan.values(row) for row in rows], 0))

    def update_versioned(self, table: Table, rows: list[tuple[dict[str, Any], int]]) -> None:
        """UPDATE each row by id where the stored version is still the one loaded; fewer
        rows matched than given means someone else changed a case meanwhile (Conflict)."""
        if not rows:
            return
        names = [n for n in rows[0][0] if n not in ("id", "shop_id")]
        plan = _Plan(table, names, self.dialect)
        mark = "%s" if self.postgres else "?"
        sets = ", ".join(f"{n} = {mark}" for n in names)
        sql = f"UPDATE {table.name} SET {sets} WHERE id = {mark} AND shop_id = {mark} " \
              f"AND version = {mark}"
        params = [(*plan.values(row), row["id"], row["shop_id"], loaded) for row, loaded in rows]
        self.ops.append(("many", sql, params, len(params)))

    def statement(self, stmt: Any) -> None:
        self.ops.append(("core", stmt, None, 0))

    def check(self, fn: Any) -> None:
        """`fn(conn)` run in the writing transaction before the rows go in (it raises to
        abort the batch)."""
        self.ops.append(("check", fn, None, 0))

    def write(self, conn: Connection) -> None:
        driver = conn.connection.driver_connection
        assert driver is not None
        for kind, sql, rows, expected in self.ops:
            if kind == "check":
                sql(conn)
            elif kind == "core":
                conn.execute(sql)
            elif kind == "copy":
                with driver.cursor() as cur, cur.copy(sql) as copy:
                    copy.set_types(expected)
                    for row in rows:
                        copy.write_row(row)
            else:
                matched = _executemany(driver, sql, rows, self.postgres)
                if expected and matched != expected:
                    raise Conflict("a case in the import batch was changed by someone else")


def _executemany(driver: Any, sql: str, rows: list[Any], postgres: bool) -> int:
    """Rows matched in all (psycopg sums executemany's rowcounts; so does sqlite3)."""
    cur = driver.cursor()
    try:
        if postgres:
            cur.executemany(sql, rows, returning=False)
        else:
            cur.executemany(sql, rows)
        return int(cur.rowcount)
    finally:
        cur.close()
