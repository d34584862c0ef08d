"""The unit of work: one connection, one transaction per command, committed or rolled back.

Every command runs here, the same way on both databases: it locks what it decides on
(store.py and turns.py say in which order), writes, and commits once. SQLite's writers
take the database lock at BEGIN IMMEDIATE (engine.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from aftersales.adapters.db.connections import SqlConnections, SqlOutbox
from aftersales.adapters.db.store import SqlStore
from aftersales.adapters.secrets import SecretBox


class SqlUnitOfWork:
    def __init__(self, engine: Engine, new_id: Callable[[], str],
                 secrets: Callable[[], SecretBox] | None = None) -> None:
        self.engine = engine
        self.new_id = new_id
        self.secrets = secrets  # asked only when credentials are read or written
        self.conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self.conn = self.engine.connect()
        self.conn.begin()
        self.store = SqlStore(self.conn, self.new_id)
        self.outbox = SqlOutbox(self.conn, self.new_id)
        return self

    @property
    def connections(self) -> SqlConnections:
        assert self.conn is not None
        return SqlConnections(self.conn, self.secrets or _no_key)

    def __exit__(self, *exc: Any) -> None:
        assert self.conn is not None
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()
            self.conn = None

    def commit(self) -> None:
        assert self.conn is not None
        self.conn.commit()

    def rollback(self) -> None:
        assert self.conn is not None
        self.conn.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        assert self.conn is not None
        with self.conn.begin_nested():
            yield


def _no_key() -> SecretBox:
    raise RuntimeError("this unit of work was made without a secret key")
