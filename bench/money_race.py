"""Issue 19's figure at full size: 1,000 concurrent refund-causing tries per database.

Through `aftersales serve --workers 2` on 127.0.0.1 (a fresh database each): one
idempotency key sent many times, many keys, approve against reject, approve against a
deadline firing, sync replays, sibling cases on one order (tests/money_race.py). Prints
the tries, the answers by scenario and the money checks — over-refunds (an order's ledger
above what it took) and double entries (a case paid twice for one kind) must both be 0.
The CI test tests/api/test_money_race.py runs the same with a bounded count.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import db_args, fresh_engine, kinds, table

from money_race import prepare, run, served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    db_args(parser)
    parser.add_argument("--tries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    rows, failed = [], False
    for kind in kinds(args):
        with fresh_engine(kind) as (url, engine), tempfile.TemporaryDirectory() as tmp:
            engine.dispose()
            with served(url, Path(tmp)) as base, httpx.Client(
                    base_url=f"{base}/api/v1", timeout=120,
                    limits=httpx.Limits(max_connections=args.threads * 2)) as http:
                race = prepare(http, url, args.tries)
                out = run(race, threads=args.threads)
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(out.codes.items()))
        rows.append([kind, out.tries, f"{out.seconds:.1f}", out.orders, out.over_refunds,
                     out.double_entries, out.server_errors, out.differences,
                     f"{out.booked}/{out.took}", codes])
        for scenario, got in out.by_scenario.items():
            print(kind, scenario, dict(sorted(got.items())))
        failed |= bool(out.over_refunds or out.double_entries or out.server_errors)
    print(table(["database", "tries", "seconds", "orders", "over-refunds", "double entries",
                 "5xx", "differences kept", "booked/took (fen)", "answers"], rows))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
