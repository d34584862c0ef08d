"""A unit of work (PostgreSQL) when things go wrong: a connection lost while a statement
waits on a lock, a statement cancelled by its timeout, a failure inside a savepoint (the
sweep's pattern), the worker's connection dying in a sweep. Each is a database error
raised where it happens, and the pool hands out a working connection after."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, Integer, text
from sqlalchemy.exc import IntegrityError, OperationalError

from aftersales.adapters.clock import FixedClock
from aftersales.adapters.db.claims import SqlDeadlines
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.uow import SqlUnitOfWork
from aftersales.domain.vocabulary import Role, State
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.worker import run_worker
from aftersales.service import cases
from aftersales.service.ports import Principal
from conftest import T0, Make, migrated_engine

pytestmark = pytest.mark.postgres

INSERT = text("INSERT INTO review_probe (id, note) VALUES (:id, :note)")
IDS = text("SELECT id FROM review_probe WHERE note = :note ORDER BY id")
LOCK = text("SELECT id FROM review_rows WHERE id = :k FOR UPDATE").columns(id=Integer)
PID = text("SELECT pg_backend_pid() AS id").columns(id=Integer)
SLEEP = text("SELECT 1 AS id FROM pg_sleep(:s)").columns(id=Integer)
ONE = text("SELECT 1 AS id").columns(id=Integer)


@pytest.fixture
def app(pg_app: App) -> App:
    return pg_app  # (Make runs on PostgreSQL here)


def _dsn(pg_url: str) -> str:
    return pg_url.replace("postgresql+psycopg://", "postgresql://")


def _terminate(pg_url: str, pid: int) -> None:
    with psycopg.connect(_dsn(pg_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


@pytest.fixture
def one(pg_url: str) -> Iterator[Engine]:
    """A pool of one connection (every unit of work gets it), with tables of its own."""
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=5)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS review_probe "
                             "(id text PRIMARY KEY, note text NOT NULL)")
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS review_rows (id int PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO review_rows VALUES (1) ON CONFLICT DO NOTHING")
    yield engine
    engine.dispose()


def _uow(engine: Engine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, lambda: str(uuid.uuid4()))


def _ids(engine: Engine, note: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(IDS, {"note": note}).scalars())


# --- a connection lost in a transaction ----------------------------------------------------

def test_a_connection_killed_waiting_on_a_lock_raises_a_database_error_and_the_pool_recovers(
        one: Engine, pg_url: str) -> None:
    """The server ends the connection while a statement waits on a row lock: the unit of
    work raises the OperationalError (callers that catch database errors — the worker, the
    CLI — recognise it), closes the connection, and the pool of one hands out a working
    connection after."""
    with psycopg.connect(_dsn(pg_url)) as blocker:
        blocker.execute("SELECT 1 FROM review_rows WHERE id = 1 FOR UPDATE")
        seen: dict[str, Any] = {}

        def work() -> None:
            try:
                with _uow(one) as uow:
                    assert uow.conn is not None
                    seen["pid"] = uow.conn.connection.driver_connection.info.backend_pid
                    uow.conn.execute(LOCK, {"k": 1})  # waits on the lock
            except BaseException as exc:  # the outcome under test
                seen["error"] = exc

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        for _ in range(100):
            if "pid" in seen:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # (the statement is sent and waits on the row lock)
        _terminate(pg_url, seen["pid"])
        thread.join(10)
        assert not thread.is_alive(), "the statement hung after its connection died"
        blocker.rollback()
    error = seen.get("error")
    assert isinstance(error, OperationalError), repr(error)  # not PendingRollbackError
    with _uow(one) as uow:  # the pool of one hands out a working connection again
        assert uow.conn is not None
        assert uow.conn.execute(ONE).scalar() == 1
        uow.commit()


def test_the_deadline_worker_survives_its_connection_dying_in_a_sweep(
        app: App, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_worker promises that "a database outage must not kill the worker": a
    connection lost inside the sweep's transaction is one error counted and logged, and
    the next pass runs."""
    original = SqlDeadlines.claim_due
    killed: list[int] = []

    def claim_after_losing_the_connection(self: SqlDeadlines, *args: Any, **kwargs: Any) -> Any:
        if not killed:  # the first sweep's connection is ended by the server
            pid = self.conn.connection.driver_connection.info.backend_pid
            killed.append(pid)
            _terminate(pg_url, pid)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SqlDeadlines, "claim_due", claim_after_losing_the_connection)
    logs: list[str] = []
    stats = run_worker(app.deps, threading.Event(), interval=0, max_passes=2,
                       log=logs.append)
    assert killed
    assert stats.passes == 2 and stats.errors == 1, (stats, logs)


# --- behaviour the review checked ----------------------------------------------------------

def test_a_statement_timeout_leaves_the_connection_usable(one: Engine) -> None:
    """A statement cancelled by statement_timeout is raised as OperationalError
    (QueryCanceled); the unit of work rolls back what it wrote, and the next unit of work
    on the same (only) connection works."""
    note = uuid.uuid4().hex
    with _uow(one) as uow:
        assert uow.conn is not None
        uow.conn.exec_driver_sql("SET LOCAL statement_timeout = 200")
        uow.conn.execute(INSERT, {"id": f"t-{note}", "note": note})
        with pytest.raises(OperationalError, match="statement timeout"):
            uow.conn.execute(SLEEP, {"s": 3})
    with _uow(one) as uow:
        assert uow.conn is not None
        assert uow.conn.execute(ONE).scalar() == 1
        pgconn = uow.conn.connection.driver_connection.pgconn
        assert pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        uow.commit()
        assert pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert _ids(one, note) == []


def test_a_failure_inside_a_savepoint_body_is_rolled_back_to_and_the_rest_commits(
        one: Engine) -> None:
    """The sweep's pattern ("one bad row must not stall the rows behind it"): a write
    that fails inside a savepoint block is rolled back to the savepoint with the block's
    other writes, and the writes before and after the block commit."""
    note = uuid.uuid4().hex
    with _uow(one) as uow:
        assert uow.conn is not None
        uow.conn.execute(INSERT, {"id": f"a-{note}", "note": note})
        with pytest.raises(IntegrityError), uow.savepoint():
            uow.conn.execute(INSERT, {"id": f"x-{note}", "note": note})
            uow.conn.execute(INSERT, {"id": f"a-{note}", "note": note})  # a clash
        with uow.savepoint():
            uow.conn.execute(INSERT, {"id": f"b-{note}", "note": note})
        uow.commit()
    assert _ids(one, note) == [f"a-{note}", f"b-{note}"]


def test_lock_order_answers_the_ledger_refunds_for_order_answers(app: App, make: Make) -> None:
    """lock_order answers the order's ledger as of the lock (start_refund plans with it):
    the same ledger, entry for entry, as refunds_for_order (amounts, statuses, times,
    lines)."""
    shop = make.shop("kuaishou", sandbox=True)
    order = make.order(shop, price=10000)
    case = make.case(shop, order, type="refund_only", reason="not_as_described").case
    agent = Principal(shop.shop.id, Role.agent, None, "agent1")
    assert cases.act(app.deps, agent, case.id, "approve").case.state in (
        State.refunding, State.completed)
    with app.deps.uow() as uow:
        fresh = uow.orders.lock_order(shop.shop.id, order.id)
        assert fresh and fresh == uow.ledger.refunds_for_order(shop.shop.id, order.id)


def test_sqlite_openings_and_refunds_are_unaffected(tmp_path: Any) -> None:
    """On SQLite the order lock is a no-op and an opening plus a refund land (one
    succeeded goods refund)."""
    with migrated_engine(f"sqlite:///{tmp_path}/r.db") as engine:
        sqlite_app = bootstrap(engine=engine, clock=FixedClock(T0))
        make = Make(sqlite_app)
        shop = make.shop("kuaishou", sandbox=True)
        order = make.order(shop, price=10000)
        case = make.case(shop, order, type="refund_only", reason="not_as_described").case
        agent = Principal(shop.shop.id, Role.agent, None, "agent1")
        cases.act(sqlite_app.deps, agent, case.id, "approve")
        with sqlite_app.deps.uow() as uow:
            assert uow.orders.lock_order(shop.shop.id, order.id) is None
            ledger = uow.ledger.refunds_for_order(shop.shop.id, order.id)
        assert [(e.kind, e.amount.amount, e.status) for e in ledger] == [
            ("goods", 10000, "succeeded")]
