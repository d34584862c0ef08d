"""A/B of two server builds on the full return flow, flows alternated between them.

    .venv/bin/python bench/ab_flow.py --flows 500 --a-path /tmp/base/src
    .venv/bin/python bench/ab_flow.py --flows 500 --b-args="--http h11"

This machine's speed drifts by up to 1.7x from one minute to the next, so two runs of
http_flow.py minutes apart cannot show a 3% change. Here both servers (uvicorn, one worker
each) serve one database at the same time and one client runs a flow on A, then one on B,
then B, then A, ...: each pair of flows meets the same machine. A and B differ by the
source tree on their PYTHONPATH (`--a-path`, `--b-path`; e.g. a `git worktree` of the old
commit), by uvicorn arguments (`--a-args`, `--b-args`) or by environment variables
(`--a-env AFTERSALES_TOKEN_CACHE_SECONDS=0`). Reports each side's flows/s and
per-step p50, B's time over A's (sum of flow times) and the median of the pairs' ratios.
Running it with no difference gives the noise floor: 1–3% here (500 and 200 flows).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import analyze, fresh_engine
from http_flow import STEPS, RawClient, flow, flow_shop, free_port, order_body


def start(url: str, files: Path, args: list[str], path: str | None,
          extra_env: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "AFTERSALES_DATABASE_URL": url, "AFTERSALES_DATA_DIR": str(files),
           **dict(pair.split("=", 1) for pair in extra_env)}
    if path:
        env["PYTHONPATH"] = path
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "aftersales.entrypoints.api.app:create_app",
                             "--factory", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning", "--no-access-log", *args], env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            RawClient(port, "-").sock.close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise RuntimeError("a server did not start") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--flows", type=int, default=500, help="flows on each side")
    parser.add_argument("--a-path", help="PYTHONPATH of server A")
    parser.add_argument("--b-path", help="PYTHONPATH of server B")
    parser.add_argument("--a-args", type=shlex.split, default=[],
                        help='uvicorn arguments of server A, one string: --a-args="--http h11"')
    parser.add_argument("--b-args", type=shlex.split, default=[])
    parser.add_argument("--a-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of server A (repeatable)")
    parser.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    n = args.flows
    with fresh_engine(args.db) as (url, engine):
        files = Path(os.environ.get("TMPDIR", "/tmp")) / f"as-ab-files-{os.getpid()}"
        tok = flow_shop(url, files)
        a, port_a = start(url, files, args.a_args, args.a_path, args.a_env)
        b, port_b = start(url, files, args.b_args, args.b_path, args.b_env)
        try:
            sides = [RawClient(port_a, tok["platform"]), RawClient(port_b, tok["platform"])]
            orders = [sides[0].post("/orders", order_body(i)) for i in range(2 * n + 200)]
            for i in range(200):  # warm-up on both, then the statistics autovacuum keeps
                flow(sides[i % 2], tok, orders[i], i, {s: [] for s in STEPS})
            analyze(engine)
            took: list[list[float]] = [[], []]
            steps: list[dict[str, list[float]]] = [{s: [] for s in STEPS} for _ in sides]
            for j in range(n):
                for side in ((0, 1) if j % 2 == 0 else (1, 0)):
                    i = 200 + 2 * j + side
                    t0 = time.perf_counter()
                    flow(sides[side], tok, orders[i], i, steps[side])
                    took[side].append(time.perf_counter() - t0)
        finally:
            for proc in (a, b):
                proc.terminate()
                proc.wait(timeout=10)
    pairs = [tb / ta for ta, tb in zip(*took, strict=True)]
    print(f"{args.db}: A {n / sum(took[0]):.1f} flows/s, B {n / sum(took[1]):.1f} flows/s; "
          f"B/A time {sum(took[1]) / sum(took[0]):.3f}, median pair {statistics.median(pairs):.3f}")
    for s in STEPS:
        print(f"  {s}: p50 A {1000 * statistics.median(steps[0][s]):.2f} ms, "
              f"B {1000 * statistics.median(steps[1][s]):.2f} ms")


if __name__ == "__main__":
    main()
