"""Service work run inline (adapters/inline.py) on PostgreSQL: while one request waits for
the database — a row lock held elsewhere, a slow statement — the event loop goes on
serving the others, whichever way the wait reaches the server: libpq.py's single statement
(an optimistic save), its pipeline (a transaction's locked read) or psycopg's own cursor.

A wait that blocked the loop instead would hold every other request of the process until
the lock is let go; each test lets it go from a timer thread after a few seconds, so such
a bug fails an assertion instead of hanging the suite."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from aftersales.adapters import inline
from aftersales.entrypoints.bootstrap import App
from aftersales.service import cases
from conftest import Make
from integration.locks import Held

pytestmark = pytest.mark.postgres


def _while_one_waits(waiting: Callable[[], Any], other: Callable[[], Any], held: Held
                     ) -> tuple[Any, Any]:
    """Start `waiting` inline, then run `other` inline, which must be done before the lock
    is let go; release it; both results."""

    async def scenario() -> tuple[Any, Any, float]:
        first = asyncio.ensure_future(inline.run(waiting))
        await asyncio.sleep(0.3)
        assert not first.done(), "the work should be waiting for the lock"
        second = await inline.run(other)
        done_at = time.monotonic()
        held.release()
        return await first, second, done_at

    first, second, done_at = asyncio.run(scenario())
    assert held.released_at is not None and done_at < held.released_at
    return first, second


def test_an_optimistic_save_waiting_for_a_lock_does_not_hold_up_the_loop(
        pg_app: App, held: Callable[[str], Held]) -> None:
    make = Make(pg_app)
    shop = make.shop("kuaishou")
    a, b = make.case(shop, reason="no_reason"), make.case(shop, reason="no_reason")
    agent = make.principal(shop)
    lock = held(a.case.id)
    first, second = _while_one_waits(
        lambda: cases.act_view(pg_app.deps, agent, a.case.id, "approve"),
        lambda: cases.act_view(pg_app.deps, agent, b.case.id, "approve"), lock)
    assert first["state"] == second["state"] == "awaiting_return"


def test_a_transactions_locked_read_waiting_does_not_hold_up_the_loop(
        pg_app: App, held: Callable[[str], Held]) -> None:
    make = Make(pg_app)
    shop = make.shop("kuaishou")
    a, b = make.case(shop), make.case(shop)
    agent = make.principal(shop)
    lock = held(a.case.id)
    first, second = _while_one_waits(
        lambda: cases.add_message(pg_app.deps, agent, a.case.id, "请补充照片"),
        lambda: cases.add_message(pg_app.deps, agent, b.case.id, "已收到"), lock)
    assert first["body"] == "请补充照片" and second["body"] == "已收到"
    with pg_app.engine.connect() as conn:  # both committed
        assert conn.exec_driver_sql("SELECT count(*) FROM case_events WHERE kind = 'message' "
                                    "AND case_id IN (%s, %s)", (a.case.id, b.case.id)).scalar_one() == 2


def test_psycopgs_own_waits_go_to_the_loop_too(pg_app: App) -> None:
    order: list[str] = []

    def slow() -> None:
        with pg_app.engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(0.4)")
        order.append("slow")

    def quick() -> None:
        with pg_app.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 41 + 1").scalar_one() == 42
        order.append("quick")

    async def both() -> None:
        first = asyncio.ensure_future(inline.run(slow))
        await asyncio.sleep(0.1)
        await inline.run(quick)
        await first

    asyncio.run(both())
    assert order == ["quick", "slow"]


def test_a_database_error_inside_the_work_is_raised_and_the_connection_stays_usable(
        pg_app: App) -> None:
    def bad() -> None:
        with pg_app.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1 / 0")

    def fine() -> int:
        with pg_app.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT 7").scalar_one())

    async def both() -> int:
        with pytest.raises(Exception, match="division by zero"):
            await inline.run(bad)
        return await inline.run(fine)

    assert asyncio.run(both()) == 7


def test_a_connection_the_pool_opens_for_inline_work_is_opened_on_a_thread(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from aftersales.adapters.db import libpq
    from aftersales.adapters.db.engine import make_engine

    opened_on: list[int] = []
    original = libpq.PgConnection.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        opened_on.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(libpq.PgConnection, "connect", connect)
    engine = make_engine(pg_url)

    def work() -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT 5").scalar_one())

    async def inside() -> tuple[int, int]:
        return await inline.run(work), threading.get_ident()

    try:
        value, loop_thread = asyncio.run(inside())
        assert value == 5 and opened_on and loop_thread not in opened_on
    finally:
        engine.dispose()


def test_inline_work_waiting_for_a_connection_leaves_the_loop_free(pg_url: str) -> None:
    """Every connection out (here the pool's one, held by a thread): the work waits for it
    on a thread (engine.LoopSafePool), the loop ticking on meanwhile."""
    from aftersales.adapters.db.engine import make_engine

    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    with engine.connect():
        pass  # (opened once: the wait below is for the connection, not its opening)
    taken, give_back = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect():
            taken.set()
            give_back.wait(5)

    def work() -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT 3").scalar_one())

    async def scenario() -> tuple[int, float]:
        gaps: list[float] = []

        async def ticker() -> None:
            last = time.monotonic()
            while not give_back.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.ensure_future(ticker())
        waiting = asyncio.ensure_future(inline.run(work))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        give_back.set()
        value = await waiting
        await tick
        return value, max(gaps)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(5)
        value, widest = asyncio.run(scenario())
        assert value == 3 and widest < 0.2, f"the loop stood still for {widest:.2f} s"
    finally:
        give_back.set()
        holder.join()
        engine.dispose()
