"""Shared steps of every case command: load in scope, build the context, save with events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aftersales.domain.case import Case, CaseContext
from aftersales.domain.deadlines import Deadline, current_deadline
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.profile import Profile
from aftersales.domain.refunds import order_left, outbound_due, refundable
from aftersales.domain.vocabulary import CaseType, Role
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import LedgerEntry, Principal, ShopRecord
from aftersales.service.repositories import UnitOfWork

STAFF = frozenset({Role.agent, Role.warehouse, Role.finance, Role.admin})


@dataclass
class Loaded:
    shop: ShopRecord
    case: Case
    order: Order
    profile: Profile
    ledger: list[LedgerEntry]

    def context(self) -> CaseContext:
        return build_context(self.shop, self.case, self.order, self.profile, self.ledger)


def refunded_amounts(order: Order, ledger: list[LedgerEntry]) -> tuple[dict[str, Money], Money]:
    """What each line and the whole order already got back (failed entries do not count)."""
    by_line: dict[str, Money] = {}
    total = Money.zero(order.currency)
    for entry in ledger:
        if entry.status == "failed":
            continue
        total = total + entry.amount
        for line_id, amount in entry.lines.items():
            by_line[line_id] = by_line.get(line_id, Money.zero(order.currency)) + Money(
                amount, order.currency)
    return by_line, total


def build_context(shop: ShopRecord, case: Case, order: Order, profile: Profile,
                  ledger: list[LedgerEntry]) -> CaseContext:
    by_line, total = refunded_amounts(order, ledger)
    if case.type is CaseType.compensation or not case.lines:
        cap = order_left(order, total)
    else:
        cap = refundable(order, [(ln.line_id, ln.quantity) for ln in case.lines], by_line, total)
    pending = any(e.status == "pending" and e.case_id == case.id for e in ledger)
    freight = outbound_due(order, profile, case.type, case.reason,
                           [(ln.line_id, ln.quantity) for ln in case.lines],
                           shop.policy.buyer_pays_no_reason_freight)
    return CaseContext(order=order, profile=profile, refundable=cap, offline_pending=pending,
                       timezone=shop.shop.timezone, policy=shop.policy, freight_due=freight)


def load(deps: Deps, uow: UnitOfWork, principal: Principal, case_id: str, *,
         lock: bool = False) -> Loaded:
    """The case if the caller may see it; another shop's or buyer's case is simply not found."""
    loaded = load_case(deps, uow, principal.shop_id, case_id, lock=lock)
    if loaded is None or (principal.role is Role.buyer and loaded.case.buyer_id != principal.buyer_id):
        raise NotFound(f"no case {case_id}", code="case_not_found")
    return loaded


def load_case(deps: Deps, uow: UnitOfWork, shop_id: str, case_id: str, *,
              lock: bool = False) -> Loaded | None:
    """The case with its shop, order and ledger in one query (the store's bundle read), for
    every caller: API, console, worker, sync, parcels. `lock`: held until the transaction
    ends, in the lock order the store documents."""
    found = uow.cases.get_case_bundle(shop_id, case_id, lock=lock)
    if found is None:
        return None
    return Loaded(found.shop, found.case, found.order, deps.profiles(found.case.profile_id),
                  found.ledger)


def save(uow: UnitOfWork, loaded: Loaded, now: datetime, role: Role | None = None) -> Deadline | None:
    """Write the case, its new events and its current deadline in the open transaction."""
    case = loaded.case
    if role in STAFF and case.first_response_at is None:
        case.first_response_at = now
    if case.is_terminal and case.resolved_at is None:
        case.resolved_at = now
    deadline = current_deadline(case, loaded.order, loaded.profile)
    uow.cases.save_case(case, deadline, now)
    return deadline
