"""Money moves only here: a ledger entry per kind, inserted once, executed by the gateway.

The unique (case, round, kind) constraint makes a refund happen once whatever retries or
duplicate messages arrive: `add_refund` returns False when the entry already exists.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aftersales.domain.events import SYSTEM
from aftersales.domain.money import Money
from aftersales.domain.refunds import (
    RefundInput,
    RefundPlan,
    line_share,
    order_left,
    plan_refund,
    return_freight_bound,
)
from aftersales.domain.vocabulary import RefundMethod, State
from aftersales.service.casework import Loaded, refunded_amounts
from aftersales.service.deps import Deps
from aftersales.service.ports import LedgerEntry
from aftersales.service.repositories import UnitOfWork


def plan_for(loaded: Loaded) -> RefundPlan:
    """The refund preview: what entering `refunding` now would pay, and why."""
    case, order = loaded.case, loaded.order
    ctx = loaded.context()
    _, total = refunded_amounts(order, loaded.ledger)
    cap = loaded.shop.policy.return_freight_cap
    # before an approval: what one without an amount would approve (the total, freight too)
    approved = case.approved_amount
    if approved is None:
        approved = case.requested_amount.min(ctx.refundable) + (
            ctx.freight_due or Money.zero(order.currency))
    return plan_refund(order, loaded.profile, RefundInput(
        case_type=case.type, reason=case.reason, approved=approved,
        method=case.refund_method, lines=tuple((ln.line_id, ln.quantity) for ln in case.lines),
        refundable_goods=ctx.refundable, order_left=order_left(order, total),
        gifts_returned=None if case.inspection is None else case.inspection.gifts_returned,
        return_freight=case.return_freight,
        return_freight_cap=return_freight_bound(loaded.profile, cap, order.currency),
        buyer_pays_no_reason=loaded.shop.policy.buyer_pays_no_reason_freight,
    ))


def line_split(loaded: Loaded, goods: Money) -> dict[str, int]:
    """Spread a goods refund over the case's lines, in proportion to what the case's units
    of each were paid; the parts add up to the refund exactly (largest remainder)."""
    lines = [(ln.line_id, line_share(loaded.order.line(ln.line_id), ln.quantity).amount)
             for ln in loaded.case.lines]
    if not lines or sum(w for _, w in lines) <= 0:
        return {}
    parts = goods.allocate([w for _, w in lines])
    return {lid: part.amount for (lid, _), part in zip(lines, parts, strict=True)}


def start_refund(deps: Deps, uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
    """On entering `refunding`: record the plan's entries once, then execute them.

    The plan counts what the order's other cases were refunded: the order is held first and
    its ledger read again, so two refunds on one order at once cannot both spend the same
    money (the case's own lock does not cover its siblings)."""
    case = loaded.case
    fresh = uow.orders.lock_order(case.shop_id, case.order_id)
    if fresh is not None:
        loaded.ledger = fresh
    plan = plan_for(loaded)
    for planned in plan.entries:
        entry = LedgerEntry(
            id=deps.new_id(), shop_id=case.shop_id, case_id=case.id, order_id=case.order_id,
            round=case.state_seq, kind=planned.kind.value, amount=planned.amount,
            method=planned.method.value, status="pending", created_at=now,
            lines=line_split(loaded, planned.amount) if planned.kind.value == "goods" else {},
        )
        if not uow.ledger.add_refund(entry):
            continue
        loaded.ledger.append(entry)
        status, reference = deps.payments.execute(loaded.shop, entry)
        if status != "pending":
            uow.ledger.settle_refund(case.shop_id, entry.id, status, reference, now)
            loaded.ledger[-1] = _settled(entry, status, reference, now)
    case.record("refund_planned", SYSTEM, now, _describe(plan),
                data={"total": plan.total.to_dict(), "notes": list(plan.notes)})
    settle_if_done(uow, loaded, now)


def settle_if_done(uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
    case = loaded.case
    mine = [e for e in loaded.ledger if e.case_id == case.id and e.round == case.state_seq]
    if case.state is State.refunding and all(e.status == "succeeded" for e in mine):
        case.act("refund_succeeded", SYSTEM, now, loaded.context(),
                 explanation="refund executed" if mine else "nothing left to pay")


def mark_offline(uow: UnitOfWork, loaded: Loaded, reference: str, now: datetime) -> None:
    """Finance records offline (线下) refunds with their reference."""
    for i, entry in enumerate(loaded.ledger):
        if entry.case_id == loaded.case.id and entry.status == "pending":
            uow.ledger.settle_refund(entry.shop_id, entry.id, "succeeded", reference, now)
            loaded.ledger[i] = _settled(entry, "succeeded", reference, now)


def _settled(entry: LedgerEntry, status: str, reference: str | None, now: datetime) -> LedgerEntry:
    return replace(entry, status=status, reference=reference, settled_at=now)


def _describe(plan: RefundPlan) -> str:
    parts = [f"goods {plan.goods.format()}", f"freight {plan.freight.format()}"]
    if plan.compensation.amount:
        parts.append(f"compensation {plan.compensation.format()}")
    if plan.gift_deduction.amount:
        parts.append(f"gift deduction {plan.gift_deduction.format()}")
    return f"refund of {plan.total.format()} via {RefundMethod(plan.method)}: " + ", ".join(parts)
