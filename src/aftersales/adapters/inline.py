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
from collections.abc import Callable
from typing import Any, TypeVar

import greenlet

T = TypeVar("T")
READ, WRITE = 1, 2  # (psycopg's Wait and Ready flags have these values)


class _Work(greenlet.greenlet):
    """The greenlet of one `run` (what `active` recognises), with the sockets it keeps
    watched on the loop between its waits (`watch`)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__(fn)
        self.watches: dict[int, _Watch] = {}


class _Watch:
    """A socket the loop watches for reading on behalf of one work: registered at its first
    wait and kept until `forget` (its connection goes back to the pool or closes), the
    work ends, or it turns readable with nobody waiting — instead of once a wait (each
    registration costs the loop a handle and two epoll calls; a request waits two or three
    times)."""

    __slots__ = ("fd", "future", "loop", "owner", "watches")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, owner: object,
                 watches: dict[int, _Watch]) -> None:
        self.loop, self.fd, self.owner, self.watches = loop, fd, owner, watches
        self.future: asyncio.Future[int] | None = None
        loop.add_reader(fd, self.readable)

    def readable(self) -> None:
        if self.future is None:  # nobody waits: stop watching (the next wait starts again)
            self.drop()
        elif not self.future.done():
            self.future.set_result(READ)

    def drop(self) -> None:
        if self.watches.get(self.fd) is self:
            del self.watches[self.fd]
            self.loop.remove_reader(self.fd)


def active() -> bool:
    """Whether the running code is inside `run`: waits then go to the event loop."""
    return isinstance(greenlet.getcurrent(), _Work)


def wait_fd(fd: int, events: int, timeout: float | None = None, owner: object = None) -> int:
    """Until `fd` is ready for `events` (READ | WRITE): the ones it is ready for, 0 when
    `timeout` seconds passed first. Inside `run` the event loop waits, elsewhere poll()
    (the GIL released meanwhile). `owner`: what the socket belongs to (a database
    connection), for a read wait that may keep the socket watched until `forget(fd)`;
    such a wait may report the socket ready when it is not (an event the loop found
    before the last read), as poll() may: read without blocking and wait again."""
    current = greenlet.getcurrent()
    if isinstance(current, _Work):
        return current.parent.switch((fd, events, timeout, owner))  # type: ignore[no-any-return]
    poller = select.poll()
    poller.register(fd, (select.POLLIN if events & READ else 0)
                    | (select.POLLOUT if events & WRITE else 0))
    found = poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
    return _flags(found[0][1]) if found else 0


def _flags(mask: int) -> int:
    ready = READ if mask & (select.POLLIN | select.POLLERR | select.POLLHUP) else 0
    return ready | (WRITE if mask & (select.POLLOUT | select.POLLERR | select.POLLHUP) else 0)


def forget(fd: int) -> None:
    """Stop watching `fd` for the running work: its connection is going back to the pool or
    closing, after which the number may name another socket."""
    current = greenlet.getcurrent()
    if isinstance(current, _Work):
        watch = current.watches.get(fd)
        if watch is not None:
            watch.drop()


def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`: inside `run` on a thread of the loop's executor, awaited;
    elsewhere directly. For a call that blocks on something other than a socket `wait_fd`
    knows."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Work):
        return fn(*args, **kwargs)
    call = functools.partial(fn, *args, **kwargs) if kwargs else fn
    return current.parent.switch((call, args if not kwargs else (), None, None))  # type: ignore[no-any-return]


async def run(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on this thread, suspended at each wait until the loop finds it done.

    A cancellation of the caller does not abandon the work halfway (a connection in the
    middle of a round trip): the work runs to its end, then the cancellation is raised."""
    loop = asyncio.get_running_loop()
    work = _Work(fn)
    try:
        return await _drive(loop, work, args)
    finally:
        for watch in list(work.watches.values()):
            watch.drop()


async def _drive(loop: asyncio.AbstractEventLoop, work: _Work, args: tuple[Any, ...]) -> Any:
    request = work.switch(*args)
    cancelled: asyncio.CancelledError | None = None
    while not work.dead:
        target, spec, timeout, owner = request
        thread = loop.run_in_executor(None, target, *spec) if callable(target) else None
        while True:
            try:
                if thread is not None:  # blocking(): the thread ends whatever happens here
                    value = await asyncio.shield(thread)
                elif owner is not None and spec == READ and timeout is None:
                    value = await _watched(loop, work.watches, target, owner)
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


async def _watched(loop: asyncio.AbstractEventLoop, watches: dict[int, _Watch], fd: int,
                   owner: object) -> int:
    watch = watches.get(fd)
    if watch is not None and watch.owner is not owner:  # (a socket closed unannounced)
        watch.drop()
        watch = None
    if watch is None:
        watch = watches[fd] = _Watch(loop, fd, owner, watches)
    watch.future = future = loop.create_future()
    try:
        return await future
    finally:
        watch.future = None


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
