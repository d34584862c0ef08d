"""Transitions per second through the HTTP API vs the same SQL by hand in pgbench (issue 4).

    .venv/bin/python bench/http_transitions.py --cases 5000 --seconds 15 --pool 80000

PostgreSQL only, one fresh database for the whole run. The transition is an agent
approving a Kuaishou return (requested → awaiting_return): update the case, insert its
event, supersede the pending deadline row and insert the new one.

HTTP: `uvicorn --workers 1`, then `--workers 2`, each over its own `--cases` cases opened
through the service layer (`orders.import_order` + `cases.open_case`, a sandbox shop whose
clock stays put, so every approval is in the review window). 8 client threads, one
keep-alive `http.client` connection each to 127.0.0.1, own disjoint slices of the case ids
and `POST /api/v1/cases/{id}/actions/approve` each case once, for `--seconds` or until the
slice runs out, after 10 uncounted warm-up requests each. Rate = 200s / wall time.

pgbench: the statements of bench/transition.py (HAND) as a `-M prepared` script, 8 clients,
2 threads, `-T --seconds`, on the same database, over `--pool` cases cloned by
`INSERT ... SELECT` from one service-opened case (pgbench only touches cases and
deadlines). The script takes the next case from a sequence inside the locking SELECT, so
each case is approved once; past the end of the pool it wraps around and re-approves
(the writes are the same; the run says whether that happened). Latencies: `--log`.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from _common import analyze, fresh_engine, table
from http_flow import cpu, server
from sqlalchemy import Engine
from transition import HAND

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases, orders, shops
from aftersales.service.ports import Principal

WARMUP = 10
PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"


def open_cases(app: App, shop_id: str, now: datetime, n: int, tag: str) -> list[str]:
    """`n` requested cases, one order each, through the service (4 threads: ~7 ms a case)."""
    platform = Principal(shop_id, Role.platform)
    buyer = Principal(shop_id, Role.buyer, "b1")

    def one(i: int) -> str:
        line = orders.NewLine(sku="DRESS-RED-M", name="连衣裙 红色 M", unit_price=19900,
                              quantity=1, paid_amount=18900, attributes={"colour": "红色"})
        order, _ = orders.import_order(app.deps, platform, orders.NewOrder(
            platform_order_id=f"{tag}-{i}", buyer_id="b1", paid_at=now - timedelta(days=5),
            payment_method="alipay", currency="CNY", freight=800, free_shipping=False,
            lines=(line,), shipped_at=now - timedelta(days=4), delivered_at=now - timedelta(days=1)))
        return cases.open_case(app.deps, buyer, cases.NewCase(
            order_id=order.id, type="return_refund", reason="no_reason",
            lines=((order.lines[0].id, 1),))).case.id

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(n)))


def clone_pool(engine: Engine, template_id: str, n: int) -> None:
    """`n` copies of one requested case and its pending deadline; case ids pb000…1 to pb…n."""
    case_id = "'pb' || lpad(i::text, 34, '0')"
    with engine.begin() as conn:
        for name, pick, where in (
                ("cases", {"id": case_id}, f"t.id = '{template_id}'"),
                ("deadlines", {"id": "'db' || lpad(i::text, 34, '0')", "case_id": case_id},
                 f"t.case_id = '{template_id}' AND t.status = 'pending'")):
            cols = [r[0] for r in conn.exec_driver_sql(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position", (name,))]
            exprs = ", ".join(pick.get(c, f"t.{c}") for c in cols)
            conn.exec_driver_sql(f"INSERT INTO {name} ({', '.join(cols)}) SELECT {exprs} "
                                 f"FROM {name} t, generate_series(1, {n}) i WHERE {where}")
        conn.exec_driver_sql("CREATE SEQUENCE bench_pick")


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


def http_run(url: str, tmp: Path, workers: int, token: str, ids: list[str], clients: int,
             seconds: float) -> dict[str, float]:
    slices = [ids[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    finished = [0.0] * clients
    errors: list[str] = []
    go = threading.Barrier(clients + 1)
    with server(url, tmp, workers) as port:
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
        start, cpu0, own0 = time.perf_counter(), cpu(), time.process_time()
        for th in threads:
            th.join(timeout=seconds + 60)
        cpu1, own1 = cpu(), time.process_time()
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, first: {errors[0]}")
    every = [x for per in latencies for x in per]
    wall = max(finished) - start
    return {"n": len(every), "s": wall, "rate": len(every) / wall,
            "p50": 1000 * pct(every, .5), "p99": 1000 * pct(every, .99),
            "avg": 1000 * statistics.fmean(every), "busy": (cpu1[1] - cpu0[1]) / wall,
            "server": 1000 * (cpu1[0] - cpu0[0]) / len(every),
            "client": 1000 * (own1 - own0) / len(every)}


def pgbench_run(url: str, script: str, tmp: Path, clients: int, seconds: int) -> dict[str, float]:
    (tmp / "approve.sql").write_text(script)
    for old in glob.glob(str(tmp / "pgb*")):
        os.unlink(old)
    dbname = url.rsplit("/", 1)[1]
    cmd = [PGBENCH, "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds),
           "-f", str(tmp / "approve.sql"), "--log", f"--log-prefix={tmp / 'pgb'}",
           "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", dbname]
    print("$", " ".join(cmd), flush=True)
    busy0 = cpu()[1]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    busy = (cpu()[1] - busy0) / seconds
    if done.returncode != 0 or "failed transactions: 0 (" not in done.stdout:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    tps = float(re.search(r"tps = ([\d.]+) \(without", done.stdout)[1])  # type: ignore[index]
    lat = [int(line.split()[2]) / 1000 for f in glob.glob(str(tmp / "pgb*"))
           for line in Path(f).read_text().splitlines()]
    return {"n": len(lat), "s": float(seconds), "rate": tps, "p50": pct(lat, .5),
            "p99": pct(lat, .99), "avg": statistics.fmean(lat), "busy": busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000, help="seeded cases per HTTP run")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--pool", type=int, default=80000, help="cloned cases for pgbench")
    args = parser.parse_args()
    with fresh_engine("postgresql") as (url, engine), \
            tempfile.TemporaryDirectory(prefix="as-bench-") as tmpdir:
        tmp = Path(tmpdir)
        app = bootstrap(engine=engine)
        shop = shops.create_shop(app.deps, "基准店", "kuaishou", sandbox=True)
        sid, now = shop.shop.id, shop.clock_at
        assert now is not None
        token = shops.create_token(app.deps, sid, "agent")
        started = time.perf_counter()
        pools = {w: open_cases(app, sid, now, args.cases, f"W{w}") for w in (1, 2)}
        template = open_cases(app, sid, now, 1, "TPL")[0]
        print(f"seeded {2 * args.cases + 1} cases through the service in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        clone_pool(engine, template, args.pool)
        analyze(engine)
        script = pgbench_script(sid, now.isoformat(), (now + timedelta(days=10)).isoformat(),
                                args.pool)
        print(script, flush=True)
        results = {"pgbench": pgbench_run(url, script, tmp, args.clients, args.seconds)}
        print("pgbench", results["pgbench"], flush=True)
        for w in (1, 2):
            results[f"HTTP {w}"] = http_run(url, tmp, w, token, pools[w], args.clients, args.seconds)
            print(f"HTTP {w}", results[f"HTTP {w}"], flush=True)
        with engine.connect() as conn:
            states = {bool(pooled): int(n) for pooled, n in conn.exec_driver_sql(
                "SELECT left(id, 2) = 'pb', count(*) FROM cases "
                "WHERE state = 'awaiting_return' GROUP BY 1")}
        app.engine.dispose()
    http_done = results["HTTP 1"]["n"] + results["HTTP 2"]["n"] + 2 * WARMUP * args.clients
    print(f"awaiting_return: {states.get(False, 0)} via HTTP (expected {http_done}), "
          f"{states.get(True, 0)} of the {args.pool} pgbench cases "
          f"({results['pgbench']['n']} transactions"
          f"{', wrapped around' if results['pgbench']['n'] > args.pool else ''})")
    if states.get(False, 0) != http_done:
        raise SystemExit("HTTP: approvals answered 200 and cases moved differ")
    base = results["pgbench"]["rate"]
    names = {"HTTP 1": "HTTP, uvicorn --workers 1", "HTTP 2": "HTTP, uvicorn --workers 2",
             "pgbench": "pgbench -M prepared, SQL by hand"}
    rows: list[list[object]] = []
    for key in ("HTTP 1", "HTTP 2", "pgbench"):
        r = results[key]
        rows.append([names[key], f"{r['n']:,}", f"{r['s']:.1f}", f"{r['rate']:,.0f}",
                     f"{r['rate'] / base:.3f}", f"{r['avg']:.2f}", f"{r['p50']:.2f}",
                     f"{r['p99']:.2f}", f"{r['busy']:.2f}",
                     *(f"{r[k]:.2f}" if k in r else "–" for k in ("server", "client"))])
    print(table(["path", "transitions", "s", "transitions/s", "vs pgbench", "avg ms", "p50 ms",
                 "p99 ms", "cores busy", "server CPU ms/tr", "client CPU ms/tr"], rows))


if __name__ == "__main__":
    main()
