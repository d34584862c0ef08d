"""api/balance.py: the open-connection counts and the deferral under conditions the
first tests do not reach (a failed TLS handshake, a slot handed on while its old process still
finishes a request, a deferral that ended without an accept, a socket given by fd), plus two
tests pinning what works (the counts return to zero; `serve --workers 2` stops cleanly)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aftersales.entrypoints.api import balance
from servers import free_port

from .helpers import raw_get

APP = '''
import asyncio
import os

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":  # answers once the test creates the file named in REVIEW_GO
        while not os.path.exists(os.environ["REVIEW_GO"]):
            await asyncio.sleep(0.02)
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
'''


def _until(what: str, done: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.02)


def _slots(table: balance.Table) -> dict[int, int]:
    """pid -> open connections, for the slots taken."""
    cells = table.cells
    return {cells[2 * i]: cells[2 * i + 1] for i in range(balance.SLOTS) if cells[2 * i]}


def _gone(pid: int) -> bool:
    """Exited (a zombie not yet reaped by its parent counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.fixture
def uvicorn_2(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], int,
                                                               balance.Table]]]:
    """Starts `uvicorn --workers 2` on the balanced loop; returns (parent, port, table) once
    both processes have claimed their slots."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> tuple[subprocess.Popen[bytes], int, balance.Table]:
        (tmp_path / "review_app.py").write_text(APP)
        table_path = tmp_path / "table"
        os.truncate(os.open(table_path, os.O_CREAT | os.O_WRONLY), balance.SLOTS * 16)
        port = free_port()
        env = dict(os.environ, REVIEW_GO=str(tmp_path / "go"))
        env[balance.TABLE_ENV] = str(table_path)
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "review_app:app", "--app-dir", str(tmp_path),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
             "--log-level", "warning", "--no-access-log", "--loop", balance.LOOP, *extra],
            env=env)
        started.append(proc)
        table = balance.Table(str(table_path))
        _until("both processes claim a slot", lambda: len(_slots(table)) == 2)
        return proc, port, table

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class _Protocol(asyncio.Protocol):  # (asyncio.Protocol has __slots__: not uvicorn's)
    pass


def test_a_deferral_the_other_process_ended_by_accepting_does_not_cut_the_next_one_short(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: `_deferring_since` is cleared only when this process accepts. When it deferred and
    the other process took the connection (the usual outcome), the stale time stays, and the
    next time it should defer — seconds or hours later — it "has waited GIVE_UP_S" already
    and accepts at once, racing the process with fewer connections (seen with two real
    processes: a third connection went to the busier one 5 times in 30)."""
    clock = [1000.0]  # balance's clock only: the deferral waits on it, not on the loop's
    monkeypatch.setattr(balance, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    with balance.shared_table() as path:
        table = balance.Table(path)
        me, other = table.claim(os.getpid()), table.claim(os.getppid())
        assert me is not None and other is not None
        table.add(me, 1)  # this process holds one connection, the other (alive) none
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        loop = balance.new_event_loop()
        acceptor = balance.Acceptor(loop, _Protocol, listener, table, me)
        clients: list[socket.socket] = []
        try:
            clients.append(socket.create_connection(listener.getsockname()))
            loop.run_until_complete(asyncio.sleep(0.1))  # it sees the connection and defers
            assert table.cells[2 * me + 1] == 1
            taken, _ = listener.accept()  # ... and the other process takes it
            taken.close()
            loop.run_until_complete(asyncio.sleep(0.1))  # nothing waits any more

            clock[0] += 3600  # an hour later, the counts unchanged, a new connection
            clients.append(socket.create_connection(listener.getsockname()))
            loop.run_until_complete(asyncio.sleep(0.1))
            assert table.cells[2 * me + 1] == 1, "it took the connection without deferring"
            taken, _ = listener.accept()  # still waiting for the process with fewer
            taken.close()
        finally:
            acceptor.close()
            for c in clients:
                c.close()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
            listener.close()
            table.close()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_a_failed_tls_handshake_does_not_leave_a_connection_counted(uvicorn_2, tmp_path: Path
                                                                   ) -> None:
    """Was: with ssl, connect_accepted_socket calls the protocol factory (so `made` is True)
    and then waits for the handshake; when it fails (a TCP health check, a port scan, a plain
    HTTP request) the app protocol never saw connection_made, so its wrapped connection_lost
    never runs, and `_serve` skips the decrement because `made` is set. Every such connection
    adds one for good, and a process so marked is avoided by the others."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    _, port, table = uvicorn_2("--ssl-keyfile", str(key), "--ssl-certfile", str(cert))
    for _ in range(4):  # connect and go: a load balancer's TCP check
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # plain HTTP on the TLS port
        plain.recv(100)
    _until("the failed handshakes leave the counts",
           lambda: sum(_slots(table).values()) == 0, seconds=5)


@pytest.mark.slow
def test_a_process_finishing_a_request_after_it_stopped_accepting_leaves_its_old_slot_alone(
        uvicorn_2, tmp_path: Path) -> None:
    """Was: Acceptor.close() releases the slot at once, but the connections still open (a
    request being finished in the graceful shutdown) decrement that slot when they close.
    If another process claimed the slot meanwhile (SIGTTIN here; or a worker restarted while
    another one recycles itself with --limit-max-requests), its count goes to -1 for good."""
    proc, port, table = uvicorn_2()
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")  # answered once `go` exists
        _until("the slow request is counted", lambda: 1 in _slots(table).values())
        old = next(pid for pid, n in _slots(table).items() if n == 1)
        os.kill(old, signal.SIGTERM)  # it shuts down gracefully: stops accepting, finishes
        _until("the old process releases its slot", lambda: old not in _slots(table))
        before = set(_slots(table))
        os.kill(proc.pid, signal.SIGTTIN)  # one more process: it takes the free slot
        _until("a new process claims the slot", lambda: len(set(_slots(table)) - before) == 1)
        (new,) = set(_slots(table)) - before
        (tmp_path / "go").touch()
        assert raw_get(slow) == str(old)
        _until("the old process exits", lambda: _gone(old))
    finally:
        slow.close()
    assert _slots(table)[new] == 0, _slots(table)


@pytest.mark.slow
def test_a_single_process_serving_a_socket_given_by_fd_is_plain_uvloop(tmp_path: Path) -> None:
    """Was: with the table named in the environment (inherited from `serve --workers N`, say),
    create_server(sock=...) answers an Acceptor even for uvicorn's --fd path, which needs an
    asyncio Server (`server.sockets`): the process dies with AttributeError at startup."""
    (tmp_path / "review_app.py").write_text(APP)
    table_path = tmp_path / "table"
    os.truncate(os.open(table_path, os.O_CREAT | os.O_WRONLY), balance.SLOTS * 16)
    path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    env = dict(os.environ)
    env[balance.TABLE_ENV] = str(table_path)
    log = tmp_path / "log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "review_app:app", "--app-dir", str(tmp_path),
             "--fd", str(listener.fileno()), "--loop", balance.LOOP, "--log-level", "info"],
            env=env, pass_fds=[listener.fileno()], stderr=err)
    try:  # (uvicorn logs this once startup is through; a connection made earlier can still
        # be answered by the Acceptor while the failed startup unwinds)
        _until("uvicorn --fd starts serving, or exits",
               lambda: b"running on socket" in log.read_bytes() or proc.poll() is not None)
        assert proc.poll() is None, log.read_text()[-600:]
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(path)
            assert raw_get(client) == str(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        listener.close()


@pytest.mark.slow
def test_pin_the_counts_return_to_zero_however_a_connection_ends(uvicorn_2) -> None:
    """Works: closed before the server reads, reset, a malformed request (uvicorn's 400),
    the keep-alive timeout closing it server-side — each leaves the counts at zero."""
    _, port, table = uvicorn_2("--timeout-keep-alive", "1")
    address = ("127.0.0.1", port)
    for _ in range(6):
        socket.create_connection(address, timeout=5).close()
    for _ in range(6):
        s = socket.create_connection(address, timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for _ in range(4):
        with socket.create_connection(address, timeout=5) as s:
            s.sendall(b"NOT HTTP\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 400")
    _until("closed, reset and refused connections leave the counts",
           lambda: sum(_slots(table).values()) == 0)
    idle = [socket.create_connection(address, timeout=5) for _ in range(4)]
    try:
        for s in idle:
            raw_get(s)
        assert sorted(_slots(table).values()) == [2, 2]
        _until("the keep-alive timeout closes them", lambda: sum(_slots(table).values()) == 0)
    finally:
        for s in idle:
            s.close()


@pytest.mark.slow
def test_pin_serve_workers_stops_on_sigterm_with_idle_connections_and_removes_its_table(
        tmp_path: Path) -> None:
    """Works: `aftersales serve --workers 2` with keep-alive connections open exits 0 on
    SIGTERM within seconds, and its table file is gone."""
    exe = Path(sys.executable).with_name("aftersales")
    database = f"sqlite:///{tmp_path / 'a.db'}"
    subprocess.run([str(exe), "--database", database, "migrate"], check=True,
                   capture_output=True)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    proc = subprocess.Popen([str(exe), "--database", database, "serve", "--workers", "2",
                             "--port", str(port)], env=dict(os.environ, TMPDIR=str(tmp)),
                            stderr=subprocess.DEVNULL)
    idle: list[socket.socket] = []
    try:
        _until("a table is made", lambda: any(tmp.glob("aftersales-balance-*")))
        (table_path,) = tmp.glob("aftersales-balance-*")
        table = balance.Table(str(table_path))
        _until("both processes claim a slot", lambda: len(_slots(table)) == 2, seconds=30)
        table.close()
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
        for s in idle:
            raw_get(s, "/healthz")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert not table_path.exists()
    finally:
        for s in idle:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
