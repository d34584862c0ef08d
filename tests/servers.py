"""Servers the tests start as real processes: a free port, and a process held until it
answers (stopped afterwards, its output kept in a log file when asked)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(command: Callable[[int], list[str]], env: dict[str, str], ready: str = "/api/v1/health",
            log: Path | None = None, seconds: float = 90,
            started: Callable[[subprocess.Popen[bytes]], None] | None = None) -> Iterator[str]:
    """`command(port)` run on a free port with `env` added to the environment; its base URL
    once GET `ready` answers 200. Output to `log` when given (its tail in the error if the
    server never answers); `started` is given the process (a test that reads its memory).
    Terminated afterwards, killed if it will not stop."""
    port = free_port()
    out = log.open("wb") if log is not None else None
    proc = subprocess.Popen(command(port), env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT if out is not None else None)
    base = f"http://127.0.0.1:{port}"
    if started is not None:
        started(proc)
    try:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if httpx.get(base + ready, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log is not None else ""
                raise RuntimeError(f"server did not start: {tail}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if out is not None:
            out.close()


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the peer closes `sock` (whatever it sends meanwhile is read and dropped);
    an AssertionError if it is still open after `seconds`."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {seconds} s") from None
    except (ssl.SSLEOFError, ConnectionResetError):
        pass  # closed without TLS's close_notify: closed all the same
    return time.monotonic() - start
