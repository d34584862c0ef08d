"""Payloads per second through `aftersales import`'s code path, batched and per payload.

    .venv/bin/python bench/import_throughput.py --db both --payloads 100000 --single 3000

Measured: `entrypoints.importer.import_file` — reading the JSON-lines file, the platform
adapter's `parse`, `service.sync.apply_snapshot` and the writes — exactly what the CLI
runs, without the progress bar. The batched path runs the same handler over a
write-behind store (adapters/db/bulk_sync.py) and writes each batch with executemany;
`--single` payloads also go through the per-payload path (one transaction each, as the
API does) for comparison. The stream is Kuaishou's recorded refund history multiplied:
half the cases arrive with their whole history (one create, four updates), half with
their latest version only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import T0, db_args, fresh_engine, kinds, table

from aftersales.adapters.clock import FixedClock
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.entrypoints.importer import import_file
from aftersales.service import shops
from integration.payloads import kuaishou_stream


def measure(kind: str, path: Path, count: int, *, staged: bool, batch: int,
            jobs: int = 1) -> tuple[float, str]:
    with fresh_engine(kind) as (_, engine):
        app = bootstrap(engine=engine, clock=FixedClock(T0))
        shop = shops.create_shop(app.deps, "导入压测", "kuaishou")
        started = time.perf_counter()
        report = import_file(app, shop.shop.id, "kuaishou", path, batch=batch, staged=staged,
                             jobs=jobs)
        seconds = time.perf_counter() - started
        if report.errors or report.applied != count:
            raise SystemExit(f"{kind}: {report.to_dict()}")
        mix = f"{report.created:,} created / {report.updated:,} updated"
        return count / seconds, mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    db_args(parser)
    parser.add_argument("--payloads", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=3_000, help="payloads for the per-payload path")
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="as-import-") as tmp:
        big, small = Path(tmp) / "big.jsonl", Path(tmp) / "small.jsonl"
        big.write_text("\n".join(kuaishou_stream(args.payloads)) + "\n", encoding="utf-8")
        small.write_text("\n".join(kuaishou_stream(args.single)) + "\n", encoding="utf-8")
        for kind in kinds(args):
            rate, mix = measure(kind, big, args.payloads, staged=True, batch=args.batch)
            path_name = f"batched ({args.batch}/transaction)"
            rows.append([kind, path_name, f"{args.payloads:,}", mix, f"{rate:,.0f}"])
            print(rows[-1], flush=True)
            rate, mix = measure(kind, small, args.single, staged=False, batch=args.batch)
            rows.append([kind, "per payload", f"{args.single:,}", mix, f"{rate:,.0f}"])
            print(rows[-1], flush=True)
    print(table(["database", "path", "payloads", "mix", "payloads/s"], rows))


if __name__ == "__main__":
    main()
