"""A write-behind store for bulk platform imports: the same handler, far fewer round trips.

Why: `aftersales import` must keep to its throughput floor (issue 16; bench/RESULTS.md),
and the per-payload path (one transaction, ~10 statements per payload) cannot. Rewriting the sync
logic for speed would fork the domain mapping and the version rules; instead the normal
handler `service.sync.apply_snapshot` runs unchanged against `StagingStore`, which
answers reads from rows prefetched for the whole batch (a handful of `IN (...)` queries)
and collects writes in memory. `flush` then writes the batch (bulk_writes.py: COPY on
PostgreSQL, executemany on SQLite) in one transaction, checking each existing case's
version like `SqlCases.save_case`.

What differs from the per-payload path, on purpose: a case touched several times in one
batch gets only its final deadline row (the intermediate ones would be written and
superseded at once). Anything the staging store does not support raises `NotStaged`, and
the caller replays that batch through the per-payload path — never a silent divergence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    any_,
    bindparam,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from aftersales.adapters.db import tables as t
from aftersales.adapters.db.bulk.bulk_writes import Writes
from aftersales.adapters.db.hints import unindexed
from aftersales.adapters.db.mapping import case_from_row, case_row, order_from_rows, order_rows
from aftersales.adapters.db.records import difference_row
from aftersales.domain.case import Case
from aftersales.domain.deadlines import Deadline
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.service.ports import CaseBundle, Difference, LedgerEntry, ShopRecord


class NotStaged(RuntimeError):
    """The handler asked for something the staging store does not do: replay one by one."""


@dataclass
class _Staged:
    case: Case
    loaded_version: int | None  # None: a new case
    deadline: Deadline | None = None
    now: datetime | None = None


@dataclass
class StagingStore:
    conn: Connection
    new_id: Any
    shop: ShopRecord
    cases: dict[str, _Staged] = field(default_factory=dict)  # platform_case_id -> staged
    case_keys: dict[str, str] = field(default_factory=dict)  # case id -> platform_case_id
    orders: dict[str, Order] = field(default_factory=dict)  # id -> order
    order_ids: dict[str, str] = field(default_factory=dict)  # platform_order_id -> id
    ledger: dict[str, list[LedgerEntry]] = field(default_factory=dict)  # order id -> entries
    pending: dict[str, list[Any]] = field(default_factory=dict)  # case id -> pending rows
    new_orders: list[tuple[Order, datetime]] = field(default_factory=list)
    new_refunds: list[LedgerEntry] = field(default_factory=list)
    new_differences: dict[tuple[str, str], Difference] = field(default_factory=dict)
    ledger_seen: dict[str, int] = field(default_factory=dict)  # order id -> rows prefetched
    money_orders: set[str] = field(default_factory=set)  # orders whose ledger decided money
    events: list[dict[str, Any]] = field(default_factory=list)

    # --- prefetch ------------------------------------------------------------------------
    def prefetch(self, case_ids: Iterable[str], order_ids: Iterable[str]) -> None:
        """Load every case and order the batch names, with their ledger and deadlines."""
        shop_id, c = self.shop.shop.id, t.cases.c
        among = _among_for(self.conn)
        stmt = select(t.cases).where(c.shop_id == shop_id, among(c.platform_case_id, case_ids))
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        for row in self.conn.execute(stmt).all():
            self.cases[row.platform_case_id] = _Staged(case_from_row(row), row.version)
            self.case_keys[row.id] = row.platform_case_id
        o = t.orders.c
        # Two reads, each with its own index: (shop_id, platform_order_id), and the key.
        heads = {row.id: row for row in self.conn.execute(select(t.orders).where(
            o.shop_id == shop_id, among(o.platform_order_id, order_ids))).all()}
        known = {s.case.order_id for s in self.cases.values()} - set(heads)
        if known:
            heads.update((row.id, row) for row in self.conn.execute(select(t.orders).where(
                unindexed(o.shop_id) == shop_id, among(o.id, known))).all())
        ln = t.order_lines.c
        lines: dict[str, list[Any]] = {}
        if heads:
            for row in self.conn.execute(select(t.order_lines).where(
                    unindexed(ln.shop_id) == shop_id, among(ln.order_id, list(heads)))).all():
                lines.setdefault(row.order_id, []).append(row)
        for head in heads.values():
            self._know(order_from_rows(head, lines.get(head.id, [])))
        r = t.refunds.c
        if self.orders:
            for row in self.conn.execute(select(t.refunds).where(
                    r.shop_id == shop_id, among(r.order_id, self.orders))
                    .order_by(r.created_at, r.id)).all():
                self.ledger[row.order_id].append(_entry(row))
        self.ledger_seen = {oid: len(entries) for oid, entries in self.ledger.items()}
        d = t.deadlines.c
        case_ids = [s.case.id for s in self.cases.values()]
        if case_ids:
            for row in self.conn.execute(select(d.id, d.case_id, d.key, d.due_at).where(
                    d.shop_id == shop_id, among(d.case_id, case_ids), d.status == "pending")).all():
                self.pending.setdefault(row.case_id, []).append(row)

    def _know(self, order: Order) -> None:
        self.orders[order.id] = order
        self.order_ids[order.platform_order_id] = order.id
        self.ledger.setdefault(order.id, [])

    # --- the repository methods apply_snapshot uses ---------------------------------------------
    def get_shop(self, shop_id: str) -> ShopRecord | None:
        return self.shop if shop_id == self.shop.shop.id else None

    def find_case_by_platform_id(self, shop_id: str, platform_case_id: str, *,
                                 lock: bool = False) -> Case | None:
        staged = self.cases.get(platform_case_id) if shop_id == self.shop.shop.id else None
        return None if staged is None else staged.case

    def get_case_bundle(self, shop_id: str, case_id: str, *, lock: bool = False
                        ) -> CaseBundle | None:
        """A case the batch prefetched (and locked, on PostgreSQL), as sync loads it."""
        key = self.case_keys.get(case_id) if shop_id == self.shop.shop.id else None
        staged = None if key is None else self.cases.get(key)
        order = None if staged is None else self.orders.get(staged.case.order_id)
        if staged is None or order is None:
            return None
        return CaseBundle(staged.case, self.shop, order, list(self.ledger.get(order.id, [])))

    def get_order(self, shop_id: str, order_id: str) -> Order | None:
        return self.orders.get(order_id) if shop_id == self.shop.shop.id else None

    def find_order(self, shop_id: str, platform_order_id: str) -> Order | None:
        oid = self.order_ids.get(platform_order_id)
        return None if oid is None else self.get_order(shop_id, oid)

    def add_order(self, order: Order, now: datetime) -> bool:
        self._know(order)
        self.new_orders.append((order, now))
        return True  # (the batch's orders were looked up together; the flush checks again)

    def refunds_for_order(self, shop_id: str, order_id: str) -> list[LedgerEntry]:
        return list(self.ledger.get(order_id, []))

    def hold(self, *key: str) -> None:
        pass  # one process applies every version of an order's cases, in file order

    def lock_order(self, shop_id: str, order_id: str) -> list[LedgerEntry] | None:
        """The batch's view of the order's ledger; the flush checks, under the order's
        lock, that nobody else added to it meanwhile (else the batch is replayed one by
        one, where the order is locked before it is read)."""
        if order_id in self.ledger_seen:
            self.money_orders.add(order_id)
        return list(self.ledger.get(order_id, []))

    def add_difference(self, diff: Difference) -> bool:
        key = (diff.case_id, diff.reference)
        if key in self.new_differences:
            return False
        self.new_differences[key] = diff
        return True

    def add_refund(self, entry: LedgerEntry) -> bool:
        taken = self.ledger.setdefault(entry.order_id, [])
        if any((e.case_id, e.round, e.kind) == (entry.case_id, entry.round, entry.kind) for e in taken):
            return False
        taken.append(entry)
        self.new_refunds.append(entry)
        return True

    def add_case(self, case: Case) -> None:
        if case.platform_case_id is None:
            raise NotStaged("a case without platform_case_id")
        case.version = 1
        self.cases[case.platform_case_id] = _Staged(case, None)
        self.case_keys[case.id] = case.platform_case_id

    def save_case(self, case: Case, deadline: Deadline | None, now: datetime) -> None:
        staged = self.cases.get(case.platform_case_id or "")
        if staged is None or staged.case is not case:
            raise NotStaged("save_case on a case the batch did not load")
        base = case.event_base + case.events_saved
        for i, e in enumerate(case.events[case.events_saved:]):
            self.events.append({
                "id": self.new_id(), "shop_id": case.shop_id, "case_id": case.id,
                "seq": base + i + 1, "at": e.at, "actor": e.actor, "kind": e.kind,
                "from_state": e.from_state, "to_state": e.to_state,
                "explanation": e.explanation, "reason_code": e.reason_code, "data": e.data})
        case.events_saved = len(case.events)
        case.version += 1
        staged.deadline, staged.now = deadline, now

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # introspection (copy, pickle, hasattr) stays ordinary
            raise AttributeError(name)
        raise NotStaged(f"the staging store does not implement {name}")

    # --- flush ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything staged, in the caller's transaction."""
        self.prepare().write(self.conn)

    def prepare(self) -> Writes:
        """Every statement and parameter row of the batch, built before any is sent: on
        SQLite the write lock is then held only while the rows go in, not while Python
        converts them (two import processes overlap their work instead of queueing)."""
        writes = Writes(self.conn.dialect)
        if self.money_orders:
            writes.check(self._ledgers_unchanged)
        if self.new_orders:
            heads, lines = [], []
            for order, now in self.new_orders:
                head, rows = order_rows(order, now)
                heads.append(head)
                lines += rows
            writes.insert(t.orders, heads)
            writes.insert(t.order_lines, lines)
        self._cases(writes)
        writes.insert(t.case_events, self.events)
        writes.insert(t.refunds, [_refund_row(e) for e in self.new_refunds])
        writes.insert(t.reconciliation_differences,
                      [difference_row(d) for d in self.new_differences.values()])
        self._deadlines(writes)
        return writes

    def _ledgers_unchanged(self, conn: Connection) -> None:
        """Run first in the writing transaction: the orders whose money the batch decided
        still have the ledger it read (rows are never deleted, so a count tells)."""
        ids, o, r = sorted(self.money_orders), t.orders.c, t.refunds.c
        shop_id = self.shop.shop.id
        if conn.dialect.name == "postgresql":  # held until the batch commits
            conn.execute(select(o.id).where(o.shop_id == shop_id, o.id.in_(ids))
                         .order_by(o.id).with_for_update())
        counts: dict[str, int] = dict(conn.execute(select(r.order_id, func.count()).where(
            r.shop_id == shop_id, r.order_id.in_(ids)).group_by(r.order_id)).all())
        if any(counts.get(oid, 0) != self.ledger_seen[oid] for oid in ids):
            raise NotStaged("an order's ledger changed while the batch was staged")

    def _cases(self, writes: Writes) -> None:
        fresh, changed = [], []
        for staged in self.cases.values():
            case = staged.case
            if staged.now is None:  # loaded but left unchanged
                continue
            row = {**case_row(case, staged.deadline), "version": case.version,
                   "event_count": case.event_base + case.events_saved}
            if staged.loaded_version is None:
                fresh.append(row)
            else:
                changed.append((row, staged.loaded_version))
        writes.insert(t.cases, fresh)
        writes.update_versioned(t.cases, changed)

    def _deadlines(self, writes: Writes) -> None:
        d = t.deadlines.c
        supersede: list[str] = []
        inserts: list[dict[str, Any]] = []
        for staged in self.cases.values():
            if staged.now is None:
                continue
            case, deadline = staged.case, staged.deadline
            current = self.pending.get(case.id, [])
            keep = next((r.id for r in current if deadline is not None and r.key == deadline.key
                         and r.due_at == deadline.at), None)
            supersede += [r.id for r in current if r.id != keep]
            if deadline is not None and keep is None:
                inserts.append({"id": self.new_id(), "shop_id": case.shop_id, "case_id": case.id,
                                "key": deadline.key, "due_at": deadline.at,
                                "outcome": deadline.outcome.value, "source": deadline.source,
                                "rule": deadline.rule, "status": "pending", "settled_at": None})
        if supersede:
            now = max(s.now for s in self.cases.values() if s.now is not None)
            for chunk in _chunks(supersede, 500):
                writes.statement(update(t.deadlines).where(d.id.in_(chunk))
                                 .values(status="superseded", settled_at=now))
        loaded = {s.case.id for s in self.cases.values() if s.loaded_version is not None}
        old = [(r["case_id"], r["key"]) for r in inserts if r["case_id"] in loaded]
        for chunk in _chunks(old, 500):
            writes.statement(delete(t.deadlines).where(
                tuple_(d.case_id, d.key).in_(chunk), d.status == "superseded"))
        writes.insert(t.deadlines, inserts)


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE the tables an import fills (PostgreSQL). Why: an import can grow a shop from
    a few cases to hundreds of thousands within minutes, faster than autovacuum re-plans,
    and with the old statistics the planner reads a batch's cases through the index on
    `shop_id` alone — every case of the shop per batch — instead of the unique index on
    (shop_id, platform_case_id). The importer calls this after batches 1, 4, 16, 64, 256:
    statistics at most 4× behind are enough for the right plan, and by batch 256
    autovacuum's own analyze (every 10% of a table changed) keeps up."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("ANALYZE cases, orders")


def _among_for(conn: Connection) -> Callable[[Any, Iterable[str]], Any]:
    """`column IN (values)` for a batch's thousands of ids: on PostgreSQL one array
    parameter (`= ANY(%s)`), which is parsed and planned in a fraction of the time of a
    thousand-placeholder list; elsewhere SQLAlchemy's expanding IN."""
    if conn.dialect.name != "postgresql":
        return lambda column, values: column.in_(list(values))
    return lambda column, values: column == any_(
        bindparam(None, list(values), type_=ARRAY(String)))


def _entry(r: Any) -> LedgerEntry:
    return LedgerEntry(r.id, r.shop_id, r.case_id, r.order_id, r.round, r.kind,
                       Money(r.amount, r.currency), r.method, r.status, r.created_at,
                       r.reference, r.settled_at, dict(r.lines or {}))


def _refund_row(e: LedgerEntry) -> dict[str, Any]:
    return {"id": e.id, "shop_id": e.shop_id, "case_id": e.case_id, "order_id": e.order_id,
            "round": e.round, "kind": e.kind, "amount": e.amount.amount,
            "currency": e.amount.currency, "method": e.method, "status": e.status,
            "reference": e.reference, "lines": dict(e.lines), "created_at": e.created_at,
            "settled_at": e.settled_at}


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class StagingUnitOfWork:
    """What `deps.uow()` returns during a staged batch: the batch owns the transaction.

    The one staging store answers for every repository apply_snapshot reaches (and raises
    NotStaged for anything else)."""

    def __init__(self, store: StagingStore) -> None:
        self.store = store
        self.shops = self.orders = self.cases = self.deadlines = self.ledger = store
        self.claims = self.evidence = self.records = self.idempotency = store

    def hold(self, *key: str) -> None:
        self.store.hold(*key)

    def __enter__(self) -> StagingUnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        raise NotStaged("a handler rolled back inside a staged batch")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        raise NotStaged("a handler asked for a savepoint inside a staged batch")
        yield  # pragma: no cover
