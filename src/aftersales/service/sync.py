"""Applying what a platform says about a case: a versioned mirror.

A newer `platform_version` updates the case (state mapped by the adapter, deadline from
the platform), an older or equal one changes nothing; the raw platform status is kept.
The platform is the authority on its own cases, so a sync sets the state directly
(`Case.force_state`) instead of going through the merchant-side actions — and records an
event saying so. Money the platform refunded on its side lands in the ledger once, and
never above what the order has left (service/reconcile.py).
"""

from __future__ import annotations

from datetime import datetime

from aftersales.domain.case import Case, CaseLine
from aftersales.domain.errors import Forbidden, InvalidInput
from aftersales.domain.events import Actor
from aftersales.domain.money import Money
from aftersales.domain.orders import Order, OrderLine
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import CaseType, PaymentMethod, Reason, Role, State
from aftersales.service.casework import Loaded, load_case, save
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal, ShopRecord
from aftersales.service.reconcile import cap_requested, platform_refund
from aftersales.service.repositories import UnitOfWork
from aftersales.service.sync_signals import record_signals, sync_note

SYNC_ROLES = frozenset({Role.platform, Role.admin})
PLATFORM = Actor(Role.platform)


def apply_snapshot(deps: Deps, principal: Principal, snap: PlatformSnapshot, *,
                   order_id: str | None = None) -> tuple[Loaded, str]:
    if principal.role not in SYNC_ROLES:
        raise Forbidden("only the platform integration syncs platform cases")
    with deps.uow() as uow:
        shop = uow.shops.get_shop(principal.shop_id)
        assert shop is not None
        now = deps.now_for(shop)
        # two snapshots of a case not created yet lock no row: they take turns on its id
        uow.hold("platform_case", shop.shop.id, snap.platform_case_id)
        case = uow.cases.find_case_by_platform_id(shop.shop.id, snap.platform_case_id)
        if case is None:
            loaded = _create(deps, uow, shop, snap, order_id, now)
            result = "created"
        else:
            found = load_case(deps, uow, shop.shop.id, case.id, lock=True)
            if found is None:  # foreign keys make this impossible
                raise NotFound(f"case {case.id} lost its order", code="case_not_found")
            loaded, case = found, found.case
            if case.platform_version is not None and snap.version <= case.platform_version:
                return loaded, "unchanged"
            _update(loaded, snap, now)
            result = "updated"
        platform_refund(deps, uow, loaded, snap, now)
        save(uow, loaded, now)
        uow.commit()
    return loaded, result


def _order_for(deps: Deps, uow: UnitOfWork, shop: ShopRecord, snap: PlatformSnapshot,
               order_id: str | None, now: datetime) -> Order:
    if order_id:
        order = uow.orders.get_order(shop.shop.id, order_id)
        if order is None:
            raise InvalidInput(f"no order {order_id}", code="order_not_found")
        return order
    order = uow.orders.find_order(shop.shop.id, snap.platform_order_id)
    if order is not None:
        return order
    # The platform knows the order; we only learn what the case tells us about it.
    amount = snap.requested_amount or snap.refunded_amount
    if amount is None:
        raise InvalidInput("an unknown order needs the case's amount", code="invalid_payload")
    lines = snap.lines or ()
    qty = sum(ln.quantity for ln in lines) or 1
    built = tuple(
        OrderLine(id=deps.new_id(), sku=ln.sku or ln.platform_line_id, name=ln.sku or "商品",
                  unit_price=amount.share(1, qty), quantity=ln.quantity,
                  paid_amount=amount.share(ln.quantity, qty) if i else
                  amount - amount.share(qty - ln.quantity, qty))
        for i, ln in enumerate(lines)
    ) or (OrderLine(id=deps.new_id(), sku="unknown", name="商品", unit_price=amount, quantity=1,
                    paid_amount=amount),)
    order = Order(id=deps.new_id(), shop_id=shop.shop.id, platform_order_id=snap.platform_order_id,
                  buyer_id=snap.buyer_id or "unknown", paid_at=now,
                  payment_method=PaymentMethod.other, currency=amount.currency,
                  freight=Money.zero(amount.currency), free_shipping=True, lines=built)
    if not uow.orders.add_order(order, now):  # another case's sync created it just now
        known = uow.orders.find_order(shop.shop.id, snap.platform_order_id)
        assert known is not None
        return known
    return order


def _create(deps: Deps, uow: UnitOfWork, shop: ShopRecord, snap: PlatformSnapshot,
            order_id: str | None, now: datetime) -> Loaded:
    order = _order_for(deps, uow, shop, snap, order_id, now)
    if snap.state is State.completed:
        # A refund may be booked: hold the order before the case row goes in. (The row's
        # foreign key shares the order row; two such inserts, each then asking for the
        # order, deadlocked on PostgreSQL.)
        uow.orders.lock_order(shop.shop.id, order.id)
    profile = deps.profiles(shop.shop.platform)
    requested = snap.requested_amount or order.total_paid
    case = Case(
        id=deps.new_id(), shop_id=shop.shop.id, order_id=order.id, buyer_id=order.buyer_id,
        type=snap.type or CaseType.refund_only, reason=snap.reason or Reason.other,
        lines=_case_lines(order, snap),
        requested_amount=requested, opened_at=now, profile_id=profile.id,
        profile_version=profile.version, description=snap.description or "",
        platform_case_id=snap.platform_case_id,
    )
    case.record("opened", PLATFORM, now,
                f"imported from {snap.platform}: status {snap.platform_status} (version {snap.version})",
                data={"raw_reason": snap.raw_reason})
    if snap.state is case.state:
        # The opening event already says the status: a second "no change" event would only
        # repeat it. A case first seen further on (a speed refund) still records the move.
        case.platform_status = snap.platform_status
    uow.cases.add_case(case)
    loaded = Loaded(shop, case, order, profile, uow.ledger.refunds_for_order(shop.shop.id, order.id))
    _update(loaded, snap, now)
    return loaded


def _case_lines(order: Order, snap: PlatformSnapshot) -> tuple[CaseLine, ...]:
    """The order lines the platform's case names (by SKU); all of them when it names none."""
    by_sku = {ln.sku: ln for ln in order.lines}
    named = [(by_sku[s.sku], s.quantity) for s in snap.lines if s.sku in by_sku]
    if not named:
        return tuple(CaseLine(ln.id, ln.quantity) for ln in order.lines)
    return tuple(CaseLine(line.id, min(max(qty, 1), line.quantity)) for line, qty in named)


def _update(loaded: Loaded, snap: PlatformSnapshot, now: datetime) -> None:
    case = loaded.case
    text = f"{snap.platform} status {snap.platform_status} (version {snap.version})" + sync_note(snap)
    first, before = case.platform_version is None, (case.platform_status, case.requested_amount)
    if snap.state != case.state or case.platform_status != snap.platform_status:
        case.force_state(snap.state, PLATFORM, now, text)
    case.platform_status, case.platform_version = snap.platform_status, snap.version
    cap_requested(loaded, snap, now)
    if snap.return_waybill:
        case.return_carrier, case.return_waybill = snap.return_carrier, snap.return_waybill
    case.platform_deadline_at = snap.deadline_at
    case.platform_deadline_seq = case.state_seq if snap.deadline_at is not None else None
    record_signals(case, snap, PLATFORM, now, first=first, before=before)
