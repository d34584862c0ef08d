"""`aftersales serve` closes an idle keep-alive connection (uvicorn's --timeout-keep-alive).

A raw socket against the real command. A connection that never sends a request, or
stalls half-way through its headers, is the nginx front's to cut off (deploy/;
tests/e2e/test_deploy.py checks it there): served directly, such connections are bounded
only by --limit-concurrency (docs/decisions.md "Client timeouts").
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.migrate import upgrade
from servers import closed_within, serving

pytestmark = pytest.mark.xdist_group("http_server")
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("timeouts")
    url = f"sqlite:///{root / 't.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    cli = Path(sys.executable).parent / "aftersales"
    with serving(lambda port: [str(cli), "serve", "--port", str(port),
                               "--timeout-keep-alive", str(TIMEOUT)],
                 {"AFTERSALES_DATABASE_URL": url, "AFTERSALES_DATA_DIR": str(root)}) as b:
        yield b


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def answer(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /api/v1/health/live HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while not data.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return data


def test_an_idle_keep_alive_connection_is_closed(base: str) -> None:
    with connect(base) as sock:
        assert answer(sock).startswith(b"HTTP/1.1 200")
        assert answer(sock).startswith(b"HTTP/1.1 200")  # kept alive between requests
        assert closed_within(sock, 5 * TIMEOUT) >= TIMEOUT * 0.5
