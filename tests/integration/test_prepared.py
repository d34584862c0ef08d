"""libpq.py's prepared statements (PostgreSQL) outlive their deallocation: by psycopg,
which drops every prepared statement of a connection when it drops its own cache, or by
hand — before a transaction, between an attempt's read and its pipelined BEGIN, and in the
middle of a transaction."""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest

from aftersales.adapters.clock import FixedClock
from aftersales.domain.vocabulary import Role, State
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases
from aftersales.service.ports import Principal, UnitOfWork
from conftest import T0, Make

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: App) -> App:
    return pg_app  # (Make runs on PostgreSQL here)


def _agent(shop_id: str) -> Principal:
    return Principal(shop_id, Role.agent, None, "agent1")


def _events(app: App, case_id: str) -> list[str]:
    with app.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(
            "SELECT kind FROM case_events WHERE case_id = %(c)s ORDER BY seq", {"c": case_id})]


def test_an_attempts_statements_survive_their_deallocation(make: Make, pg_url: str) -> None:
    """The attempt's two statements go to libpq as named prepared statements (libpq.py);
    psycopg deallocates every prepared statement of a connection when a schema change
    invalidates its cache. The next action prepares them again."""
    from aftersales.adapters.db.engine import make_engine

    one = make_engine(pg_url, pool_size=1, max_overflow=0)  # every unit of work: this one
    try:
        app = bootstrap(engine=one, clock=FixedClock(T0))
        shop = make.shop()
        first, second = make.case(shop).case, make.case(shop).case
        agent = _agent(shop.shop.id)
        assert cases.act(app.deps, agent, first.id, "approve").case.state is State.awaiting_return
        with one.connect() as conn:
            conn.exec_driver_sql("DEALLOCATE ALL")
            conn.commit()
        assert cases.act(app.deps, agent, second.id, "approve").case.state \
            is State.awaiting_return
    finally:
        one.dispose()


def test_a_pipelined_begin_survives_deallocation(make: Make, pg_url: str) -> None:
    """In a transaction libpq.py sends its statements in pipeline mode, the BEGIN with the
    first ones (here the refund's: the case's and the order's locks, the ledger). Statements
    deallocated between the attempt's read and that BEGIN are prepared again and the
    transaction starts over; nothing is refunded twice."""
    from aftersales.adapters.db.engine import make_engine

    one = make_engine(pg_url, pool_size=1, max_overflow=0)  # every unit of work: this one
    try:
        app = bootstrap(engine=one, clock=FixedClock(T0))
        shop = make.shop()
        agent = _agent(shop.shop.id)
        first, second = (make.case(shop, type="refund_only", reason="not_as_described").case
                         for _ in range(2))
        assert cases.act(app.deps, agent, first.id, "approve").case.state in REFUNDED
        attempt = app.deps.attempt
        assert attempt is not None

        def deallocating() -> UnitOfWork:  # after the attempt's read, on its connection
            unit = attempt()
            store: Any = unit.__enter__().store
            read = store.get_case_bundle

            def read_then_deallocate(*args: Any, **kwargs: Any) -> Any:
                found = read(*args, **kwargs)
                pgconn = store.conn.connection.driver_connection.pgconn
                assert pgconn.exec_(b"DEALLOCATE ALL").status == psycopg.pq.ExecStatus.COMMAND_OK
                return found

            store.get_case_bundle = read_then_deallocate
            return _Entered(unit)  # type: ignore[return-value]

        deps = dataclasses.replace(app.deps, attempt=deallocating)
        assert cases.act(deps, agent, second.id, "approve").case.state in REFUNDED
        with one.connect() as conn:
            kinds = conn.exec_driver_sql("SELECT kind FROM refunds WHERE case_id = %(c)s",
                                         {"c": second.id}).scalars().all()
        assert kinds == ["goods"]
        assert _events(app, second.id).count("approve") == 1
    finally:
        one.dispose()


def test_libpq_statements_survive_psycopg_deallocating_all_in_a_transaction(pg_url: str) -> None:
    """psycopg prepares a statement run often enough and, when it drops its cache (after
    a rollback to a savepoint, say), sends DEALLOCATE ALL — which takes libpq.py's
    statements too, in the middle of the transaction. libpq.PgConnection hears of it and
    the next statement through libpq is prepared again instead of failing."""
    from sqlalchemy import Integer, text
    from sqlalchemy.exc import DataError

    from aftersales.adapters.db.engine import make_engine
    from aftersales.adapters.db.statements import raw_read

    one = make_engine(pg_url, pool_size=1, max_overflow=0)
    mine = text("SELECT 41 + :k AS n").columns(n=Integer)
    try:
        with one.connect() as conn:
            assert raw_read(conn, mine, {"k": 1}).n == 42  # prepared by libpq.py
            for _ in range(6):  # psycopg prepares this one itself (its threshold is 5)
                conn.exec_driver_sql("SELECT 1")
            with pytest.raises(DataError, match="division by zero"), conn.begin_nested():
                conn.exec_driver_sql("SELECT 1/0")
            # ROLLBACK TO SAVEPOINT: psycopg dropped its cache and sent DEALLOCATE ALL
            with conn.connection.driver_connection.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_prepared_statements")
                assert cur.fetchone()[0] == 0
            assert raw_read(conn, mine, {"k": 2}).n == 43  # same transaction, prepared again
            conn.commit()
    finally:
        one.dispose()


def test_one_statement_deallocated_by_hand_leaves_the_others_usable_in_a_transaction(
        pg_url: str) -> None:
    """A statement found missing outside a transaction is prepared again; the record of
    the others is checked against the server, not thrown away — preparing one that still
    exists would fail, and inside a transaction that aborts it."""
    from sqlalchemy import Integer, text

    from aftersales.adapters.db.engine import make_engine
    from aftersales.adapters.db.statements import raw_read

    one = make_engine(pg_url, pool_size=1, max_overflow=0)
    first = text("SELECT 50 + :k AS n").columns(n=Integer)
    second = text("SELECT 60 + :k AS n").columns(n=Integer)
    try:
        with one.connect() as conn:
            driver = conn.connection.driver_connection
            driver.autocommit = True  # (as an optimistic attempt runs)
            assert raw_read(conn, first, {"k": 1}).n == 51
            assert raw_read(conn, second, {"k": 1}).n == 61
            name = driver.execute("SELECT name FROM pg_prepared_statements "
                                  "WHERE statement LIKE 'SELECT 50 + %'").fetchone()[0]
            driver.execute(f'DEALLOCATE "{name}"')
            assert raw_read(conn, first, {"k": 2}).n == 52  # missing: prepared again
            driver.autocommit = False
            driver.execute("SELECT 1")  # a transaction psycopg began
            assert raw_read(conn, second, {"k": 2}).n == 62  # still prepared, used as it is
            conn.commit()
    finally:
        one.dispose()


REFUNDED = (State.refunding, State.completed)  # (the sandbox provider may still be paying)


class _Entered:
    """A unit of work already entered: `with` hands it out as it is."""

    def __init__(self, unit: Any) -> None:
        self.unit = unit

    def __enter__(self) -> Any:
        return self.unit

    def __exit__(self, *exc: object) -> None:
        self.unit.__exit__(*exc)
