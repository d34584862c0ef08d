"""An in-memory unit of work for service tests (cosmicpython's fake repositories).

Each repository implements its protocol of service/repositories.py over plain dicts; mypy
checks `FakeUnitOfWork` against `UnitOfWork`. Honest and simple: a transaction is a copy of
the data taken at `__enter__` and put back unless committed (savepoints likewise); locks
are no-ops (one thread); a case is saved with its version checked, as the SQL one is. Only
what a relational database adds beyond that (concurrency, lock order, SQL shapes) is left to
the integration tests.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from aftersales.domain.case import Case
from aftersales.domain.deadlines import Deadline
from aftersales.domain.events import Event
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.orders import Order
from aftersales.service.errors import Conflict
from aftersales.service.ports import (
    CaseBundle,
    CaseFilter,
    DueDeadline,
    LedgerEntry,
    ShopRecord,
    TokenRecord,
)
from aftersales.service.repositories import UnitOfWork
from service.fake_base import Data, Row, _Repo
from service.fake_connections import FakeConnections, FakeOutbox
from service.fake_records import (
    FakeClaims,
    FakeEvidence,
    FakeIdempotency,
    FakeLedger,
    FakeRecords,
)


class FakeShops(_Repo):
    def add_shop(self, record: ShopRecord, now: datetime) -> None:
        self.data.shops[record.shop.id] = record

    def get_shop(self, shop_id: str) -> ShopRecord | None:
        return self.data.shops.get(shop_id)

    def list_shops(self) -> list[ShopRecord]:
        return list(self.data.shops.values())

    def move_clock(self, shop_id: str, was: datetime | None, at: datetime) -> bool:
        shop = self.data.shops[shop_id]
        if shop.clock_at != was:
            return False
        self.data.shops[shop_id] = dataclasses.replace(shop, clock_at=at)
        return True

    def set_policy(self, shop_id: str, policy: MerchantPolicy) -> None:
        self.data.shops[shop_id] = dataclasses.replace(self.data.shops[shop_id], policy=policy)

    def add_token(self, token_id: str, shop_id: str, role: str, buyer_id: str | None,
                  token_hash: str, label: str | None, now: datetime,
                  expires_at: datetime | None = None) -> None:
        from aftersales.domain.vocabulary import Role

        record = TokenRecord(token_id, shop_id, Role(role), buyer_id, label, now, expires_at, None)
        self.data.tokens[token_id] = (record, token_hash)

    def find_token(self, token_hash: str) -> TokenRecord | None:
        return next((r for r, h in self.data.tokens.values() if h == token_hash), None)

    def get_token(self, token_id: str) -> TokenRecord | None:
        found = self.data.tokens.get(token_id)
        return None if found is None else found[0]

    def list_tokens(self, shop_id: str) -> list[TokenRecord]:
        return [r for r, _ in self.data.tokens.values() if r.shop_id == shop_id]

    def revoke_token(self, token_id: str, now: datetime) -> None:
        record, digest = self.data.tokens[token_id]
        if record.revoked_at is None:
            self.data.tokens[token_id] = (dataclasses.replace(record, revoked_at=now), digest)


class FakeOrders(_Repo):
    def _mine(self, shop_id: str, order_id: str) -> Order | None:
        order = self.data.orders.get(order_id)
        return order if order is not None and order.shop_id == shop_id else None

    def add_order(self, order: Order, now: datetime) -> bool:
        if self.find_order(order.shop_id, order.platform_order_id) is not None:
            return False
        self.data.orders[order.id] = order
        return True

    def get_order(self, shop_id: str, order_id: str) -> Order | None:
        return self._mine(shop_id, order_id)

    def get_order_bundle(self, shop_id: str, order_id: str, *, lock: bool = False
                         ) -> tuple[ShopRecord, Order, list[LedgerEntry]] | None:
        order = self._mine(shop_id, order_id)
        if order is None:
            return None
        return self.data.shops[shop_id], order, self.uow.ledger.refunds_for_order(shop_id, order_id)

    def lock_order(self, shop_id: str, order_id: str) -> list[LedgerEntry] | None:
        return None  # one thread: nothing read before the lock can be older than it

    def find_order(self, shop_id: str, platform_order_id: str) -> Order | None:
        return next((o for o in self.data.orders.values()
                     if o.shop_id == shop_id and o.platform_order_id == platform_order_id), None)

    def update_order_dates(self, order: Order) -> None:
        self.data.orders[order.id] = order

    def orders_by_id(self, shop_id: str, order_ids: Sequence[str]) -> dict[str, Order]:
        return {i: o for i in order_ids if (o := self._mine(shop_id, i)) is not None}


class FakeCases(_Repo):
    def _load(self, stored: Case) -> Case:
        case = copy.deepcopy(stored)
        case.events, case.events_saved = [], 0
        case.event_base = len(self.data.events[case.id])
        return case

    def _find(self, shop_id: str, test: Callable[[Case], bool]) -> Case | None:
        found = [c for c in self.data.cases.values() if c.shop_id == shop_id and test(c)]
        return self._load(found[-1]) if found else None

    def add_case(self, case: Case) -> None:
        case.version = 1
        self.data.cases[case.id] = dataclasses.replace(copy.deepcopy(case), events=[])
        self.data.events[case.id] = []

    def get_case(self, shop_id: str, case_id: str, *, lock: bool = False) -> Case | None:
        return self._find(shop_id, lambda c: c.id == case_id)

    def get_case_bundle(self, shop_id: str, case_id: str, *, lock: bool = False
                        ) -> CaseBundle | None:
        case = self.get_case(shop_id, case_id)
        if case is None:
            return None
        found = self.uow.orders.get_order_bundle(shop_id, case.order_id)
        assert found is not None
        return CaseBundle(case, *found)

    def find_case_by_platform_id(self, shop_id: str, platform_case_id: str, *,
                                 lock: bool = False) -> Case | None:
        return self._find(shop_id, lambda c: c.platform_case_id == platform_case_id)

    def save_case(self, case: Case, deadline: Deadline | None, now: datetime) -> None:
        stored = self.data.cases.get(case.id)
        if stored is None or stored.version != case.version:
            raise Conflict(f"case {case.id} was changed by someone else; reload and retry")
        self.data.events[case.id].extend(case.events[case.events_saved:])
        case.version += 1
        case.events_saved = len(case.events)
        self.data.cases[case.id] = dataclasses.replace(copy.deepcopy(case), events=[])
        self.uow.deadlines.replace(case, deadline, now)

    def events(self, shop_id: str, case_id: str) -> list[Event]:
        stored = self.data.cases.get(case_id)
        return [] if stored is None or stored.shop_id != shop_id else list(self.data.events[case_id])

    def cases_on_order(self, shop_id: str, order_id: str) -> list[Case]:
        return [self._load(c) for c in self.data.cases.values()
                if c.shop_id == shop_id and c.order_id == order_id]

    def cancelled_by_buyer(self, shop_id: str, case_ids: Sequence[str]) -> set[str]:
        return {i for i in case_ids if any(e.kind == "cancel" for e in self.events(shop_id, i))}

    def buyer_case_count(self, shop_id: str, buyer_id: str) -> int:
        return sum(1 for c in self.data.cases.values()
                   if c.shop_id == shop_id and c.buyer_id == buyer_id)

    def list_cases(self, shop_id: str, flt: CaseFilter) -> tuple[list[Case], str | None]:
        if flt.q or flt.cursor or flt.due_before or flt.overdue is not None or flt.platform:
            raise NotImplementedError("the fake filters by state, type, reason and buyer only")
        found = [self._load(c) for c in self.data.cases.values() if c.shop_id == shop_id
                 and (flt.state is None or c.state == flt.state)
                 and (flt.states is None or c.state in flt.states)
                 and (flt.type is None or c.type == flt.type)
                 and (flt.reason is None or c.reason == flt.reason)
                 and (flt.buyer_id is None or c.buyer_id == flt.buyer_id)
                 and not (flt.open_only and c.is_terminal)]
        return found[:flt.limit], None

    def find_case_by_waybill(self, shop_id: str, waybill: str) -> Case | None:
        return self._find(shop_id, lambda c: c.return_waybill == waybill)


class FakeDeadlines(_Repo):
    def replace(self, case: Case, deadline: Deadline | None, now: datetime) -> None:
        """One pending row per case, as the SQL save keeps it (a new key supersedes)."""
        for row in self.data.deadlines.values():
            if row["case_id"] == case.id and row["status"] == "pending":
                if deadline is not None and row["key"] == deadline.key:
                    row.update(due_at=deadline.at, outcome=deadline.outcome.value)
                    return
                row.update(status="superseded", settled_at=now)
        if deadline is not None:
            rid = f"d{len(self.data.deadlines) + 1}"
            self.data.deadlines[rid] = {
                "id": rid, "shop_id": case.shop_id, "case_id": case.id, "key": deadline.key,
                "due_at": deadline.at, "outcome": deadline.outcome.value, "status": "pending",
                "warned_at": None, "settled_at": None}

    def _pending(self, test: Callable[[Row], bool], limit: int, shop_id: str | None,
                 live_only: bool) -> list[DueDeadline]:
        rows = sorted((r for r in self.data.deadlines.values() if r["status"] == "pending"
                       and test(r) and (shop_id is None or r["shop_id"] == shop_id)
                       and not (live_only and self.data.shops[r["shop_id"]].shop.sandbox)),
                      key=lambda r: r["due_at"])
        return [DueDeadline(r["id"], r["shop_id"], r["case_id"], r["key"], r["due_at"],
                            r["outcome"]) for r in rows[:limit]]

    def claim_due(self, now: datetime, limit: int, shop_id: str | None = None, *,
                  live_only: bool = False) -> list[DueDeadline]:
        return self._pending(lambda r: r["due_at"] <= now, limit, shop_id, live_only)

    def settle_deadline(self, deadline_id: str, status: str, now: datetime) -> None:
        self.data.deadlines[deadline_id].update(status=status, settled_at=now)

    def claim_near_due(self, until: datetime, limit: int, *, live_only: bool = False,
                       shop_id: str | None = None) -> list[DueDeadline]:
        return self._pending(lambda r: r["due_at"] <= until and r["warned_at"] is None, limit,
                             shop_id, live_only)

    def mark_warned(self, deadline_ids: Sequence[str], now: datetime) -> None:
        for i in deadline_ids:
            self.data.deadlines[i]["warned_at"] = now

    def next_due(self, shop_id: str, until: datetime) -> datetime | None:
        due = [r["due_at"] for r in self.data.deadlines.values() if r["shop_id"] == shop_id
               and r["status"] == "pending" and r["due_at"] <= until]
        return min(due, default=None)


class FakeUnitOfWork:
    """A transaction over `data`: a copy taken at enter, put back unless committed."""

    def __init__(self, data: Data) -> None:
        self.committed = data
        self.data = data
        self.commits = 0
        self.shops = FakeShops(self)
        self.orders = FakeOrders(self)
        self.cases = FakeCases(self)
        self.deadlines = FakeDeadlines(self)
        self.ledger = FakeLedger(self)
        self.claims = FakeClaims(self)
        self.evidence = FakeEvidence(self)
        self.records = FakeRecords(self)
        self.idempotency = FakeIdempotency(self)
        self.outbox = FakeOutbox(self)
        self.connections = FakeConnections(self)

    def __enter__(self) -> FakeUnitOfWork:
        self.data = copy.deepcopy(self.committed)
        return self

    def __exit__(self, *exc: object) -> None:
        self.data = self.committed

    def commit(self) -> None:
        self.committed.__dict__.update(copy.deepcopy(self.data).__dict__)
        self.commits += 1

    def rollback(self) -> None:
        self.data = copy.deepcopy(self.committed)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        before = copy.deepcopy(self.data)
        try:
            yield
        except BaseException:
            self.data.__dict__.update(before.__dict__)
            raise

    def hold(self, *key: str) -> None:
        return None  # one thread: nothing to take turns with


def _conforms(uow: FakeUnitOfWork) -> UnitOfWork:
    return uow  # mypy: the fake is the service's UnitOfWork
