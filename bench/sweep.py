"""Fire N due deadlines among M open cases, through timers.sweep; seconds and the M ratio.

    .venv/bin/python bench/sweep.py --db both --due 10000 --open 10000 1000000

What is measured: `timers.sweep(deps, now, live_only=True)` — the worker's pass — from
the first claim to the last commit. What is not: seeding, which clones one real case with
INSERT ... SELECT (tests/integration/seeding.py) and then refreshes statistics. The goal
is that the cost per fired deadline does not grow with the number of open cases (claims
use the partial index on pending due_at; every other statement is by primary key or by
case id), i.e. a 1M/10k ratio under 2×.
"""

from __future__ import annotations

import argparse
import time

from _common import T0, analyze, db_args, fresh_engine, kinds, table

from aftersales.adapters.clock import FixedClock
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service import timers
from integration.seeding import seed


def run(kind: str, due: int, open_cases: int, batch: int) -> dict[str, float]:
    with fresh_engine(kind) as (_, engine):
        app = bootstrap(engine=engine, clock=FixedClock(T0))
        started = time.perf_counter()
        seed(app, due=due, open_=max(open_cases - due, 0), base=T0)
        analyze(engine)
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        fired = timers.sweep(app.deps, T0, batch=batch, live_only=True)
        seconds = time.perf_counter() - started
        if len(fired) != due:
            raise SystemExit(f"{kind}: fired {len(fired)} of {due}")
        return {"seed_s": seeded, "sweep_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    db_args(parser)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--open", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    rows: list[list[object]] = []
    for kind in kinds(args):
        base: float | None = None
        for open_cases in args.open:
            r = run(kind, args.due, open_cases, args.batch)
            base = base or r["sweep_s"]
            rows.append([kind, f"{open_cases:,}", f"{args.due:,}", f"{r['sweep_s']:.1f}",
                         f"{1000 * r['sweep_s'] / args.due:.2f}", f"{r['sweep_s'] / base:.2f}×",
                         f"{r['seed_s']:.0f}"])
            print(f"{kind}: {open_cases:,} open, {args.due:,} due: sweep {r['sweep_s']:.1f}s "
                  f"(seeding {r['seed_s']:.0f}s, not measured)", flush=True)
    print(table(["database", "open cases", "due", "sweep s", "ms / deadline",
                 "vs smallest", "seeding s (not measured)"], rows))


if __name__ == "__main__":
    main()
