"""Blocking code run on the event loop's own thread, its socket waits handed to the loop.

The fast path (entrypoints/api/fastpath.py) runs a request's work — load, act, save, view:
synchronous code shared with the CLI and the worker — in a greenlet on the event loop's
thread instead of on a worker thread. Where that code would wait for PostgreSQL's socket
(psycopg's `Connection.wait`, libpq.py's pipeline), `wait_fd` hands the wait to the loop,
which serves other requests meanwhile; when the socket is ready the work resumes where it
stopped. What this saves is the two thread hand-offs of every request (a futex wake-up
each way, and the work thread and the loop taking the GIL from each other), measured in
bench/RESULTS.md. SQLAlchemy's asyncio extension rests on the same pattern; it is written
out here because the fast path needs only these few lines of it.

Only `wait_fd` and `blocking` yield. Anything else that blocks holds up every request of
the process while it lasts: SQLite's driver (it blocks inside C; fastpath.py keeps its
threads for SQLite), a file, an outside service — those calls go through `blocking`.
"""

from __future__ import annotations

import asyncio
import functools
import select
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import greenlet

T = TypeVar("T")
READ, WRITE = 1, 2  # (psycopg's Wait and Ready flags have these values)
EPOLL = hasattr(select, "epoll")  # (Linux; elsewhere each wait registers with the loop)


class _Work(greenlet.greenlet):
    """The greenlet of one `run` (what `active` recognises)."""


class _Sockets:
    """Database sockets inline works wait on, in an epoll set of this module's own that the
    loop watches as one reader. A wait re-arms its socket there, one-shot and
    level-triggered: data that came before the wait is reported at once, and a socket
    nobody waits on (a pooled connection a thread is using) never wakes the loop. That is
    two system calls a wait (the re-arm, and the loop's callback collecting what is ready),
    where uvloop's add_reader/remove_reader cost a handle and three.

    No bookkeeping of which socket is which: the kernel drops a closed socket from the set,
    so re-arming a number that now names another socket fails and registers it afresh. A
    socket closed while a wait on it is pending is dropped without an event, as it would be
    from the loop's own watchers; only the waiting work itself closes its connection here.

    The loop is not held (it holds this, through its reader): a loop that is gone closes
    the set."""

    MASK = (select.EPOLLIN | select.EPOLLONESHOT) if EPOLL else 0

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.epoll = select.epoll()
        self.waiting: dict[int, asyncio.Future[int]] = {}
        loop.add_reader(self.epoll.fileno(), self.dispatch)
        weakref.finalize(loop, self.epoll.close)

    def wait(self, loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.Future[int]:
        try:
            self.epoll.modify(fd, self.MASK)
        except FileNotFoundError:  # not in the set (yet, or no longer: closed and reused)
            self.epoll.register(fd, self.MASK)
        future = loop.create_future()
        self.waiting[fd] = future
        return future

    def dispatch(self) -> None:
        for fd, _ in self.epoll.poll(0):
            future = self.waiting.pop(fd, None)
            if future is not None and not future.done():
                future.set_result(READ)


_sockets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sockets] = \
    weakref.WeakKeyDictionary()


def active() -> bool:
    """Whether the running code is inside `run`: waits then go to the event loop."""
    return isinstance(greenlet.getcurrent(), _Work)


def wait_fd(fd: int, events: int, timeout: float | None = None, *, lasting: bool = False) -> int:
    """Until `fd` is ready for `events` (READ | WRITE): the ones it is ready for, 0 when
    `timeout` seconds passed first. Inside `run` the event loop waits, elsewhere poll()
    (the GIL released meanwhile). `lasting`: a socket waited on again and again (a
    database connection's): a read wait on it goes through an epoll set of this module's
    (_Sockets), and may report it ready when it is not, as poll() may: read without
    blocking and wait again."""
    current = greenlet.getcurrent()
    if isinstance(current, _Work):
        return current.parent.switch((fd, events, timeout, lasting))  # type: ignore[no-any-return]
    poller = select.poll()
    poller.register(fd, (select.POLLIN if events & READ else 0)
                    | (select.POLLOUT if events & WRITE else 0))
    found = poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
    return _flags(found[0][1]) if found else 0


def _flags(mask: int) -> int:
    ready = READ if mask & (select.POLLIN | select.POLLERR | select.POLLHUP) else 0
    return ready | (WRITE if mask & (select.POLLOUT | select.POLLERR | select.POLLHUP) else 0)


def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`: inside `run` on a thread of the loop's executor, awaited;
    elsewhere directly. For a call that blocks on something other than a socket `wait_fd`
    knows."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Work):
        return fn(*args, **kwargs)
    call = functools.partial(fn, *args, **kwargs) if kwargs else fn
    return current.parent.switch((call, args if not kwargs else (), None, False))  # type: ignore[no-any-return]


async def run(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on this thread, suspended at each wait until the loop finds it done.

    A cancellation of the caller does not abandon the work halfway (a connection in the
    middle of a round trip): the work runs to its end, then the cancellation is raised."""
    return await _drive(asyncio.get_running_loop(), _Work(fn), args)  # type: ignore[no-any-return]


async def _drive(loop: asyncio.AbstractEventLoop, work: _Work, args: tuple[Any, ...]) -> Any:
    request = work.switch(*args)
    cancelled: asyncio.CancelledError | None = None
    while not work.dead:
        target, spec, timeout, lasting = request
        thread = loop.run_in_executor(None, target, *spec) if callable(target) else None
        while True:
            try:
                if thread is not None:  # blocking(): the thread ends whatever happens here
                    value = await asyncio.shield(thread)
                elif lasting and spec == READ and timeout is None and EPOLL:
                    value = await _watched(loop, target)
                else:
                    value = await _ready(loop, target, spec, timeout)
            except asyncio.CancelledError as exc:
                cancelled = exc
                continue  # wait again: the work finishes first
            except BaseException as exc:
                request = work.throw(exc)
                break
            request = work.switch(value)
            break
    if cancelled is not None:
        raise cancelled
    return request


async def _watched(loop: asyncio.AbstractEventLoop, fd: int) -> int:
    sockets = _sockets.get(loop)
    if sockets is None:
        sockets = _sockets[loop] = _Sockets(loop)
    return await sockets.wait(loop, fd)


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, events: int,
                 timeout: float | None) -> int:
    ready = 0
    done = loop.create_future()

    def on(flag: int) -> None:
        nonlocal ready
        ready |= flag
        if not done.done():
            done.set_result(None)

    if events & READ:
        loop.add_reader(fd, on, READ)
    if events & WRITE:
        loop.add_writer(fd, on, WRITE)
    timer = None if timeout is None else loop.call_later(timeout, on, 0)
    try:
        await done
    finally:
        if events & READ:
            loop.remove_reader(fd)
        if events & WRITE:
            loop.remove_writer(fd)
        if timer is not None:
            timer.cancel()
    return ready
