"""`aftersales import PLATFORM FILE`: JSON-lines platform payloads into the desk.

Every payload goes through the platform adapter's `parse` (the one mapping of that
platform's fields and statuses) and the one sync handler, `service.sync.apply_snapshot`
(the one set of version rules). A bad line is reported with its number and skipped; the
rest still load.

Speed: payloads are taken in batches; each batch runs the same handler against a
write-behind store (adapters/db/bulk_sync.py) and is written in one transaction with
executemany. If anything in a batch fails, the batch is rolled back and replayed one
payload per transaction, so the failing line is named exactly and the others still land.
`--per-payload` skips the batching (one transaction per payload, as the API does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db.bulk_sync import NotStaged, StagingStore, StagingUnitOfWork
from aftersales.adapters.db.store import SqlStore
from aftersales.adapters.platforms import PayloadError, PlatformAdapter, adapter_for
from aftersales.domain.errors import DomainError, InvalidInput
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal, ShopRecord
from aftersales.service.sync import apply_snapshot

Numbered = tuple[int, PlatformSnapshot]
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

    def to_dict(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "failed": len(self.errors), "errors": [str(e) for e in self.errors]}


def check_shop(app: App, shop_id: str, platform: str) -> ShopRecord:
    """The shop must exist and sell on this platform (payload shapes differ per platform)."""
    adapter_for(platform)  # unknown platform: PayloadError(code="unknown_platform")
    with app.deps.uow() as uow:
        shop = uow.store.get_shop(shop_id)
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


def parse_line(adapter: PlatformAdapter, number: int, raw: bytes) -> PlatformSnapshot | LineError:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return LineError(number, "invalid_json", str(exc).splitlines()[0])
    if not isinstance(payload, dict):
        return LineError(number, "invalid_payload", "a payload must be a JSON object")
    try:
        return adapter.parse(payload)
    except PayloadError as exc:
        return LineError(number, exc.code, exc.message)
    except DomainError as exc:
        return LineError(number, exc.code, exc.message)


def import_file(app: App, shop_id: str, platform: str, path: Path, *, batch: int = 1000,
                staged: bool = True, advance: Callable[[int], None] | None = None) -> ImportReport:
    """Import every line of `path`; `advance(bytes)` reports progress as lines are read."""
    check_shop(app, shop_id, platform)
    adapter = adapter_for(platform)
    principal = Principal(shop_id, Role.platform, actor_id="import")
    report = ImportReport()
    pending: list[Numbered] = []
    for number, raw in read_lines(path):
        parsed = parse_line(adapter, number, raw)
        if isinstance(parsed, LineError):
            report.errors.append(parsed)
        else:
            pending.append((number, parsed))
        if len(pending) >= batch:
            apply_batch(app, principal, pending, report, staged=staged)
            pending = []
        if advance is not None:
            advance(len(raw))
    if pending:
        apply_batch(app, principal, pending, report, staged=staged)
    report.errors.sort(key=lambda e: e.line)
    return report


def apply_batch(app: App, principal: Principal, items: list[Numbered], report: ImportReport, *,
                staged: bool = True) -> None:
    if staged:
        try:
            for result in apply_staged(app, principal, items):
                report.count(result)
            return
        except (NotStaged, DomainError, IntegrityError):
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
        report.count(result)


def apply_staged(app: App, principal: Principal, items: list[Numbered]) -> list[str]:
    """One batch through apply_snapshot on a write-behind store, written in one transaction."""
    with app.engine.connect() as conn, conn.begin():
        shop = SqlStore(conn, app.deps.new_id).get_shop(principal.shop_id)
        if shop is None:
            raise NotFound(f"no shop {principal.shop_id}", code="shop_not_found")
        staging = StagingStore(conn, app.deps.new_id, shop)
        staging.prefetch({s.platform_case_id for _, s in items}, {s.platform_order_id for _, s in items})
        uow = StagingUnitOfWork(staging)
        deps = replace(app.deps, uow=lambda: uow)
        results = [apply_snapshot(deps, principal, snap)[1] for _, snap in items]
        staging.flush()
    return results

