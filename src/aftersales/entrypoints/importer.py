"""`aftersales import PLATFORM FILE`: JSON-lines platform payloads into the desk.

Every payload goes through the platform adapter's `parse` (the one mapping of that
platform's fields and statuses) and the one sync handler, `service.sync.apply_snapshot`
(the one set of version rules). A bad line is reported with its number and skipped; the
rest still load. Each snapshot is checked first to hold only what both databases store
alike (adapters/platforms/limits.py: no control characters, ids within their columns), so
a line is refused the same way on SQLite and PostgreSQL. `aftersales import` exits 1
when some lines were refused (each named on stderr), after the others have landed.

Speed: payloads are taken in batches; each batch runs the same handler against a
write-behind store (adapters/db/bulk/bulk_sync.py) and is written in one transaction with
executemany. If anything in a batch fails, the batch is rolled back and replayed one
payload per transaction, so the failing line is named exactly and the others still land.
`--per-payload` skips the batching (one transaction per payload, as the API does).

Processes: with `jobs` > 1 the file is shared among forked processes by the platform's
order id (`adapter.order_key`), so every payload of one order — every version of each of
its cases, in file order — is applied by one process, and no two processes ever write the
same order or case. Each process reads the whole file but decodes only the JSON to find
the key; the adapters' full parse, the handler and the writes are split. On SQLite a
batch reads and runs the handler in a non-locking read transaction and takes the write
lock only to write its prepared rows; a case changed meanwhile fails the version check
and the batch is replayed payload by payload, as after any other failure.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import pickle
import queue
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from aftersales.adapters.db.bulk.bulk_sync import (
    NotStaged,
    StagingStore,
    StagingUnitOfWork,
    refresh_statistics,
)
from aftersales.adapters.db.engine import READ_ONLY
from aftersales.adapters.db.shops_orders import SqlShops
from aftersales.adapters.platforms import PayloadError, PlatformAdapter, adapter_for
from aftersales.adapters.platforms.limits import Refused, check_snapshot
from aftersales.domain.errors import DomainError, InvalidInput
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal, ShopRecord
from aftersales.service.sync import apply_snapshot

Numbered = tuple[int, PlatformSnapshot]
# Files at least this large are imported by several processes unless told otherwise.
PARALLEL_FROM_BYTES = 4 * 2**20
# Platforms whose payloads a shop may import: Tmall shops receive Taobao-shaped payloads too.
COMPATIBLE = {"tmall": {"tmall", "taobao"}, "taobao": {"taobao", "tmall"}}


@dataclass(frozen=True)
class LineError:
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}: {self.message}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)
    replayed_batches: int = 0

    @property
    def applied(self) -> int:
        return self.created + self.updated + self.unchanged

    def count(self, result: str) -> None:
        setattr(self, result, getattr(self, result) + 1)

    def add(self, other: ImportReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors += other.errors
        self.replayed_batches += other.replayed_batches

    def to_dict(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "failed": len(self.errors), "errors": [str(e) for e in self.errors]}


def check_shop(app: App, shop_id: str, platform: str) -> ShopRecord:
    """The shop must exist and sell on this platform (payload shapes differ per platform)."""
    adapter_for(platform)  # unknown platform: PayloadError(code="unknown_platform")
    with app.deps.uow() as uow:
        shop = uow.shops.get_shop(shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}", code="shop_not_found")
    if platform not in COMPATIBLE.get(shop.shop.platform, {shop.shop.platform}):
        raise InvalidInput(f"shop {shop_id} sells on {shop.shop.platform}, not {platform}",
                           code="platform_mismatch")
    return shop


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) for every non-blank line; FileNotFoundError if missing."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if raw.strip():
                yield number, raw


def decode(number: int, raw: bytes) -> dict[str, Any] | LineError:
    """The line's JSON object. orjson first (the faster decoder, bench/RESULTS.md); what it
    refuses is decoded again by the standard library, which also accepts integers beyond
    64 bits and names the error."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return LineError(number, "invalid_json", str(exc).splitlines()[0])
    if not isinstance(payload, dict):
        return LineError(number, "invalid_payload", "a payload must be a JSON object")
    return payload


def snapshot(adapter: PlatformAdapter, number: int, payload: dict[str, Any]) -> Numbered | LineError:
    """The line's snapshot, checked to hold only what both databases store alike
    (adapters/platforms/limits.py), or the line's error."""
    try:
        snap = adapter.parse(payload)
        check_snapshot(snap)
        return number, snap
    except Refused as exc:
        return LineError(number, exc.code, exc.message)
    except PayloadError as exc:
        return LineError(number, exc.code, exc.message)
    except DomainError as exc:
        return LineError(number, exc.code, exc.message)


def default_jobs(path: Path) -> int:
    """Several processes for a large file (up to 4, one per core), one for a small one."""
    if path.stat().st_size < PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def import_file(app: App, shop_id: str, platform: str, path: Path, *, batch: int = 2000,
                staged: bool = True, advance: Callable[[int], None] | None = None,
                jobs: int = 1) -> ImportReport:
    """Import every line of `path`; `advance(bytes)` reports progress as lines are read."""
    check_shop(app, shop_id, platform)
    if jobs > 1 and staged and "fork" in multiprocessing.get_all_start_methods():
        return _import_parallel(app, shop_id, platform, path, batch, jobs, advance)
    report = import_share(app, shop_id, platform, path, batch=batch, staged=staged,
                          advance=advance)
    report.errors.sort(key=lambda e: e.line)
    return report


def import_share(app: App, shop_id: str, platform: str, path: Path, *, batch: int,
                 staged: bool = True, advance: Callable[[int], None] | None = None,
                 share: int = 0, shares: int = 1, write_lock: Any = None) -> ImportReport:
    """The lines of `path` whose order falls to `share` of `shares` (all when shares is 1)."""
    with _few_collections():
        return _import_share(app, shop_id, platform, path, batch, staged, advance, share, shares,
                             write_lock)


@contextmanager
def _few_collections() -> Iterator[None]:
    """A batch holds tens of thousands of young objects, all alive until it is written, so
    Python's cyclic collector (every 700 allocations by default) rescans them again and
    again for nothing: 15% of an import's time. Collect rarely while importing."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _import_share(app: App, shop_id: str, platform: str, path: Path, batch: int, staged: bool,
                  advance: Callable[[int], None] | None, share: int, shares: int,
                  write_lock: Any) -> ImportReport:
    adapter = adapter_for(platform)
    principal = Principal(shop_id, Role.platform, actor_id="import")
    report = ImportReport()
    pending: list[Numbered] = []
    batches = 0
    for number, raw in read_lines(path):
        if advance is not None:
            advance(len(raw))
        payload = decode(number, raw)
        if shares > 1 and _owner(adapter, number, payload, shares) != share:
            continue
        parsed = payload if isinstance(payload, LineError) else snapshot(adapter, number, payload)
        if isinstance(parsed, LineError):
            report.errors.append(parsed)
            continue
        pending.append(parsed)
        if len(pending) >= batch:
            apply_batch(app, principal, pending, report, staged=staged, write_lock=write_lock)
            pending = []
            batches += 1
            if staged and share == 0 and batches in (1, 4, 16, 64, 256):  # stale ≤ 4×
                refresh_statistics(app.engine)
    if pending:
        apply_batch(app, principal, pending, report, staged=staged, write_lock=write_lock)
    return report


def _owner(adapter: PlatformAdapter, number: int, payload: dict[str, Any] | LineError,
           shares: int) -> int:
    """Which process takes this line: by order id, so an order's payloads stay together
    and in file order; a line without one (an error to report) by its number."""
    if isinstance(payload, LineError):
        return number % shares
    try:
        key = adapter.order_key(payload)
    except (PayloadError, DomainError):
        return number % shares
    return zlib.crc32(key.encode()) % shares


def _import_parallel(app: App, shop_id: str, platform: str, path: Path, batch: int, jobs: int,
                     advance: Callable[[int], None] | None) -> ImportReport:
    """`jobs` forked processes, each importing its share of the orders; reports summed."""
    ctx = multiprocessing.get_context("fork")
    app.engine.dispose()  # no pooled connection may be shared with a child
    done = ctx.Array("q", jobs, lock=False)  # bytes read, per process
    results = ctx.Queue()
    # SQLite has one writer: the processes queue for it on this lock, woken at once, rather
    # than in SQLite's busy handler, which sleeps up to 100 ms between tries.
    write_lock = ctx.Lock() if app.engine.dialect.name == "sqlite" else None
    children = [ctx.Process(target=_child, daemon=True,
                            args=(app, shop_id, platform, path, batch, k, jobs, done, results,
                                  write_lock))
                for k in range(jobs)]
    for child in children:
        child.start()
    report, answers, shown = ImportReport(), 0, 0
    try:
        while answers < jobs:
            try:
                _, outcome = results.get(timeout=0.2)
            except queue.Empty:  # report progress; check that nobody died silently
                if any(c.exitcode not in (None, 0) for c in children):
                    raise RuntimeError("an import process died; nothing after its last "
                                       "committed batch was written") from None
            else:
                answers += 1
                if isinstance(outcome, BaseException):
                    raise outcome
                report.add(outcome)
            if advance is not None:
                seen = min(done[:]) if answers < jobs else path.stat().st_size
                advance(seen - shown)
                shown = seen
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
    report.errors.sort(key=lambda e: e.line)
    return report


def _child(app: App, shop_id: str, platform: str, path: Path, batch: int, share: int,
           shares: int, done: Any, results: Any, write_lock: Any) -> None:
    app.engine.dispose(close=False)  # the parent's connections are the parent's
    gc.freeze()  # what the parent had is not this process's garbage to scan

    def count(n: int) -> None:
        done[share] += n

    try:
        outcome: ImportReport | BaseException = import_share(
            app, shop_id, platform, path, batch=batch, advance=count, share=share, shares=shares,
            write_lock=write_lock)
    except BaseException as exc:  # handed to the parent, which raises it
        outcome = exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}")
    results.put((share, outcome))


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


def apply_batch(app: App, principal: Principal, items: list[Numbered], report: ImportReport, *,
                staged: bool = True, write_lock: Any = None) -> None:
    if staged:
        try:
            for result in apply_staged(app, principal, items, write_lock):
                report.count(result)
            return
        except (NotStaged, DomainError, IntegrityError, DataError):
            report.replayed_batches += 1  # name the failing line exactly, land the rest
    for number, snap in items:
        try:
            _, result = apply_snapshot(app.deps, principal, snap)
        except DomainError as exc:
            report.errors.append(LineError(number, exc.code, exc.message))
            continue
        except IntegrityError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else "constraint violated"
            report.errors.append(LineError(number, "conflict", first))
            continue
        except DataError as exc:  # a value the database refused that limits.py let by
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else "value refused"
            report.errors.append(LineError(number, "invalid_value", first))
            continue
        report.count(result)


def apply_staged(app: App, principal: Principal, items: list[Numbered],
                 write_lock: Any = None) -> list[str]:
    """One batch through apply_snapshot on a write-behind store, written in one transaction.

    PostgreSQL: read (rows locked FOR UPDATE), run and write in one transaction. SQLite has
    one writer at a time, so the batch reads and runs in a read transaction, and holds the
    write lock only to write its prepared rows (the version check catches a case changed
    in between)."""
    engine = app.engine
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn, conn.begin():
            staging, results = _stage(app, conn, principal, items)
            staging.flush()
        return results
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn, conn.begin():
        staging, results = _stage(app, conn, principal, items)
        writes = staging.prepare()
    with write_lock or nullcontext(), engine.begin() as conn:
        writes.write(conn)
    return results


def _stage(app: App, conn: Connection, principal: Principal,
           items: list[Numbered]) -> tuple[StagingStore, list[str]]:
    shop = SqlShops(conn, app.deps.new_id).get_shop(principal.shop_id)
    if shop is None:
        raise NotFound(f"no shop {principal.shop_id}", code="shop_not_found")
    staging = StagingStore(conn, app.deps.new_id, shop)
    staging.prefetch({s.platform_case_id for _, s in items}, {s.platform_order_id for _, s in items})
    uow = StagingUnitOfWork(staging)
    # mypy: StagingStore answers only what apply_snapshot reaches (NotStaged for the rest),
    # so it is not the whole UnitOfWork port: a typed lie kept to the batched import alone
    deps = replace(app.deps, uow=lambda: uow)  # type: ignore[arg-type, return-value]
    return staging, [apply_snapshot(deps, principal, snap)[1] for _, snap in items]
