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


def _read(sock: socket.socket) -> bytes:
    """What arrives next, waiting inline on a lasting socket (which may report ready when it
    is not — an event the loop found before the last read — as poll() may: read without
    blocking and wait again, as libpq does)."""
    sock.setblocking(False)
    while True:
        inline.wait_fd(sock.fileno(), inline.READ, lasting=True)
        try:
            return sock.recv(10)
        except BlockingIOError:
            continue


class Counting:
    """Counts the loop's add_reader calls (registrations with the loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.added = 0
        original = loop.add_reader

        def add_reader(fd: int, callback: Any, *args: Any) -> None:
            self.added += 1
            original(fd, callback, *args)

        loop.add_reader = add_reader  # type: ignore[method-assign]


def test_database_sockets_cost_the_loop_one_registration_whatever_the_waits(
        pair: tuple[socket.socket, socket.socket]) -> None:
    """Waits on owned sockets go through one epoll set of inline's own, which the loop
    watches as one reader: no add_reader/remove_reader a wait."""
    a, b = pair
    c, d = socket.socketpair()

    def reads(sock: socket.socket) -> list[bytes]:
        return [_read(sock) for _ in range(3)]

    async def scenario() -> tuple[list[bytes], list[bytes], int]:
        counting = Counting(asyncio.get_running_loop())
        first = asyncio.ensure_future(inline.run(reads, a))
        second = asyncio.ensure_future(inline.run(reads, c))
        for word in (b"one", b"two", b"three"):
            await asyncio.sleep(0.01)
            b.send(word)
            d.send(word.upper())
        return await first, await second, counting.added

    try:
        got_a, got_c, added = asyncio.run(scenario())
    finally:
        c.close()
        d.close()
    assert got_a == [b"one", b"two", b"three"] and got_c == [b"ONE", b"TWO", b"THREE"]
    assert added == 1


def test_a_socket_nobody_waits_on_does_not_wake_the_loop(
        pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch) -> None:
    """One-shot: a pooled connection's socket turning readable while no work waits on it
    (a thread using the connection, a notice from the server) costs the loop nothing."""
    a, b = pair
    calls = 0
    original = inline._Sockets.dispatch

    def counted(self: Any) -> None:
        nonlocal calls
        calls += 1
        original(self)

    monkeypatch.setattr(inline._Sockets, "dispatch", counted)

    def work() -> list[bytes]:
        first = _read(a)
        # data arrives and sits unread while the work waits 50 ms on a thread
        inline.blocking(lambda: (b.send(b"later"), time.sleep(0.05)))
        return [first, _read(a)]  # (reported at once: it came before the wait)

    async def scenario() -> list[bytes]:
        task = asyncio.ensure_future(inline.run(work))
        await asyncio.sleep(0.01)
        b.send(b"first")
        return await task

    assert asyncio.run(scenario()) == [b"first", b"later"]
    assert calls <= 3, f"the loop was woken {calls} times, mostly for a socket nobody waited on"


def test_a_closed_sockets_number_taken_by_a_new_socket_is_waited_on_afresh() -> None:
    """The kernel drops a closed socket from inline's epoll set; the next wait on the same
    number (another connection now) registers it again."""
    old, old_peer = socket.socketpair()
    number = old.fileno()

    def work() -> bytes:
        _read(old)
        old.close()
        old_peer.close()
        new, new_peer = socket.socketpair()
        try:
            mine, theirs = (new, new_peer) if new.fileno() == number else (new_peer, new)
            assert mine.fileno() == number  # (the lowest free numbers: the old ones)
            theirs.send(b"fresh")
            return _read(mine)
        finally:
            new.close()
            new_peer.close()

    async def scenario() -> bytes:
        task = asyncio.ensure_future(inline.run(work))
        await asyncio.sleep(0.01)
        old_peer.send(b"x")
        return await task

    assert asyncio.run(scenario()) == b"fresh"


def test_without_epoll_each_wait_registers_with_the_loop(
        pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch) -> None:
    """(macOS and the BSDs have no epoll: the waits still work, one registration each.)"""
    monkeypatch.setattr(inline, "EPOLL", False)
    a, b = pair

    def two() -> list[bytes]:
        return [_read(a) for _ in range(2)]

    async def scenario() -> tuple[list[bytes], int]:
        counting = Counting(asyncio.get_running_loop())
        task = asyncio.ensure_future(inline.run(two))
        for word in (b"x", b"y"):
            await asyncio.sleep(0.01)
            b.send(word)
        return await task, counting.added

    got, added = asyncio.run(scenario())
    assert got == [b"x", b"y"] and added >= 2
