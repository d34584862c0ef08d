"""The unit of work: one connection, one transaction per command — or, for an optimistic
attempt, one connection in autocommit whose only write is one self-contained statement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

from aftersales.adapters.db.store import SAVED, SqlStore
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
        if not self.optimistic:
            self.conn.begin()
        self.store = SqlStore(self.conn, self.new_id, optimistic=self.optimistic)
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.conn is not None
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
            if self.optimistic and not self.conn.invalidated:  # (an invalidated one is
                self.conn.info.pop(SAVED, None)                  # cleared with its connection)
        finally:
            self.conn.close()
            self.conn = None

    def commit(self) -> None:
        assert self.conn is not None
        if not self.optimistic:  # an attempt's save committed itself
            self.conn.commit()

    def rollback(self) -> None:
        assert self.conn is not None
        self.conn.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        assert self.conn is not None
        with self.conn.begin_nested():
            yield


def attempt_engine(engine: Engine) -> Engine:
    """`engine` for optimistic attempts (PostgreSQL): autocommit — no BEGIN, no COMMIT —
    and any statement other than a SELECT refused before it is sent. The store's case save
    is sent on the driver's cursor, not through here (store.save_case), and is the only
    write an attempt makes; anything else raises NeedsTransaction, so the command runs
    again in a transaction. Shares `engine`'s pool; the listener is this engine's only."""
    attempts = engine.execution_options(isolation_level="AUTOCOMMIT")

    @event.listens_for(attempts, "before_cursor_execute")
    def _reads_only(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() == "SELECT":
            return
        if conn.info.get(SAVED):
            raise RuntimeError("a write after an optimistic attempt's save: make it part of "
                               "the save, or leave the command to the locking path")
        raise NeedsTransaction(statement.split(None, 1)[0])

    return attempts
