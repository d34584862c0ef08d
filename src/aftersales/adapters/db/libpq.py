"""PostgreSQL statements in autocommit straight through libpq (psycopg's `pq` module).

An optimistic attempt (uow.attempt_engine) runs two statements per action outside any
transaction: the bundle read and the case save. psycopg's cursor spends 70–90 µs of CPU on
each here (parameter adaptation through its adapter maps, the prepared-statement cache,
result objects) — the biggest share of an action's server CPU after the domain itself
(bench/RESULTS.md). This module sends such a statement as a named prepared statement on
the connection's own libpq handle: the values already converted by SQLAlchemy's bind
processors are written as text, and results are read for the few column types these
statements return. Anything else — a statement in a transaction (psycopg must see the
BEGIN), an executemany, a column type not listed — stays on psycopg's cursor.

Prepared statements live per database connection (SQLAlchemy's connection record `info`,
which is cleared with the connection) under names unique in this process, and are
prepared again if something deallocated them. Values go out and come back as UTF-8, as
JSON does through psycopg's loaders: the store needs UTF-8 connections (PostgreSQL's
default for psycopg); a connection set to another client encoding is left to psycopg here.
libpq releases the GIL while it waits, as psycopg does.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from enum import Enum
from typing import Any, NamedTuple

from psycopg import errors, pq
from psycopg.types.json import Json, Jsonb
from sqlalchemy import Connection

from aftersales.adapters.db import bundles

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_NAMES = itertools.count(1)
_PREPARED = "aftersales_pq_prepared"  # connection info: the names prepared on it
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_UNPREPARED: Any = object()
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_ALREADY_PREPARED = b"42P05"  # duplicate_prepared_statement


def _as_bool(v: bytes) -> bool:
    return v == b"t"


def _as_str(v: bytes) -> str:
    return v.decode()


# Result columns this path reads, by type OID: bool, int8, int2, int4, text, varchar,
# json, jsonb. A statement returning anything else stays on psycopg's cursor.
_READERS: dict[int, Any] = {16: _as_bool, 20: int, 21: int, 23: int, 25: _as_str,
                            1043: _as_str, 114: bundles.loads, 3802: bundles.loads}


class Prepared(NamedTuple):
    name: bytes
    sql: bytes  # with $1…$n
    order: tuple[str, ...]  # parameter names in $ order


def prepared(sql: str) -> Prepared:
    """A pyformat statement (`%(name)s`, `%%`) as libpq takes it (`$n`, `%`)."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match[1]
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    native = _PLACEHOLDER.sub(number, sql).replace("%%", "%")
    return Prepared(f"aftersales_{next(_NAMES)}".encode(), native.encode(), tuple(order))


def _str(value: str) -> bytes:
    # libpq ends a text parameter at its first NUL byte; psycopg refuses such a value
    if "\x00" in value:
        raise errors.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return value.encode()


def _json(value: Json | Jsonb) -> bytes:
    dumped = (value.dumps or bundles.dumps)(value.obj)
    return dumped if isinstance(dumped, bytes) else dumped.encode()


def _other(value: Any) -> bytes:
    if isinstance(value, datetime | date):
        return value.isoformat().encode()
    if isinstance(value, Json | Jsonb):
        return _json(value)
    if isinstance(value, dict | list):
        return bundles.dumps(value).encode()
    if isinstance(value, Enum):
        return _str(str(value.value))
    return _str(str(value))


# A value after SQLAlchemy's bind processor, in PostgreSQL's text input format (the
# statement's casts or its columns give the type), by the value's exact type first.
_WRITERS: dict[type, Any] = {
    str: _str, int: lambda v: str(v).encode(), bool: lambda v: b"t" if v else b"f",
    datetime: lambda v: v.isoformat().encode(), Json: _json, Jsonb: _json,
}


def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    return _WRITERS.get(type(value), _other)(value)


class Result:
    """The little of a cursor the store reads: `fetchone()` and `rowcount`."""

    def __init__(self, result: pq.abc.PGresult, readers: list[Any]) -> None:
        self._result, self._readers, self._row = result, readers, 0
        tuples = result.command_tuples
        self.rowcount = -1 if tuples is None else tuples

    def fetchone(self) -> tuple[Any, ...] | None:
        res = self._result
        if self._row >= res.ntuples:
            return None
        row = self._row
        self._row += 1
        return tuple(None if (v := res.get_value(row, j)) is None else read(v)
                     for j, read in enumerate(self._readers))


def execute(conn: Connection, statement: Prepared, params: dict[str, Any], *,
            again: bool = True) -> Result | None:
    """Run `statement` with `params` (named, already bind-processed) on `conn`'s libpq
    handle, preparing it there first if needed; None when this path does not apply (the
    connection is in a transaction or its result has a column type not read here): the
    caller then uses psycopg's cursor. Errors are raised as psycopg raises them."""
    driver = conn.connection.driver_connection
    if driver is None or not driver.autocommit:
        return None
    pgconn = driver.pgconn
    if pgconn.parameter_status(b"client_encoding") != b"UTF8":  # values travel as UTF-8
        return None
    done: dict[bytes, list[Any] | None] = conn.connection.info.setdefault(_PREPARED, {})
    readers = done.get(statement.name, _UNPREPARED)
    if readers is _UNPREPARED:
        made = pgconn.prepare(statement.name, statement.sql, None)
        if made.error_field(pq.DiagnosticField.SQLSTATE) != _ALREADY_PREPARED:  # (a describe
            _check(made, driver)                              # that failed last time)
        described = pgconn.describe_prepared(statement.name)
        _check(described, driver)
        types = [described.ftype(j) for j in range(described.nfields)]
        readers = None if any(t not in _READERS for t in types) else [_READERS[t] for t in types]
        done[statement.name] = readers
    if readers is None:
        return None
    values = [_text(params[name]) for name in statement.order]
    result = pgconn.exec_prepared(statement.name, values, None, 0)
    if again and result.status not in _OK and result.error_field(pq.DiagnosticField.SQLSTATE) \
            == _NO_SUCH_STATEMENT:
        # Deallocated behind our back (psycopg sends DEALLOCATE ALL when a schema change
        # invalidates its own cache): prepare again, once.
        done.clear()
        return execute(conn, statement, params, again=False)
    _check(result, driver)
    return Result(result, readers)


def _check(result: pq.abc.PGresult, driver: Any) -> None:
    if result.status not in _OK:
        raise errors.error_from_result(result, encoding=driver.info.encoding)
