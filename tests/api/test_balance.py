"""api/balance.py: `serve --workers N` spreads its connections evenly over its processes.

The table is tested on its own (slots, dead processes, who holds fewer), then two real
uvicorn processes on the balanced loop are sent connections opened all at once, as a
proxy's pool or the transitions benchmark opens them; plain uvicorn measured 8+0 or 7+1
as often as not on this machine (balance.py)."""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aftersales.entrypoints.api import balance

from .helpers import raw_get

PID_APP = '''
import os

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
'''


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_each_process_claims_its_own_slot_and_a_dead_ones_slot_is_free_again() -> None:
    with balance.shared_table() as path:
        table = balance.Table(path)
        assert table.claim(os.getpid()) == 0
        assert table.claim(_dead_pid()) == 1
        assert table.claim(os.getppid()) == 1  # slot 1's process is gone: its slot is free
        assert table.claim(os.getppid()) == 2
        table.release(0)
        assert table.claim(os.getpid()) == 0
        table.close()
    assert not Path(path).exists()


def test_a_process_defers_only_to_a_live_process_holding_fewer_connections() -> None:
    with balance.shared_table() as path:
        table = balance.Table(path)
        me, other = table.claim(os.getpid()), table.claim(os.getppid())
        assert me is not None and other is not None
        assert not table.fewer_elsewhere(me)  # 0 and 0
        table.add(me, 2)
        table.add(other, 1)
        assert table.fewer_elsewhere(me) and not table.fewer_elsewhere(other)
        table.add(other, 1)
        assert not table.fewer_elsewhere(me)  # 2 and 2: both may accept
        table.release(other)  # a process that stopped serving is not waited for
        table.add(me, 5)
        assert not table.fewer_elsewhere(me)
        gone = table.claim(_dead_pid())  # nor is one that died without releasing its slot
        assert gone is not None and not table.fewer_elsewhere(me)
        table.close()


def _serve(tmp_path: Path, balanced: bool) -> tuple[subprocess.Popen[bytes], int]:
    (tmp_path / "pid_app.py").write_text(PID_APP)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "uvicorn", "pid_app:app", "--app-dir", str(tmp_path),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
           "--log-level", "warning", "--no-access-log"]
    env = dict(os.environ)
    if balanced:
        cmd += ["--loop", balance.LOOP]
        env[balance.TABLE_ENV] = str(tmp_path / "table")
        os.truncate(os.open(env[balance.TABLE_ENV], os.O_CREAT | os.O_WRONLY), balance.SLOTS * 16)
    proc = subprocess.Popen(cmd, env=env)
    pids: set[str] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2:  # both processes serving (each answers with its pid)
        assert time.monotonic() < deadline, "the two processes did not both start serving"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                pids.add(raw_get(sock))
        except OSError:
            time.sleep(0.05)
    return proc, port


@pytest.mark.slow
def test_connections_opened_at_once_are_shared_evenly_by_two_processes(tmp_path: Path) -> None:
    proc, port = _serve(tmp_path, balanced=True)
    try:
        for _ in range(5):
            socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
            try:
                shares = collections.Counter(raw_get(s) for s in socks)
            finally:
                for s in socks:
                    s.close()
            assert sorted(shares.values()) == [4, 4], shares
            time.sleep(0.2)  # (the closed connections leave the counts)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
