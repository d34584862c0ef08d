"""Engines: SQLite (WAL, foreign keys on) embedded under ./var/, or PostgreSQL via psycopg.

Nothing is created at import time; the composition root calls `make_engine` once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from psycopg.types.json import set_json_loads
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from aftersales.adapters.db import bundles

DEFAULT_URL = "sqlite:///var/aftersales.db"
# psycopg prepares a statement on the server once a connection has run it this often
PREPARE_THRESHOLD = 2
# Execution option: this connection only reads (SQLite then does not take the write lock).
READ_ONLY = "aftersales_read_only"


class DatabaseUrlError(ValueError):
    code = "invalid_database_url"


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("AFTERSALES_DATABASE_URL") or DEFAULT_URL


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    raw = database_url(url)
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):  # (a port that is not a number)
        raise DatabaseUrlError(f"not a database URL: {raw!r}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(parsed.database, raw, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            raw = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("pool_pre_ping", True)  # a connection the server dropped is not reused
        kwargs.setdefault("max_overflow", 20)
        # (the store's statements are prebuilt, statements.py: their SQL repeats exactly)
        connect_args = {"prepare_threshold": PREPARE_THRESHOLD, **kwargs.pop("connect_args", {})}
        engine = create_engine(raw, json_serializer=bundles.dumps, connect_args=connect_args,
                               **kwargs)
        event.listen(engine, "connect", _fast_json)
        return engine
    raise DatabaseUrlError(f"unsupported database {parsed.get_backend_name()!r}: "
                           "use sqlite:/// or postgresql+psycopg://")



def _fast_json(dbapi_conn: Any, _record: Any) -> None:
    """psycopg parses JSON results with orjson: every action reads its case as JSON
    (bundles.py), and the standard json module is several times slower at it."""
    set_json_loads(bundles.loads, dbapi_conn)


def _sqlite(path: str | None, raw: str, **kwargs: Any) -> Engine:
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(raw, connect_args={"check_same_thread": False, "timeout": 30},
                           json_serializer=bundles.dumps, json_deserializer=bundles.loads,
                           **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so we can make it IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer takes the lock at BEGIN: no deadlock upgrading a read lock later.
        # A connection marked `read_only` only reads: a deferred BEGIN, a snapshot that
        # never blocks writers (WAL).
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
