"""adapters/inline.py without a database: blocking code on the loop's thread, its waits
handed to the loop — results, errors, waits that let other tasks run, threads for what
blocks elsewhere, timeouts, and a cancellation that lets the work finish first."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aftersales.adapters import inline


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_a_result_and_an_error_come_back_and_the_work_runs_on_the_loops_thread() -> None:
    def add(a: int, b: int) -> tuple[int, int, bool]:
        return a + b, threading.get_ident(), inline.active()

    def boom() -> None:
        raise KeyError("gone")

    async def both() -> tuple[tuple[int, int, bool], int]:
        value = await inline.run(add, 2, 3)
        with pytest.raises(KeyError, match="gone"):
            await inline.run(boom)
        return value, threading.get_ident()

    (total, worked_on, active), loop_thread = asyncio.run(both())
    assert (total, active) == (5, True) and worked_on == loop_thread
    assert not inline.active()


def test_a_wait_lets_the_loop_run_other_work(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    order: list[str] = []

    def reader() -> bytes:
        order.append("waiting")
        ready = inline.wait_fd(a.fileno(), inline.READ)
        order.append("woken")
        assert ready & inline.READ
        return a.recv(10)

    async def writer() -> None:
        await asyncio.sleep(0.05)
        order.append("writing")  # the reader's wait did not hold up the loop
        b.send(b"ping")

    async def both() -> bytes:
        got, _ = await asyncio.gather(inline.run(reader), writer())
        return got

    assert asyncio.run(both()) == b"ping"
    assert order == ["waiting", "writing", "woken"]


def test_many_works_wait_at_once_and_each_gets_its_own_answer() -> None:
    pairs = [socket.socketpair() for _ in range(20)]

    def echo(i: int) -> bytes:
        mine = pairs[i][0]
        inline.wait_fd(mine.fileno(), inline.READ)
        return mine.recv(10)

    async def all_of_them() -> list[bytes]:
        works = [asyncio.ensure_future(inline.run(echo, i)) for i in range(20)]
        await asyncio.sleep(0.01)
        for i in reversed(range(20)):
            pairs[i][1].send(str(i).encode())
        return list(await asyncio.gather(*works))

    try:
        assert asyncio.run(all_of_them()) == [str(i).encode() for i in range(20)]
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_a_wait_times_out_with_nothing_ready(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair

    def wait() -> tuple[int, float]:
        started = time.monotonic()
        return inline.wait_fd(a.fileno(), inline.READ, timeout=0.05), time.monotonic() - started

    ready, took = asyncio.run(inline.run(wait))
    assert ready == 0 and 0.04 < took < 2
    ready, took = wait()  # outside run: poll()
    assert ready == 0 and 0.04 < took < 2


def test_outside_run_a_wait_polls_and_blocking_calls_directly(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    b.send(b"x")
    assert inline.wait_fd(a.fileno(), inline.READ) & inline.READ
    assert inline.wait_fd(a.fileno(), inline.WRITE) & inline.WRITE
    assert inline.blocking(threading.get_ident) == threading.get_ident()


def test_blocking_runs_on_a_thread_while_the_loop_goes_on() -> None:
    ticks: list[float] = []

    def work() -> int:
        def slow() -> int:
            time.sleep(0.1)
            return threading.get_ident()
        return inline.blocking(slow)

    def failing() -> str:
        def boom() -> None:
            raise OSError("provider down")
        try:
            inline.blocking(boom)
        except OSError as exc:  # the thread's error arrives inside the work
            return str(exc)
        return "no error"

    async def ticker() -> None:
        for _ in range(5):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def both() -> tuple[int, str, int]:
        thread, _ = await asyncio.gather(inline.run(work), ticker())
        return thread, await inline.run(failing), threading.get_ident()

    thread, error, loop_thread = asyncio.run(both())
    assert thread != loop_thread and error == "provider down"
    assert len(ticks) == 5


def test_a_cancelled_caller_lets_the_work_finish_then_is_cancelled(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    finished: list[bytes] = []

    def work() -> None:
        inline.wait_fd(a.fileno(), inline.READ)
        finished.append(a.recv(10))

    async def scenario() -> None:
        task = asyncio.ensure_future(inline.run(work))
        await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.sleep(0.02)
        assert not task.done()  # still waiting for its socket, not abandoned
        b.send(b"late")
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert finished == [b"late"]


def _read(sock: socket.socket, owner: object) -> bytes:
    """What arrives next, waiting inline with `owner` (a watched socket may report ready
    when it is not — an event the loop found before the last read — as poll() may: read
    without blocking and wait again, as libpq does)."""
    sock.setblocking(False)
    while True:
        inline.wait_fd(sock.fileno(), inline.READ, owner=owner)
        try:
            return sock.recv(10)
        except BlockingIOError:
            continue


class Counting:
    """Counts the loop's add_reader calls (the registrations a wait costs)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.added = 0
        original = loop.add_reader

        def add_reader(fd: int, callback: Any, *args: Any) -> None:
            self.added += 1
            original(fd, callback, *args)

        loop.add_reader = add_reader  # type: ignore[method-assign]


def test_a_socket_waited_on_again_by_one_work_is_registered_once_and_let_go_at_its_end(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    owner = object()

    def three_reads() -> list[bytes]:
        got = []
        for _ in range(3):
            got.append(_read(a, owner))
        return got

    async def scenario() -> tuple[list[bytes], int, bool]:
        loop = asyncio.get_running_loop()
        counting = Counting(loop)
        work = asyncio.ensure_future(inline.run(three_reads))
        for word in (b"one", b"two", b"three"):
            await asyncio.sleep(0.01)
            b.send(word)
        got = await work
        return got, counting.added, loop.remove_reader(a.fileno())

    got, added, still_watched = asyncio.run(scenario())
    assert got == [b"one", b"two", b"three"] and added == 1 and not still_watched


def test_readable_with_nobody_waiting_stops_the_watch_and_the_next_wait_starts_it_again(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    owner = object()

    def work() -> list[bytes]:
        first = _read(a, owner)
        # data arrives while the work waits on a thread, not on this socket
        inline.blocking(lambda: (b.send(b"later"), time.sleep(0.05)))
        return [first, _read(a, owner)]  # (ready already)

    async def scenario() -> tuple[list[bytes], int]:
        counting = Counting(asyncio.get_running_loop())
        task = asyncio.ensure_future(inline.run(work))
        await asyncio.sleep(0.01)
        b.send(b"first")
        return await task, counting.added

    got, added = asyncio.run(scenario())
    assert got == [b"first", b"later"] and added == 2


def test_forget_and_another_owner_of_the_same_number_start_over(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    def work() -> int:
        _read(a, "first connection")
        inline.forget(a.fileno())
        _read(a, "first connection")
        return len(_read(a, "a new connection, same number"))

    async def scenario() -> tuple[int, int]:
        counting = Counting(asyncio.get_running_loop())
        task = asyncio.ensure_future(inline.run(work))
        for word in (b"1", b"2", b"3"):
            await asyncio.sleep(0.01)
            b.send(word)
        return await task, counting.added

    assert asyncio.run(scenario()) == (1, 3)
