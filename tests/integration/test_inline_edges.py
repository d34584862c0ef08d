"""adapters/inline.py's epoll set (_Sockets) at its edges — its lifetime, hang-ups,
resets, errors arming a wait, a socket closed under a wait (a known limitation, kept as a
strict xfail) — and two more waits that must not hold up the loop: a reconnect after a
failed idle ping, an opening waiting on an order row lock.

Every wait here is bounded: a watchdog resolves any wait still pending in inline's epoll
set after a few seconds (so a wait that is never woken fails an assertion instead of
hanging), lock holders let go from timer threads, and loops are driven with
run_until_complete on loops this module creates (asyncio's and uvloop's)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import psycopg
import pytest

from aftersales.adapters import inline
from conftest import Make
from integration.locks import plain

uvloop = pytest.importorskip("uvloop")

WATCHDOG = 3.0
pytestmark = pytest.mark.timeout(90)  # (a last resort; the watchdog below comes first)
_armed: list[asyncio.Future[int]] = []  # every future inline's epoll set handed out


@pytest.fixture(autouse=True)
def _record_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = inline._Sockets.wait

    def wait(self: Any, loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.Future[int]:
        future = original(self, loop, fd)
        _armed.append(future)
        return future

    monkeypatch.setattr(inline._Sockets, "wait", wait)
    yield
    _armed.clear()
LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture(params=sorted(LOOPS))
def new_loop(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    return LOOPS[request.param]


def _drive(make: Callable[[], asyncio.AbstractEventLoop],
           scenario: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[Any, bool]:
    """`scenario()` on a new loop, closed afterwards; with whether the watchdog had to
    resolve a wait nobody woke (each such wait then returned 0)."""
    loop = make()
    fired = False

    def watchdog() -> None:
        nonlocal fired
        for future in [f for f in _armed if f.get_loop() is loop]:
            if not future.done():
                fired = True
                future.set_result(0)
        handle[0] = loop.call_later(0.5, watchdog)

    handle = [loop.call_later(WATCHDOG, watchdog)]
    try:
        result = loop.run_until_complete(scenario())
    finally:
        handle[0].cancel()
        loop.close()
    return result, fired


def _eventpolls() -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += "eventpoll" in os.readlink(f"/proc/self/fd/{name}")
    return count


def _wait_then_recv(sock: socket.socket) -> tuple[int, bytes]:
    ready = inline.wait_fd(sock.fileno(), inline.READ, lasting=True)
    try:
        return ready, sock.recv(100)
    except OSError as exc:  # a reset connection
        return ready, repr(exc).encode()


# -- the epoll set's lifetime ------------------------------------------------------------

@pytest.mark.skipif(not inline.EPOLL, reason="epoll only")
def test_a_closed_loops_epoll_set_is_closed_and_the_loop_let_go(
        new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """The epoll set lives as long as its loop (`weakref.finalize(loop, epoll.close)`). It
    once kept `self.loop`, and `_sockets` (a WeakKeyDictionary) keeps each set as a value:
    the value held its own key, so neither the loop nor the epoll fd was ever freed — one
    eventpoll descriptor and one dead loop per loop that ever ran an inline database wait
    (every TestClient, every asyncio.run)."""
    gc.collect()
    before = _eventpolls()

    # control: a loop that never ran an inline wait is freed
    control = new_loop()
    control.run_until_complete(asyncio.sleep(0))
    control.close()
    control_ref = weakref.ref(control)
    del control
    gc.collect()
    assert control_ref() is None, "(the harness itself keeps loops alive)"

    refs = []
    for _ in range(3):
        a, b = socket.socketpair()

        async def scenario(a: socket.socket = a, b: socket.socket = b) -> tuple[int, bytes]:
            task = asyncio.ensure_future(inline.run(_wait_then_recv, a))
            await asyncio.sleep(0.01)
            b.send(b"x")
            return await task

        loop = new_loop()
        refs.append(weakref.ref(loop))
        try:
            assert loop.run_until_complete(scenario()) == (inline.READ, b"x")
        finally:
            loop.close()
            a.close()
            b.close()
        del loop
    _armed.clear()  # (this module's record of the futures would keep their loops)
    gc.collect()
    alive = sum(r() is not None for r in refs)
    leaked = _eventpolls() - before
    assert alive == 0 and leaked == 0, (
        f"{alive} of 3 closed loops still alive, {leaked} eventpoll fds left open")


# -- what wakes a read wait ---------------------------------------------------------------

@pytest.mark.skipif(not inline.EPOLL, reason="epoll only")
def test_the_peer_hanging_up_wakes_a_database_read_wait(
        new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """EPOLLIN | EPOLLONESHOT: the peer's close is reported (EOF is readable; HUP/ERR are
    always reported) to the one armed wait."""
    a, b = socket.socketpair()

    async def scenario() -> tuple[int, bytes]:
        task = asyncio.ensure_future(inline.run(_wait_then_recv, a))
        await asyncio.sleep(0.05)
        b.close()
        return await task

    try:
        (ready, got), fired = _drive(new_loop, scenario)
    finally:
        a.close()
        b.close()
    assert not fired and ready == inline.READ and got == b""


@pytest.mark.skipif(not inline.EPOLL, reason="epoll only")
def test_a_reset_connection_wakes_a_database_read_wait(
        new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """A TCP reset (EPOLLERR | EPOLLHUP, nothing asked for but EPOLLIN) wakes the wait;
    the reader then meets the error."""
    listener = socket.create_server(("127.0.0.1", 0))
    a = socket.create_connection(listener.getsockname())
    b, _ = listener.accept()
    listener.close()

    async def scenario() -> tuple[int, bytes]:
        task = asyncio.ensure_future(inline.run(_wait_then_recv, a))
        await asyncio.sleep(0.05)
        b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        b.close()  # RST
        return await task

    try:
        (ready, got), fired = _drive(new_loop, scenario)
    finally:
        a.close()
        b.close()
    assert not fired and ready == inline.READ and b"ConnectionReset" in got


@pytest.mark.skipif(not inline.EPOLL, reason="epoll only")
def test_a_hangup_between_two_waits_is_reported_when_the_second_arms(
        new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """One-shot disarms the socket after the first wait; the peer sends and hangs up while
    the work does something else; re-arming (EPOLL_CTL_MOD) reports both at once."""
    a, b = socket.socketpair()

    def work() -> list[tuple[int, bytes]]:
        first = _wait_then_recv(a)
        inline.blocking(lambda: (b.send(b"last"), b.close(), time.sleep(0.05)))
        return [first, _wait_then_recv(a), _wait_then_recv(a)]

    async def scenario() -> list[tuple[int, bytes]]:
        task = asyncio.ensure_future(inline.run(work))
        await asyncio.sleep(0.02)
        b.send(b"first")
        return await task

    try:
        got, fired = _drive(new_loop, scenario)
    finally:
        a.close()
        b.close()
    assert not fired
    assert got == [(inline.READ, b"first"), (inline.READ, b"last"), (inline.READ, b"")]


# -- errors from epoll_ctl --------------------------------------------------------------

@pytest.mark.skipif(not inline.EPOLL, reason="epoll only")
def test_an_error_arming_a_wait_reaches_the_work_and_leaves_nothing_behind(
        new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """A regular file (EPERM from epoll_ctl) and a closed number (EBADF) raise into the
    work that waited; nothing is left pending in the set and the next wait works."""
    a, b = socket.socketpair()
    with tempfile.TemporaryFile() as regular:
        def wait_on(fd: int) -> str:
            try:
                inline.wait_fd(fd, inline.READ, lasting=True)
            except OSError as exc:
                return type(exc).__name__ + f":{exc.errno}"
            return "woken"

        async def scenario() -> tuple[str, str, tuple[int, bytes], int]:
            file_error = await inline.run(wait_on, regular.fileno())
            # a number closed just now (taken after the loop's and the set's own fds:
            # waiting on those is another matter — libuv aborts on the epoll loop)
            spare = socket.socket()
            closed = spare.fileno()
            spare.close()
            closed_error = await inline.run(wait_on, closed)
            task = asyncio.ensure_future(inline.run(_wait_then_recv, a))
            await asyncio.sleep(0.01)
            b.send(b"ok")
            after = await task
            pending = inline._sockets[asyncio.get_running_loop()].waiting
            return file_error, closed_error, after, len(pending)

        try:
            (file_error, closed_error, after, pending), fired = _drive(new_loop, scenario)
        finally:
            a.close()
            b.close()
    import errno
    assert file_error == f"PermissionError:{errno.EPERM}"
    assert closed_error == f"OSError:{errno.EBADF}"
    assert after == (inline.READ, b"ok") and pending == 0 and not fired


@pytest.mark.skipif(not inline.EPOLL, reason="epoll only")
@pytest.mark.xfail(strict=True, reason="known limitation: a socket closed under a pending "
                   "wait leaves the set silently (no EPOLLHUP, unlike poll's POLLNVAL); the "
                   "wait is never woken and a new socket on the number takes its slot")
def test_a_socket_closed_under_a_pending_wait_wakes_that_wait(
        new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """Not reachable through the app (a connection is closed by the work that waits on it),
    but what happens if someone else closes it: work A waits on number N; N is closed and
    reused by a new socket that work B waits on. B is served; A is never woken (the
    watchdog has to resolve it)."""
    old, old_peer = socket.socketpair()
    number = old.fileno()

    async def scenario() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        first = asyncio.ensure_future(inline.run(
            lambda: (inline.wait_fd(number, inline.READ, lasting=True), b"")))
        await asyncio.sleep(0.02)
        old.close()
        old_peer.close()
        new, new_peer = socket.socketpair()
        mine = new if new.fileno() == number else new_peer
        theirs = new_peer if mine is new else new
        try:
            second = asyncio.ensure_future(inline.run(_wait_then_recv, mine))
            await asyncio.sleep(0.02)
            theirs.send(b"B")
            got_b = await second
            got_a = await first
        finally:
            new.close()
            new_peer.close()
        return got_a, got_b

    (_got_a, got_b), fired = _drive(new_loop, scenario)
    assert got_b == (inline.READ, b"B")
    assert not fired, "work A's wait was never woken"


# -- PostgreSQL: what inline work may still wait on -------------------------------------

@pytest.mark.postgres
def test_a_failed_idle_ping_reconnects_on_a_thread_and_the_loop_goes_on(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pooled connection idle past PING_AFTER_IDLE_SECONDS whose backend is gone: the
    ping fails on checkout, SQLAlchemy invalidates the pool and reconnects the record
    (_ConnectionRecord.get_connection, on the loop's thread) — the connect itself must go
    to a thread (do_connect -> inline.blocking), the loop ticking on meanwhile."""
    from aftersales.adapters.db import libpq
    from aftersales.adapters.db.engine import make_engine

    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with psycopg.connect(plain(pg_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    for record in list(engine.pool._pool.queue):  # type: ignore[attr-defined]
        record.info["idle_since"] = time.monotonic() - 60

    opened_on: list[int] = []
    original = libpq.PgConnection.connect

    def slow_connect(*args: Any, **kwargs: Any) -> Any:
        opened_on.append(threading.get_ident())
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(libpq.PgConnection, "connect", slow_connect)

    def work() -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    async def scenario() -> tuple[int, float, int]:
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = time.monotonic()
            while not done:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.ensure_future(ticker())
        try:
            value = await asyncio.wait_for(inline.run(work), 10)
        finally:
            done = True
            await tick
        return value, max(gaps), threading.get_ident()

    try:
        (new_pid, widest, loop_thread), _ = _drive(asyncio.new_event_loop, scenario)
    finally:
        engine.dispose()
    assert new_pid != pid and opened_on and loop_thread not in opened_on
    assert widest < 0.2, f"the loop stood still for {widest:.2f} s"


@pytest.mark.postgres
def test_opening_a_case_on_a_locked_order_does_not_hold_up_the_loop(pg_app: Any) -> None:
    """create_case's first statement locks the order (store.get_order_bundle(lock=True),
    a pipeline); with the order held elsewhere the opening waits, and another inline work
    finishes meanwhile."""
    from aftersales.entrypoints.api.routes.cases import create_case
    from aftersales.entrypoints.api.schemas.cases import CaseIn

    make = Make(pg_app)
    shop = make.shop()
    order = make.order(shop)
    other = make.order(shop)
    buyer = make.buyer(order)
    body = CaseIn.model_validate({"order_id": order.id, "type": "return_refund",
                                  "reason": "quality_issue",
                                  "lines": [{"line_id": order.lines[0].id, "quantity": 1}]})
    holder = psycopg.connect(plain(pg_app.engine.url.render_as_string(hide_password=False)))
    holder.execute("SELECT id FROM orders WHERE id = %s FOR UPDATE", (order.id,))
    released: list[float] = []
    lock = threading.Lock()

    def release() -> None:
        with lock:
            if not released:
                holder.rollback()
                released.append(time.monotonic())

    timer = threading.Timer(3.0, release)
    timer.start()

    def quick() -> int:
        with pg_app.engine.connect() as conn:
            return int(conn.exec_driver_sql(
                "SELECT count(*) FROM orders WHERE id = %s", (other.id,)).scalar_one())

    async def scenario() -> tuple[int, float, int]:
        opening = asyncio.ensure_future(inline.run(create_case, pg_app.deps, buyer, body))
        await asyncio.sleep(0.3)
        assert not opening.done(), "the opening should be waiting for the order's lock"
        count = await inline.run(quick)
        quick_done = time.monotonic()
        release()
        response = await opening
        return count, quick_done, response.status_code

    try:
        (count, quick_done, status), _ = _drive(asyncio.new_event_loop, scenario)
    finally:
        timer.cancel()
        release()
        holder.close()
    assert count == 1 and status == 201
    assert quick_done < released[0], "the other work waited for the order's lock too"
