"""PostgreSQL statements straight through libpq (psycopg's `pq` module).

An action runs a few statements: the bundle read and the case save of an optimistic
attempt (uow.attempt_engine), the locks, ledger writes and save of a transaction.
psycopg's cursor spends 70–90 µs of CPU on each here (parameter adaptation through its
adapter maps, the prepared-statement cache, result objects) — the biggest share of an
action's server CPU after the domain itself (bench/RESULTS.md). This module sends such a
statement as a named prepared statement on the connection's own libpq handle: the values
already converted by SQLAlchemy's bind processors are written as text, and results are
read for the few column types these statements return. In a transaction, statements that
do not need each other's results go out together in libpq's pipeline mode, the BEGIN with
the first of them: one round trip instead of several. Anything else — an executemany, a
column type not listed, a transaction with options — stays on psycopg's cursor.

Prepared statements live per database connection (`PgConnection` below, which engine.py has
SQLAlchemy open) under names unique in this process, and are prepared again if something
deallocated them: psycopg itself, when it sends DEALLOCATE ALL (after a rollback, its own
or to a savepoint, it forgets its own prepared statements and the server's with them),
tells this module at once; anything else is noticed when a statement is missing, before a
transaction starts (in one, the statement fails: only a DEALLOCATE ALL sent by hand there
does that). Values go out and come back as UTF-8, as
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

import psycopg
from psycopg import errors, pq
from psycopg.rows import tuple_row
from psycopg.types.json import Json, Jsonb
from sqlalchemy import Connection

from aftersales.adapters import inline
from aftersales.adapters.db import bundles

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_NAMES = itertools.count(1)
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_UNPREPARED: Any = object()
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_ALREADY_PREPARED = b"42P05"  # duplicate_prepared_statement


class PgConnection(psycopg.Connection[Any]):
    """psycopg's connection, knowing which of this module's statements it holds.

    psycopg deallocates every prepared statement of the session (DEALLOCATE ALL) when it
    drops its own cache: after a ROLLBACK — a transaction's or a savepoint's — a DROP or an
    ALTER. That takes this module's statements too, possibly in the middle of a
    transaction, where preparing them again after a failed execution is impossible (the
    transaction is aborted). This hook hears of it as it happens, so the next use prepares
    first. (`_deallocate` is psycopg's own, pinned in pyproject.toml; a test fails if it
    stops being called: tests/integration/test_prepared.py.)"""

    __slots__ = ("aftersales_prepared",)

    def __init__(self, pgconn: Any, row_factory: Any = tuple_row) -> None:
        super().__init__(pgconn, row_factory)
        self.aftersales_prepared: dict[bytes, list[Any] | None] = {}

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        """psycopg's wait, but inside inline.run the event loop waits for the socket."""
        if not inline.active():
            return super().wait(gen, interval, timeout)
        pgconn = self.pgconn
        fd = pgconn.socket
        try:
            wanted = next(gen)
            while True:
                ready = inline.wait_fd(fd, wanted, timeout, lasting=True)
                if not ready and timeout is not None:
                    raise errors._WaitTimeout("wait timeout expired")  # (as psycopg's wait)
                wanted = gen.send(ready)
        except StopIteration as done:
            return done.value

    def _deallocate(self, name: bytes | None) -> Any:
        yield from super()._deallocate(name)
        if name is None:  # DEALLOCATE ALL
            self.aftersales_prepared.clear()


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


def execute(conn: Connection, statement: Prepared, params: dict[str, Any]) -> Result | None:
    """Run `statement` with `params` (named, already bind-processed) on `conn`'s libpq
    handle, preparing it there first if needed; None when this path does not apply (see
    `execute_all`): the caller then uses psycopg's cursor. Errors are raised as psycopg
    raises them."""
    done = execute_all(conn, [(statement, params)])
    return None if done is None else done[0]


def execute_all(conn: Connection, batch: list[tuple[Prepared, dict[str, Any]]],
                commit: bool = False) -> list[Result] | None:
    """Run the statements of `batch` in order, in one round trip where libpq allows it.

    In autocommit (an optimistic attempt) one statement, on its own. In a transaction
    psycopg has begun (or this module has: psycopg asks libpq, not its own memory, whether
    a transaction is open) the statements go out together in libpq's pipeline mode; on a
    connection outside autocommit with no transaction open yet, a plain BEGIN goes first in
    the same round trip, where psycopg would have sent it on its own. The server still runs
    them one after the other, each with its own snapshot (READ COMMITTED): a read after a
    lock sees what the lock waited for. An error stops the batch and is raised; the
    transaction is then failed, as with psycopg. None when this path does not apply: a
    transaction failed or with options (isolation level, read only), a result column type
    not read here, several statements in autocommit.

    `commit`: the transaction's COMMIT goes last, in the same round trip (psycopg then finds
    no transaction open and sends none of its own). After an error nothing of the batch
    runs, the COMMIT included, and the transaction is left failed for the caller's
    rollback. Not in autocommit (None)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, PgConnection):  # (a connection engine.py did not open)
        return None
    pgconn = driver.pgconn
    if pgconn.parameter_status(b"client_encoding") != b"UTF8":  # values travel as UTF-8
        return None
    if driver.autocommit:
        if len(batch) != 1 or commit:  # (a pipeline outside a transaction is one implicit
            return None                 # transaction)
        begin = False
    else:
        status = pgconn.transaction_status
        begin = status == pq.TransactionStatus.IDLE
        if not (status == pq.TransactionStatus.INTRANS or (begin and _plain_begin(driver))):
            return None
    readers = [_prepare(driver, statement) for statement, _ in batch]
    if any(r is None for r in readers):
        return None
    values = [[_text(params[name]) for name in statement.order] for statement, params in batch]
    if driver.autocommit or (not begin and not commit and len(batch) == 1):
        (statement, _), = batch
        result = _call(pgconn, pgconn.exec_prepared, pgconn.send_query_prepared,
                           statement.name, values[0], None, 0)
        if driver.autocommit and _missing(result):
            # Deallocated behind our back (a DEALLOCATE or DISCARD ALL sent by hand; psycopg's
            # own DEALLOCATE ALL is heard by PgConnection): prepare again, once. In a
            # transaction this is only possible before its BEGIN, below.
            _resync(driver)
            readers = [_prepare(driver, statement)]
            result = _call(pgconn, pgconn.exec_prepared, pgconn.send_query_prepared,
                           statement.name, values[0], None, 0)
        _check(result, driver)
        return [Result(result, readers[0])]  # type: ignore[arg-type]
    results = _pipelined(driver, [s.name for s, _ in batch], values, begin, commit)
    if begin and any(_missing(r) for r in results):  # (as above; the rollback undoes the rest)
        _rollback(driver)
        _resync(driver)
        for statement, _ in batch:
            _prepare(driver, statement)
        results = _pipelined(driver, [s.name for s, _ in batch], values, begin, commit)
    for i, result in enumerate(results):
        try:
            _check(result, driver)
        except errors.Error as exc:
            exc.aftersales_index = i  # type: ignore[attr-defined]  # (which one: statements.py)
            raise
    return [Result(r, read) for r, read in zip(results[:len(batch)], readers, strict=True)]  # type: ignore[arg-type]


def _plain_begin(driver: Any) -> bool:
    """psycopg would start the transaction with a bare BEGIN (no options set)."""
    return driver.isolation_level is None and driver.read_only is None \
        and not driver.deferrable


def _prepare(driver: PgConnection, statement: Prepared) -> list[Any] | None:
    """The statement's result readers, preparing it on this connection the first time
    (None: a column type not read here)."""
    done = driver.aftersales_prepared
    readers = done.get(statement.name, _UNPREPARED)
    if readers is _UNPREPARED:
        pgconn = driver.pgconn
        made = _call(pgconn, pgconn.prepare, pgconn.send_prepare, statement.name, statement.sql,
                     None)
        if made.error_field(pq.DiagnosticField.SQLSTATE) != _ALREADY_PREPARED:  # (a describe
            _check(made, driver)                              # that failed last time)
        described = _call(pgconn, pgconn.describe_prepared, pgconn.send_describe_prepared,
                          statement.name)
        _check(described, driver)
        types = [described.ftype(j) for j in range(described.nfields)]
        readers = None if any(t not in _READERS for t in types) else [_READERS[t] for t in types]
        done[statement.name] = readers
    return readers  # type: ignore[no-any-return]


def _missing(result: pq.abc.PGresult) -> bool:
    return result.status not in _OK and \
        result.error_field(pq.DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT


def _resync(driver: PgConnection) -> None:
    """After a statement of ours was found missing, outside any transaction: keep the
    record of only those the server still holds (the others are prepared again when next
    used; preparing one that still exists would fail, and in a transaction abort it)."""
    pgconn = driver.pgconn
    held = _call(pgconn, pgconn.exec_, pgconn.send_query, b"SELECT name FROM pg_prepared_statements")
    _check(held, driver)
    names = {held.get_value(i, 0) for i in range(held.ntuples)}
    for name in [n for n in driver.aftersales_prepared if n not in names]:
        del driver.aftersales_prepared[name]


def _rollback(driver: Any) -> None:
    pgconn = driver.pgconn
    _check(_call(pgconn, pgconn.exec_, pgconn.send_query, b"ROLLBACK"), driver)


def _pipelined(driver: Any, names: list[bytes], values: list[list[bytes | None]],
               begin: bool, commit: bool = False) -> list[pq.abc.PGresult]:
    """Send (BEGIN,) the prepared statements (and COMMIT) with one sync, then read their
    results: one per statement (the COMMIT's last), the first error's and the ones aborted
    after it included. A connection left in pipeline mode by a failure here is closed, so
    the pool discards it."""
    pgconn = driver.pgconn
    pgconn.enter_pipeline_mode()
    try:
        if begin:
            pgconn.send_query_params(b"BEGIN", None)
        for name, vals in zip(names, values, strict=True):
            pgconn.send_query_prepared(name, vals, None, 0)
        if commit:
            pgconn.send_query_params(b"COMMIT", None)
        pgconn.pipeline_sync()
        _flush(pgconn)
        results: list[pq.abc.PGresult] = []
        while True:
            result = _next_result(pgconn)
            if result is None:  # the end of one statement's results
                continue
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                break
            results.append(result)
        pgconn.exit_pipeline_mode()
    except BaseException:
        try:
            pgconn.exit_pipeline_mode()
        except Exception:  # results left unread: the connection cannot be used again
            pgconn.finish()
        raise
    return results[1:] if begin else results


def _call(pgconn: Any, blocking: Any, send: Any, *args: Any) -> pq.abc.PGresult:
    """One command's (last) result: `blocking(*args)`, libpq waiting with the GIL released;
    inside inline.run, `send(*args)` and each wait handed to the event loop, which serves
    other requests while the server works."""
    if not inline.active():
        return blocking(*args)  # type: ignore[no-any-return]
    send(*args)
    _flush(pgconn)
    last = None
    while (result := _next_result(pgconn)) is not None:
        last = result
    return last  # type: ignore[return-value]


def _flush(pgconn: Any) -> None:
    """Until everything sent has left libpq's buffer (the waits through inline.wait_fd)."""
    while pgconn.flush() == 1:
        inline.wait_fd(pgconn.socket, inline.WRITE)


def _next_result(pgconn: Any) -> pq.abc.PGresult | None:
    """libpq's next result once it has arrived (None: the end of a command's results)."""
    while pgconn.is_busy():
        inline.wait_fd(pgconn.socket, inline.READ, lasting=True)
        pgconn.consume_input()
    return pgconn.get_result()


def _check(result: pq.abc.PGresult, driver: Any) -> None:
    if result.status not in _OK:
        raise errors.error_from_result(result, encoding=driver.info.encoding)
