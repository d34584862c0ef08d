"""Transitions per second through the HTTP API vs the same SQL by hand in pgbench (issue 4).

    .venv/bin/python bench/http_transitions.py --seconds 15 --pool 40000

PostgreSQL only, one fresh database for the whole run. The transition is an agent
approving a Kuaishou return (requested → awaiting_return): update the case, insert its
event, supersede the pending deadline row and insert the new one.

Cases: one Kuaishou return opened through the service layer (`orders.import_order` +
`cases.open_case`, a sandbox shop whose clock stays put, so every approval is in the review
window) is the template; each measured path gets `--pool` copies of it made by
`INSERT ... SELECT` (the case row, its opening event and its pending deadline; all copies
belong to the template's order, as each of them would to an order of its own). Every
case is approved at most once.

pgbench: the statements of bench/transition.py (HAND) as a `-M prepared` script, 8 clients,
2 threads, `-T --seconds`, over `--pgbench-pool` copies (without events: it reads none); the
locking SELECT takes the next case from a sequence (past the pool's end it would wrap around
and re-approve; the run says so). Latency from `--log`. pgbench runs right before each HTTP
run, and each HTTP row's ratio is to the pgbench row above it: this machine's speed drifts
by up to 1.7× from one minute to the next.

HTTP: `uvicorn --workers 1`, then `--workers 2`, each driven twice by 8 keep-alive
connections to 127.0.0.1 sending `POST /api/v1/cases/{id}/actions/approve`, each case once,
for `--seconds` after a few uncounted warm-up requests per connection:
- `wrk` (Debian's wrk, C, 2 threads, `-c 8 -d --seconds`, a Lua script handing each
  connection the next id of its thread's share), the load generator closest to pgbench;
- Python: 8 threads of this process, one `http.client` connection each (what the first
  runs of this benchmark used; ~0.25 ms of client CPU a request on this machine).
`--clients python` or `wrk` runs one of them. With 2 workers uvicorn's processes each
accept on their own (as `aftersales serve --workers 2` runs them), which can leave one
process with most of the 8 connections (deploy/ puts nginx `least_conn` in front instead).
Every run checks that the cases it moved equal the 200s it was answered, and that nothing
else was answered.

CPU: "cores busy" is the whole machine during the run (/proc/stat); server = the uvicorn
processes, PostgreSQL = the cluster's processes, client = wrk, pgbench or this process; each
per transition.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _common import analyze, fresh_engine, postgres_cpu, table
from http_flow import cpu, server
from sqlalchemy import Engine
from transition import HAND

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases, orders, shops
from aftersales.service.ports import Principal

WARMUP = 10
PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
WRK = shutil.which("wrk")
# wrk: each thread takes every n-th id of the file, each request the thread's next one.
WRK_SCRIPT = """
local ids, next_id, n = {}, 0, 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  local i = 0
  for line in io.lines(args[1]) do
    if i % tonumber(args[2]) == tid then table.insert(ids, line) end
    i = i + 1
  end
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  next_id = next_id + 1
  local id = ids[next_id] or "pool-exhausted"
  return wrk.format("POST", "/api/v1/cases/" .. id .. "/actions/approve", nil, "{}")
end
"""


def open_template(app: App, shop_id: str, now: datetime) -> str:
    """One requested Kuaishou return through the service: the case every copy is made of."""
    platform, buyer = Principal(shop_id, Role.platform), Principal(shop_id, Role.buyer, "b1")
    line = orders.NewLine(sku="DRESS-RED-M", name="连衣裙 红色 M", unit_price=19900, quantity=1,
                          paid_amount=18900, attributes={"colour": "红色"})
    order, _ = orders.import_order(app.deps, platform, orders.NewOrder(
        platform_order_id="TPL-1", buyer_id="b1", paid_at=now - timedelta(days=5),
        payment_method="alipay", currency="CNY", freight=800, free_shipping=False, lines=(line,),
        shipped_at=now - timedelta(days=4), delivered_at=now - timedelta(days=1)))
    return cases.open_case(app.deps, buyer, cases.NewCase(
        order_id=order.id, type="return_refund", reason="no_reason",
        lines=((order.lines[0].id, 1),))).case.id


def clone_pool(engine: Engine, template_id: str, n: int, prefix: str,
               events: bool = True) -> list[str]:
    """`n` copies of the template case with its pending deadline (and its events): ids
    `prefix` + 34 digits, 1 to n."""
    def ident(kind: str) -> str:
        return f"'{prefix}{kind}' || lpad(i::text, {34 - len(kind)}, '0')"

    case_id = ident("")
    copies = [("cases", {"id": case_id}, f"t.id = '{template_id}'"),
              ("deadlines", {"id": ident("d"), "case_id": case_id},
               f"t.case_id = '{template_id}' AND t.status = 'pending'")]
    if events:
        event_id = f"'{prefix}e' || lpad((i * 100 + t.seq)::text, 33, '0')"
        copies.append(("case_events", {"id": event_id, "case_id": case_id},
                       f"t.case_id = '{template_id}'"))
    with engine.begin() as conn:
        for name, pick, where in copies:
            cols = [r[0] for r in conn.exec_driver_sql(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position", (name,))]
            exprs = ", ".join(pick.get(c, f"t.{c}") for c in cols)
            conn.exec_driver_sql(f"INSERT INTO {name} ({', '.join(cols)}) SELECT {exprs} "
                                 f"FROM {name} t, generate_series(1, {n}) i WHERE {where}")
    return [f"{prefix}{i:034d}" for i in range(1, n + 1)]


def pgbench_script(shop_id: str, now: str, due: str, pool: int) -> str:
    """HAND's five statements with pgbench variables: the lock picks the next pooled case and
    \\gset keeps id, state_seq, version and event_count for the writes."""
    pick = (f"(SELECT 'pb' || lpad(((nextval('bench_pick') - 1) % {pool} + 1)::text, 34, '0'))")
    values = {"now": f"'{now}'::timestamptz", "due": f"'{due}'::timestamptz",
              "seq": "(:state_seq + 1)", "events": ":event_count", "shop": f"'{shop_id}'",
              "eid": "gen_random_uuid()::text", "did": "gen_random_uuid()::text",
              "data": "'{}'", "key": "concat(:state_seq + 1, chr(58), 'kuaishou.buyer_ship_return')"}
    lines = ["BEGIN;"]
    lock = HAND["lock"].replace("SELECT ", "SELECT id, ", 1).replace("{lock}", " FOR UPDATE")
    lines.append(lock.replace(":id", pick) + " \\gset")
    for name in ("case", "event", "supersede", "deadline"):
        sql = HAND[name].replace("'agent:bench'", "'agent' || chr(58) || 'bench'")  # not a variable
        lines.append(re.sub(r":(\w+)", lambda m: values.get(m[1], m[0]), sql) + ";")
    return "\n".join([*lines, "COMMIT;", ""])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Meter(AbstractContextManager["Meter"]):
    """CPU of the server, PostgreSQL, the client and the whole machine over a run."""

    def __init__(self, client: Callable[[], float]) -> None:
        self.client = client
        self.used: dict[str, float] = {}

    def __enter__(self) -> Meter:
        self.start = (cpu(), postgres_cpu(), self.client(), time.perf_counter())
        return self

    def __exit__(self, *_: Any) -> None:
        (srv0, busy0), pg0, cl0, t0 = self.start
        (srv1, busy1), pg1, cl1 = cpu(), postgres_cpu(), self.client()
        self.used = {"server": srv1 - srv0, "pg": pg1 - pg0, "client": cl1 - cl0,
                     "busy": (busy1 - busy0) / (time.perf_counter() - t0)}

    def per(self, n: int) -> dict[str, float]:
        return {"server": 1000 * self.used["server"] / n, "pg": 1000 * self.used["pg"] / n,
                "client": 1000 * self.used["client"] / n, "busy": self.used["busy"]}


def python_run(port: int, token: str, ids: list[str], clients: int,
               seconds: float) -> dict[str, float]:
    slices = [ids[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    finished = [0.0] * clients
    errors: list[str] = []
    go = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def approve(case_id: str) -> bool:
            conn.request("POST", f"/api/v1/cases/{case_id}/actions/approve", "{}", headers)
            res = conn.getresponse()
            body = res.read()
            if res.status != 200:
                errors.append(f"{res.status} {body[:200]!r}")
            return res.status == 200

        try:
            for case_id in slices[k][:WARMUP]:
                approve(case_id)
        finally:
            go.wait()
        stop = time.perf_counter() + seconds
        for case_id in slices[k][WARMUP:]:
            t0 = time.perf_counter()
            if t0 > stop:
                break
            if approve(case_id):
                latencies[k].append(time.perf_counter() - t0)
        finished[k] = time.perf_counter()
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    go.wait()
    with Meter(time.process_time) as meter:
        start = time.perf_counter()
        for th in threads:
            th.join(timeout=seconds + 60)
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, first: {errors[0]}")
    every = [x for per in latencies for x in per]
    wall = max(finished) - start
    return {"n": len(every), "moved": len(every) + WARMUP * clients, "s": wall,
            "rate": len(every) / wall, "p50": 1000 * pct(every, .5), "p99": 1000 * pct(every, .99),
            "avg": 1000 * statistics.fmean(every), **meter.per(len(every))}


def wrk_run(port: int, token: str, ids: list[str], tmp: Path, clients: int,
            seconds: int) -> dict[str, float]:
    """Warm-up: the first WARMUP ids of each connection's share by plain requests (the
    token cache, prepared statements), then wrk over the rest."""
    warm, rest = ids[:WARMUP * clients], ids[WARMUP * clients:]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for case_id in warm:
        conn.request("POST", f"/api/v1/cases/{case_id}/actions/approve", "{}",
                     {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        res = conn.getresponse()
        if res.status != 200:
            raise SystemExit(f"warm-up: {res.status} {res.read()[:200]!r}")
        res.read()
    conn.close()
    (tmp / "ids.txt").write_text("\n".join(rest) + "\n")
    (tmp / "approve.lua").write_text(WRK_SCRIPT)
    threads = 2
    cmd = [str(WRK), "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--latency",
           "--timeout", "10s", "-s", str(tmp / "approve.lua"), f"http://127.0.0.1:{port}",
           "--", str(tmp / "ids.txt"), str(threads), token]
    print("$", " ".join(cmd[:-1]), "TOKEN", flush=True)
    with Meter(children_cpu) as meter:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    out = done.stdout
    if done.returncode != 0 or "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk failed:\n{out}\n{done.stderr}")
    n = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    wall = float(re.search(r"requests in ([\d.]+)s", out)[1])  # type: ignore[index]

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"n": n, "moved": n + len(warm), "s": wall, "rate": n / wall, "p50": ms("50%"),
            "p99": ms("99%"), "avg": ms("Latency"), **meter.per(n)}


def pgbench_run(url: str, script: str, tmp: Path, clients: int, seconds: int) -> dict[str, float]:
    (tmp / "approve.sql").write_text(script)
    for old in glob.glob(str(tmp / "pgb*")):
        os.unlink(old)
    dbname = url.rsplit("/", 1)[1]
    cmd = [PGBENCH, "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds),
           "-f", str(tmp / "approve.sql"), "--log", f"--log-prefix={tmp / 'pgb'}",
           "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", dbname]
    print("$", " ".join(cmd), flush=True)
    with Meter(children_cpu) as meter:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0 or "failed transactions: 0 (" not in done.stdout:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    tps = float(re.search(r"tps = ([\d.]+) \(without", done.stdout)[1])  # type: ignore[index]
    lat = [int(line.split()[2]) / 1000 for f in glob.glob(str(tmp / "pgb*"))
           for line in Path(f).read_text().splitlines()]
    return {"n": len(lat), "s": float(seconds), "rate": tps, "p50": pct(lat, .5),
            "p99": pct(lat, .99), "avg": statistics.fmean(lat), **meter.per(len(lat))}


def moved(engine: Engine, prefix: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(
            "SELECT count(*) FROM cases WHERE state = 'awaiting_return' AND left(id, %s) = %s",
            (len(prefix), prefix)).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pool", type=int, default=40000, help="cases per measured run")
    parser.add_argument("--clients", choices=["wrk", "python", "both"],
                        default="both" if WRK else "python", help="both when wrk is installed")
    parser.add_argument("--pgbench-pool", type=int, default=200000, help="cases for pgbench")
    args = parser.parse_args()
    kinds = ["wrk", "python"] if args.clients == "both" else [args.clients]
    if "wrk" in kinds and WRK is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), or use --clients python")
    runs = [(1, k) for k in kinds] + [(2, k) for k in kinds]
    with fresh_engine("postgresql") as (url, engine), \
            tempfile.TemporaryDirectory(prefix="as-bench-") as tmpdir:
        tmp = Path(tmpdir)
        app = bootstrap(engine=engine)
        shop = shops.create_shop(app.deps, "基准店", "kuaishou", sandbox=True)
        sid, now = shop.shop.id, shop.clock_at
        assert now is not None
        token = shops.create_token(app.deps, sid, "agent")
        started = time.perf_counter()
        template = open_template(app, sid, now)
        clone_pool(engine, template, args.pgbench_pool, "pb", events=False)  # it reads no events
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SEQUENCE bench_pick")
        pools = {run: clone_pool(engine, template, args.pool, f"h{i}")
                 for i, run in enumerate(runs)}
        analyze(engine)
        print(f"{len(runs) * args.pool + args.pgbench_pool} cases copied in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        script = pgbench_script(sid, now.isoformat(), (now + timedelta(days=10)).isoformat(),
                                args.pgbench_pool)
        print(script, flush=True)
        # (what ran, its figures, the pgbench rate it is compared with): pgbench runs right
        # before each HTTP run, as this machine's speed drifts from minute to minute.
        measured: list[tuple[str, dict[str, float], float]] = []
        bench_done = 0
        for i, (workers, kind) in enumerate(runs):
            ref = pgbench_run(url, script, tmp, args.connections, args.seconds)
            bench_done += int(ref["n"])
            measured.append(("pgbench -M prepared, SQL by hand", ref, ref["rate"]))
            print("pgbench", ref, flush=True)
            with server(url, tmp, workers) as port:
                if kind == "wrk":
                    r = wrk_run(port, token, pools[workers, kind], tmp,
                                args.connections, args.seconds)
                else:
                    r = python_run(port, token, pools[workers, kind],
                                   args.connections, args.seconds)
            done = moved(engine, f"h{i}")  # wrk leaves up to one request a connection uncounted
            if not r["moved"] <= done <= r["moved"] + (args.connections if kind == "wrk" else 0):
                raise SystemExit(f"{workers} workers, {kind}: {r['moved']} approvals answered "
                                 f"200, {done} cases moved")
            measured.append((f"HTTP, uvicorn --workers {workers}, {kind} client", r, ref["rate"]))
            print(f"HTTP {workers} {kind}", r, flush=True)
        app.engine.dispose()
    if bench_done > args.pgbench_pool:
        print(f"pgbench wrapped around its {args.pgbench_pool} cases")
    rows: list[list[object]] = []
    for name, r, base in measured:
        rows.append([name, f"{r['n']:,}", f"{r['s']:.1f}", f"{r['rate']:,.0f}",
                     f"{r['rate'] / base:.3f}", f"{r['avg']:.2f}", f"{r['p50']:.2f}",
                     f"{r['p99']:.2f}", f"{r['busy']:.2f}",
                     f"{r['server']:.2f}" if "server" in r and name.startswith("HTTP") else "–",
                     f"{r['pg']:.2f}", f"{r['client']:.2f}"])
    print(table(["path", "transitions", "s", "transitions/s", "vs pgbench", "avg ms", "p50 ms",
                 "p99 ms", "cores busy", "server CPU ms/tr", "PostgreSQL CPU ms/tr",
                 "client CPU ms/tr"], rows))


if __name__ == "__main__":
    main()
