"""Payloads per second through `aftersales import`'s code path: batched in 1 and 2
processes, and per payload.

    .venv/bin/python bench/import_throughput.py --db both --payloads 100000 --single 3000

Measured: `entrypoints.importer.import_file` — reading the JSON-lines file, the platform
adapter's `parse`, `service.sync.apply_snapshot` and the writes — exactly what the CLI
runs, without the progress bar. The batched path runs the same handler over a
batch-collecting store (adapters/db/bulk/bulk_sync.py) and writes each batch in one transaction
(COPY on PostgreSQL); with `--jobs 2` two forked processes share the file by order id.
`--single` payloads also go through the per-payload path (one transaction each, as the
API does) for comparison. The stream is Kuaishou's recorded refund history multiplied:
half the cases arrive with their whole history (one create, four updates), half with
their latest version only.

Besides the wall-clock rate, each row gives the CPU spent per payload by the import's
own processes and by PostgreSQL's server processes, and the machine's load average before
the run: on a shared 2-core machine the rate moves with other work, the CPU cost much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from _common import T0, db_args, fresh_engine, kinds, postgres_cpu, table

from aftersales.adapters.clock import FixedClock
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.entrypoints.importer import import_file
from aftersales.service import shops
from integration.payloads import kuaishou_stream


def own_cpu() -> float:
    """CPU seconds of this process and its reaped children (the forked importers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(kind: str, path: Path, count: int, *, staged: bool, batch: int,
            jobs: int = 1) -> dict[str, object]:
    with fresh_engine(kind) as (_, engine):
        app = bootstrap(engine=engine, clock=FixedClock(T0))
        shop = shops.create_shop(app.deps, "导入压测", "kuaishou")
        load = os.getloadavg()[0]
        cpu, server = own_cpu(), postgres_cpu()
        started = time.perf_counter()
        report = import_file(app, shop.shop.id, "kuaishou", path, batch=batch, staged=staged,
                             jobs=jobs)
        seconds = time.perf_counter() - started
        cpu, server = own_cpu() - cpu, postgres_cpu() - server
        if report.errors or report.applied != count:
            raise SystemExit(f"{kind}: {report.to_dict()}")
        return {"rate": count / seconds, "load": load, "cpu_us": cpu / count * 1e6,
                "server_us": server / count * 1e6 if kind == "postgresql" else None,
                "mix": f"{report.created:,} created / {report.updated:,} updated"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    db_args(parser)
    parser.add_argument("--payloads", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=3_000, help="payloads for the per-payload path")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2],
                        help="import processes for the batched path (one run each)")
    args = parser.parse_args()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="as-import-") as tmp:
        big, small = Path(tmp) / "big.jsonl", Path(tmp) / "small.jsonl"
        big.write_text("\n".join(kuaishou_stream(args.payloads)) + "\n", encoding="utf-8")
        small.write_text("\n".join(kuaishou_stream(args.single)) + "\n", encoding="utf-8")
        for kind in kinds(args):
            runs = [(f"batched, {j} process{'es' if j > 1 else ''}", big, args.payloads, True, j)
                    for j in args.jobs]
            runs.append(("per payload", small, args.single, False, 1))
            for name, path, count, staged, jobs in runs:
                m = measure(kind, path, count, staged=staged, batch=args.batch, jobs=jobs)
                server = "–" if m["server_us"] is None else f"{m['server_us']:.0f}"
                rows.append([kind, name, f"{count:,}", m["mix"], f"{m['rate']:,.0f}",
                             f"{m['cpu_us']:.0f}", server, f"{m['load']:.2f}"])
                print(rows[-1], flush=True)
    print(table(["database", "path", "payloads", "mix", "payloads/s", "import CPU µs/payload",
                 "PostgreSQL CPU µs/payload", "load before"], rows))

if __name__ == "__main__":
    main()
