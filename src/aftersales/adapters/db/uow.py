"""The unit of work: one connection, one transaction per command — or, for an optimistic
attempt, one connection in autocommit that becomes a transaction only if the command
writes more than its one-statement case save (attempts.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

from aftersales.adapters.db.attempts import ATTEMPT, driver
from aftersales.adapters.db.statements import BEHIND, flush_behind
from aftersales.adapters.db.store import SqlStore
from aftersales.service.errors import NeedsTransaction


class SqlUnitOfWork:
    def __init__(self, engine: Engine, new_id: Callable[[], str], *,
                 optimistic: bool = False) -> None:
        self.engine = engine
        self.new_id = new_id
        self.optimistic = optimistic
        self.conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self.conn = self.engine.connect()
        if self.optimistic:
            # psycopg's own switch, turned back before the connection returns to the pool:
            # SQLAlchemy's isolation_level option costs 20–40 µs a unit of work setting and
            # resetting it (SQLAlchemy's implicit begin is a no-op on this driver, its
            # rollback one on a connection in autocommit)
            driver(self.conn).autocommit = True
        else:
            self.conn.begin()
        self.store = SqlStore(self.conn, self.new_id, optimistic=self.optimistic)
        if self.optimistic:
            self.conn.info[ATTEMPT] = self.store
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.conn is not None
        try:  # (writes still queued, never committed, are dropped at checkin: engine.py)
            if self.optimistic and not self.conn.invalidated:  # (an invalidated one is
                self.conn.info.pop(ATTEMPT, None)                # cleared with its connection)
                psycopg = driver(self.conn)
                try:
                    psycopg.rollback()  # an upgraded attempt's transaction, if not committed
                    psycopg.autocommit = False
                except Exception:  # a broken connection: the pool must not hand it out
                    self.conn.invalidate()
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()
            self.conn = None

    def commit(self) -> None:
        assert self.conn is not None
        if not self.optimistic:
            flush_behind(self.conn, commit=True)  # (statements.write_behind; with the COMMIT)
            self.conn.commit()
        elif self.store.upgraded:  # the attempt became a transaction on the driver
            flush_behind(self.conn, commit=True)
            driver(self.conn).commit()
        # else: the attempt's save (if any) committed itself
        # (psycopg's and SQLAlchemy's commits send nothing once libpq.py has committed)

    def rollback(self) -> None:
        assert self.conn is not None
        if not self.conn.invalidated:
            self.conn.info.pop(BEHIND, None)
        if self.optimistic and self.store.upgraded:
            driver(self.conn).rollback()
        self.conn.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        assert self.conn is not None
        with self.conn.begin_nested():
            yield
            # writes queued in the block go out in it: an error they meet is the block's,
            # rolled back to the savepoint, not a failed RELEASE leaving the transaction aborted
            flush_behind(self.conn)


def attempt_engine(engine: Engine) -> Engine:
    """`engine` for optimistic attempts (PostgreSQL): its units of work run in autocommit
    (SqlUnitOfWork) — no BEGIN, no COMMIT — and a statement other than a SELECT sent through SQLAlchemy first
    asks the attempt's store (attempts.py, before_write), which turns the attempt into a
    transaction on the case as it was read, or refuses. The store's own statements (the
    bundle read and the case save) bypass SQLAlchemy (statements.raw_execute, through
    libpq.py) and check for themselves. Shares `engine`'s pool; the listener is this
    engine's only."""
    attempts = engine.execution_options()

    @event.listens_for(attempts, "before_cursor_execute")
    def _before_write(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() == "SELECT":
            return
        store = conn.info.get(ATTEMPT)
        if store is None:  # not an attempt's connection: nothing to turn into a transaction
            raise NeedsTransaction(statement.split(None, 1)[0])
        store.before_write()

    return attempts
