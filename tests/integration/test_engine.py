"""The PostgreSQL pool pings each connection it hands out (`pool_pre_ping`), so one the
server dropped meanwhile is replaced before a request uses it; psycopg prepares the
store's statements."""

from __future__ import annotations

import psycopg

from aftersales.adapters.db import engine as engine_module
from aftersales.adapters.db.engine import make_engine
from conftest import PG_ADMIN, postgres_database


def test_a_connection_dropped_while_pooled_is_replaced_before_use() -> None:
    with postgres_database() as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        try:
            with engine.connect() as conn:
                first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            with engine.connect() as conn:  # pinged at checkout, found dead, replaced
                second = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            assert second != first
        finally:
            engine.dispose()


def test_psycopg_prepares_the_stores_statements_and_survives_their_deallocation() -> None:
    """The store's statements go through SQLAlchemy; psycopg prepares them on the server
    once a connection has run them PREPARE_THRESHOLD times, and after a DEALLOCATE ALL (sent
    by hand here; psycopg sends one itself when it drops its cache) the next actions
    prepare them again instead of failing."""
    from aftersales.adapters.clock import FixedClock
    from aftersales.adapters.db.migrate import upgrade
    from aftersales.entrypoints.bootstrap import bootstrap
    from aftersales.service import cases
    from conftest import T0, Make

    with postgres_database() as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        try:
            upgrade(engine)
            app = bootstrap(engine=engine, clock=FixedClock(T0))
            make = Make(app)
            shop = make.shop()
            agent = make.principal(shop)
            ids = [make.case(shop).case.id for _ in range(6)]

            def prepared() -> int:
                with engine.connect() as conn:
                    return int(conn.exec_driver_sql(
                        "SELECT count(*) FROM pg_prepared_statements").scalar_one())

            for case_id in ids[:3]:
                cases.act(app.deps, agent, case_id, "approve")
            assert engine_module.PREPARE_THRESHOLD <= 3 and prepared() > 0
            with engine.connect() as conn:
                conn.exec_driver_sql("DEALLOCATE ALL")
                conn.commit()
            for case_id in ids[3:]:
                assert cases.act(app.deps, agent, case_id, "approve").case.state.value \
                    == "awaiting_return"
            assert prepared() > 0
        finally:
            engine.dispose()
