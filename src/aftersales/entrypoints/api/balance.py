"""An even share of connections for each process of `aftersales serve --workers N`.

uvicorn gives its N processes one listening socket, and each accepts on its own: the
process woken first takes every connection waiting (asyncio's and uvloop's accept loops
drain the queue). Against a client that opens its keep-alive connections at once — a
reverse proxy's upstream pool, a platform sync, the benchmark's 8 connections — one process
often gets all or most of them. Measured with 2 processes and 8 connections opened in a
row, eight tries: 1+7, 8+0, 3+5, 8+0, 1+7, 8+0, 4+4, 2+6. The busy process then queues
requests on one core's GIL while the other core idles; the transitions benchmark moved
between 0.32 and 0.40 of pgbench from one run to the next on that alone (bench/RESULTS.md).

So each process here accepts a waiting connection only when no other live process holds
fewer open connections. The counts live in a small file every process maps (`Table`),
created by the parent (`shared_table`) and named in AFTERSALES_BALANCE_TABLE: each
process writes only its own slot, and reads the others'. A process that defers stops
watching the socket for a moment and looks again; if the connection is still waiting
after `GIVE_UP_S` (the other process is stuck or gone) it takes it anyway, so a connection
is never left waiting on a process that will not come.

Used as uvicorn's event loop (`--loop aftersales.entrypoints.api.balance:new_event_loop`):
uvloop's loop with `create_server(sock=...)` — how uvicorn starts serving a socket handed
over by its parent — answered by an `Acceptor`. Everything else is uvloop's, and without
the table (one process, or started by hand) it is uvloop unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import mmap
import os
import select
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvloop

TABLE_ENV = "AFTERSALES_BALANCE_TABLE"
LOOP = "aftersales.entrypoints.api.balance:new_event_loop"
SLOTS = 64  # processes that can share a table (`serve --workers` allows 64)
PAUSE_S = 0.002  # a deferring process looks at the socket again after this
GIVE_UP_S = 0.25  # ... and takes the connection itself once it has waited this long

log = logging.getLogger("aftersales.balance")


@contextlib.contextmanager
def shared_table() -> Iterator[str]:
    """A table for the processes about to start (zeroed: no slot taken); its path."""
    fd, path = tempfile.mkstemp(prefix="aftersales-balance-")
    try:
        os.ftruncate(fd, SLOTS * 16)
        yield path
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class Table:
    """Slot i holds (pid, open connections) as two int64 at cells 2i and 2i+1."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, SLOTS * 16)
        self.cells = memoryview(self._map).cast("q")

    def claim(self, pid: int) -> int | None:
        """A free slot (never taken, or its process is gone) for `pid`; None if all are held."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # two processes starting together
        try:
            for slot in range(SLOTS):
                holder = self.cells[2 * slot]
                if holder == 0 or not _alive(holder):
                    self.cells[2 * slot], self.cells[2 * slot + 1] = pid, 0
                    return slot
            return None
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def release(self, slot: int) -> None:
        self.cells[2 * slot + 1] = 0
        self.cells[2 * slot] = 0

    def add(self, slot: int, n: int) -> None:
        self.cells[2 * slot + 1] += n

    def fewer_elsewhere(self, slot: int) -> bool:
        """Whether a live process other than `slot`'s holds fewer open connections."""
        mine = self.cells[2 * slot + 1]
        for other in range(SLOTS):
            pid = self.cells[2 * other]
            if other != slot and pid != 0 and self.cells[2 * other + 1] < mine and _alive(pid):
                return True
        return False

    def close(self) -> None:
        if self._map.closed:
            return
        self.cells.release()
        self._map.close()
        os.close(self._fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # (a pid reused by another user's process: not ours, but there)
        return True
    return True


class Acceptor:
    """Accepts on a shared listening socket, one connection at a time, when this process
    has no more open connections than any other; uvicorn treats it as its server (it calls
    `close` and `wait_closed`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol_factory: Callable[[], Any],
                 sock: socket.socket, table: Table, slot: int, ssl: Any = None) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._sock = sock
        self.sockets = [sock]  # (as asyncio's Server: uvicorn's --fd path reads it)
        self._table = table
        self._slot = slot
        self._ssl = ssl
        self._deferring_since: float | None = None  # this connection left to another since
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._ready)

    def _ready(self) -> None:
        if self._table.fewer_elsewhere(self._slot):
            now = time.monotonic()
            if self._deferring_since is None:
                self._deferring_since = now
            if now - self._deferring_since < GIVE_UP_S:
                self._loop.remove_reader(self._sock.fileno())
                self._timer = self._loop.call_later(PAUSE_S, self._resume)
                return
        self._deferring_since = None
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):  # another process took it
            return
        except OSError as exc:  # out of file descriptors, say: look again in a moment
            log.warning("accept failed: %s", exc)
            self._loop.remove_reader(self._sock.fileno())
            self._timer = self._loop.call_later(0.1, self._resume)
            return
        self._count(1)
        self._loop.create_task(self._serve(conn))

    def _resume(self) -> None:
        self._timer = None
        if self._closed:
            return
        if not select.select([self._sock], [], [], 0)[0]:  # another process took it: the
            self._deferring_since = None                    # next deferral starts afresh
        self._loop.add_reader(self._sock.fileno(), self._ready)

    def _count(self, n: int) -> None:
        if not self._closed:  # (a released slot may be another process's by now)
            self._table.add(self._slot, n)

    async def _serve(self, conn: socket.socket) -> None:
        made = False  # the app's protocol got the connection: its connection_lost counts down

        def counted() -> Any:
            protocol = self._factory()
            made_now, lost = protocol.connection_made, protocol.connection_lost

            def connection_made(transport: Any) -> None:
                nonlocal made
                made = True
                made_now(transport)

            def connection_lost(exc: Exception | None) -> None:
                self._count(-1)
                lost(exc)

            protocol.connection_made, protocol.connection_lost = connection_made, connection_lost
            return protocol

        try:
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # (with TLS, the handshake first: one that fails never reaches the app's protocol)
            await self._loop.connect_accepted_socket(counted, conn, ssl=self._ssl)
        except BaseException as exc:  # gone before it was served (or shutting down)
            conn.close()
            if not made:
                self._count(-1)
            if not isinstance(exc, OSError):  # (ssl.SSLError is one)
                raise

    def close(self) -> None:
        """Stop accepting (connections already open are uvicorn's to finish)."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._loop.remove_reader(self._sock.fileno())
        self._table.release(self._slot)
        self._table.close()

    async def wait_closed(self) -> None:
        return None


class BalancedLoop(uvloop.Loop):  # type: ignore[misc]
    async def create_server(self, protocol_factory: Callable[[], Any], host: Any = None,
                            port: Any = None, **kw: Any) -> Any:
        path = os.environ.get(TABLE_ENV)
        sock = kw.get("sock")
        if path is None or sock is None or host is not None or sock.type != socket.SOCK_STREAM:
            return await super().create_server(protocol_factory, host, port, **kw)
        table = Table(path)
        slot = table.claim(os.getpid())
        if slot is None:  # more processes than slots: this one accepts as uvicorn would
            table.close()
            return await super().create_server(protocol_factory, host, port, **kw)
        sock.listen(kw.get("backlog") or 100)  # (uvicorn binds the socket; serving listens)
        return Acceptor(self, protocol_factory, sock, table, slot, ssl=kw.get("ssl"))


def new_event_loop() -> BalancedLoop:
    return BalancedLoop()
