"""Full return flow through real HTTP, sequential, one client (issue 4 benchmark).

create (POST /cases) → approve → ship_return → receive → inspect (accept; the sandbox
refund completes inside that call), against `aftersales serve` started as a subprocess on
127.0.0.1. The client is one keep-alive connection written and read by hand (RawClient;
`--client http.client` for the standard library's, which this benchmark used before and
which costs ~0.2 ms of CPU a request), so what is measured is the server's latency, not a
client library's. Orders are posted before the clock starts.

Before the clock starts, `--warmup` flows run and the database is analysed, as a database
in use is (autovacuum): on a fresh PostgreSQL database the hot statements get generic plans
while the tables are nearly empty and have no statistics, and these find a case through the
shop's index instead of the primary key (EXPLAIN at 1,500 cases: 2.5 ms for the bundle
read instead of about 0.2) until autovacuum's first ANALYZE re-plans them. Alternating
runs of 600 flows: 42–47 flows/s with `--warmup 0`, 54.5–55 with the default.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import analyze, db_args, fresh_engine, kinds, postgres_cpu, table

from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service import shops

STEPS = ("create", "approve", "ship_return", "receive", "inspect")


def cpu() -> tuple[float, float]:
    """(CPU seconds used by this process's live descendants — the server —, machine busy
    seconds summed over cores), from /proc."""
    tick, parents, used = os.sysconf("SC_CLK_TCK"), {}, {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.split("/")[2])
        parents[pid], used[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    mine = {os.getpid()}
    for _ in range(4):  # uvicorn → its workers → their helpers
        mine |= {pid for pid, parent in parents.items() if parent in mine}
    machine = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(machine) - machine[3] - machine[4]  # all but idle and iowait
    return sum(used[p] for p in mine - {os.getpid()}), busy / tick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, tmp: Path, workers: int = 1) -> Iterator[int]:
    """uvicorn serving the app with `workers` processes, as `aftersales serve --workers`."""
    port = free_port()
    env = {**os.environ, "AFTERSALES_DATABASE_URL": url, "AFTERSALES_DATA_DIR": str(tmp)}
    cmd = [sys.executable, "-m", "uvicorn", "aftersales.entrypoints.api.app:create_app",
           "--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log"]
    with ExitStack() as stack:
        proc = subprocess.Popen(cmd, env=env)
        stack.callback(proc.wait, timeout=10)
        stack.callback(proc.terminate)
        deadline = time.monotonic() + 60  # (a loaded machine takes a while to import the app)
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:  # (closed: an idle connection would count in a worker's share)
                    conn.request("GET", "/api/v1/health")
                    if conn.getresponse().status == 200:
                        break
                finally:
                    conn.close()
            except OSError:
                time.sleep(0.05)
        yield port


class Client:
    """`http.client` on one keep-alive connection, JSON by the standard library."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict[str, object], token: str | None = None) -> dict:
        headers = dict(self.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.conn.request("POST", "/api/v1" + path, json.dumps(body), headers)
        res = self.conn.getresponse()
        data = res.read()
        if res.status >= 300:
            raise RuntimeError(f"{path}: {res.status} {data[:300]!r}")
        return json.loads(data)


class RawClient:
    """HTTP/1.1 written and read on one keep-alive socket, JSON by orjson.

    `http.client` spends ~0.2 ms of CPU a request here (it parses the response headers with
    the `email` package), and with one sequential client that CPU is on every request's
    path: it measured as a fifth of the flow's time on this 2-core machine. This client
    sends the same requests (method, path, Host, Authorization, Content-Type,
    Content-Length, the JSON body) and reads a response by its Content-Length, refusing
    anything else (a chunked body, a closed connection), and parses every answer."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.token = token
        self.pending = b""

    def post(self, path: str, body: dict[str, object], token: str | None = None) -> dict:
        data = orjson.dumps(body)
        self.sock.sendall(
            f"POST /api/v1{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token or self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status, answer = self._response()
        if status >= 300:
            raise RuntimeError(f"{path}: {status} {answer[:300]!r}")
        return orjson.loads(answer)

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.pending:
            self._more()
        head, _, rest = self.pending.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"a response without Content-Length: {head[:300]!r}")
        self.pending = rest
        while len(self.pending) < length:
            self._more()
        answer, self.pending = self.pending[:length], self.pending[length:]
        return status, answer

    def _more(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.pending += chunk


CLIENTS = {"raw": RawClient, "http.client": Client}


def order_body(i: int) -> dict[str, object]:
    return {"platform_order_id": f"BENCH-{i}", "buyer_id": "b1",
            "paid_at": "2026-11-18T10:00:00+08:00", "shipped_at": "2026-11-19T10:00:00+08:00",
            "delivered_at": "2026-11-20T10:00:00+08:00", "payment_method": "alipay",
            "currency": "CNY", "freight": 800, "free_shipping": False,
            "lines": [{"sku": "DRESS-RED-M", "name": "连衣裙 红色 M", "unit_price": 19900,
                       "quantity": 1, "paid_amount": 18900,
                       "attributes": {"colour": "红色", "size": "M"}}]}


def flow(c: Client | RawClient, tok: dict[str, str], order: dict, i: int,
         times: dict[str, list[float]]) -> None:
    """One return, opened to refunded; each step's latency appended to `times`."""
    steps = [
        ("create", "/cases", {"order_id": order["id"], "type": "return_refund",
                              "reason": "no_reason",
                              "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}]},
         "buyer"),
        ("approve", "approve", {}, "agent"),
        ("ship_return", "ship_return", {"carrier": "SF", "waybill": f"SF{i:08d}",
                                        "prepaid": True}, "buyer"),
        ("receive", "receive", {"prepaid": True}, "warehouse"),
        ("inspect", "inspect", {"verdict": "accept", "condition": "new", "sku_matches": True,
                                "accessories_complete": True, "gifts_returned": True},
         "warehouse"),
    ]
    case_id = ""
    for name, path, body, role in steps:
        t0 = time.perf_counter()
        if name == "create":
            case = c.post(path, body, tok[role])
            case_id = case["id"]
        else:
            case = c.post(f"/cases/{case_id}/actions/{path}", body, tok[role])
        times[name].append(time.perf_counter() - t0)
    assert case["state"] == "completed", case["state"]


def flow_shop(url: str, files: Path) -> dict[str, str]:
    """A sandbox Kuaishou shop on the database at `url`: a token per role the flow uses."""
    app = bootstrap(url, evidence_dir=files)
    try:
        shop = shops.create_shop(app.deps, "基准店", "kuaishou", sandbox=True)
        return {r: shops.create_token(app.deps, shop.shop.id, r, "b1" if r == "buyer" else None)
                for r in ("admin", "agent", "warehouse", "buyer", "platform")}
    finally:
        app.engine.dispose()


def run(kind: str, flows: int, workers: int = 1, warmup: int = 200, client: str = "raw"
        ) -> tuple[float, dict[str, list[float]], dict[str, float]]:
    with fresh_engine(kind) as (url, _engine):
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"as-bench-files-{os.getpid()}"
        tok = flow_shop(url, tmp)
        with server(url, tmp, workers) as port:
            c = CLIENTS[client](port, tok["platform"])
            orders = [c.post("/orders", order_body(i)) for i in range(warmup + flows)]
            for i, order in enumerate(orders[:warmup]):
                flow(c, tok, order, i, {s: [] for s in STEPS})
            analyze(_engine)  # the statistics autovacuum keeps on a database in use
            times: dict[str, list[float]] = {s: [] for s in STEPS}
            pg0 = postgres_cpu() if kind == "postgresql" else 0.0
            start, cpu0, own0 = time.perf_counter(), cpu(), time.process_time()
            for i, order in enumerate(orders[warmup:], warmup):
                flow(c, tok, order, i, times)
            elapsed = time.perf_counter() - start
            cpu1, own1 = cpu(), time.process_time()
            pg1 = postgres_cpu() if kind == "postgresql" else 0.0
    usage = {"server": 1000 * (cpu1[0] - cpu0[0]) / flows, "client": 1000 * (own1 - own0) / flows,
             "busy": (cpu1[1] - cpu0[1]) / elapsed, "postgres": 1000 * (pg1 - pg0) / flows}
    return flows / elapsed, times, usage


def pct(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    db_args(parser)
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=200,
                        help="flows run, then ANALYZE, before the clock starts")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw",
                        help="raw: HTTP/1.1 on a socket (RawClient); http.client: the "
                             "standard library's (this benchmark's client until 2026-12-06)")
    args = parser.parse_args()
    rows = []
    for kind in kinds(args):
        rate, times, usage = run(kind, args.flows, warmup=args.warmup, client=args.client)
        steps = " / ".join(f"{s} {pct(times[s], .5)}/{pct(times[s], .99)}" for s in STEPS)
        pg = f"{usage['postgres']:.2f}" if kind == "postgresql" else "–"
        rows.append([kind, args.flows, f"{rate:.1f}", steps, f"{usage['server']:.2f}", pg,
                     f"{usage['client']:.2f}", f"{usage['busy']:.2f}"])
        print(f"{kind}: {rate:.1f} flows/s; p50/p99 ms: {steps}; server CPU "
              f"{usage['server']:.2f} ms/flow, PostgreSQL {pg}, client {usage['client']:.2f}, "
              f"cores busy {usage['busy']:.2f}", flush=True)
    print(table(["database", "flows", "flows/s", "per-step p50/p99 (ms)", "server CPU ms/flow",
                 "PostgreSQL CPU ms/flow", "client CPU ms/flow", "cores busy"], rows))


if __name__ == "__main__":
    main()
