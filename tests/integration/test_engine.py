"""The PostgreSQL pool pings a connection only after it sat idle, and recovers from a
connection the server dropped meanwhile (what `pool_pre_ping` did on every checkout)."""

from __future__ import annotations

import psycopg

from aftersales.adapters.db import engine as engine_module
from aftersales.adapters.db.engine import make_engine
from conftest import PG_ADMIN, postgres_database


def test_a_connection_dropped_while_idle_is_replaced_before_use(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with postgres_database() as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        try:
            with engine.connect() as conn:
                first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            # used moments ago: handed out again as is, no ping
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == first
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
            with engine.connect() as conn:  # idle "long enough": pinged, found dead, replaced
                second = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            assert second != first
        finally:
            engine.dispose()
