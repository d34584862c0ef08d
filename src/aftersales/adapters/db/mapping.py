"""Rows ⇄ domain dataclasses, by hand (no ORM): explicit, and cheap on the hot path."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from aftersales.adapters.db import bundles
from aftersales.domain.case import Case, CaseLine, Inspection, Offer
from aftersales.domain.deadlines import Deadline
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.money import Money
from aftersales.domain.orders import Extra, Order, OrderLine, Shop
from aftersales.domain.vocabulary import CaseType, Condition, PaymentMethod, Reason, RefundMethod, State
from aftersales.service.ports import LedgerEntry, ShopRecord


def _m(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money(int(amount), currency)


def order_from_rows(row: Any, lines: Sequence[Any]) -> Order:
    cur = row.currency
    return Order(
        id=row.id, shop_id=row.shop_id, platform_order_id=row.platform_order_id,
        buyer_id=row.buyer_id, paid_at=row.paid_at, payment_method=PaymentMethod(row.payment_method),
        currency=cur, freight=Money(row.freight, cur), free_shipping=row.free_shipping,
        shipped_at=row.shipped_at, delivered_at=row.delivered_at, completed_at=row.completed_at,
        lines=tuple(
            OrderLine(
                id=ln.id, sku=ln.sku, name=ln.name, unit_price=Money(ln.unit_price, cur),
                quantity=ln.quantity, paid_amount=Money(ln.paid_amount, cur), link=ln.link,
                attributes=dict(ln.attributes or {}), category=ln.category,
                no_reason_excluded=ln.no_reason_excluded,
                gifts=tuple(Extra(g["name"], Money(g["listed_price"], cur)) for g in ln.gifts),
                accessories=tuple(Extra(a["name"], Money(a["listed_price"], cur))
                                  for a in ln.accessories),
            )
            for ln in sorted(lines, key=lambda x: x.position)
        ),
    )


def order_rows(order: Order, now: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    head = {
        "id": order.id, "shop_id": order.shop_id, "platform_order_id": order.platform_order_id,
        "buyer_id": order.buyer_id, "paid_at": order.paid_at, "shipped_at": order.shipped_at,
        "delivered_at": order.delivered_at, "completed_at": order.completed_at,
        "payment_method": order.payment_method.value, "currency": order.currency,
        "freight": order.freight.amount, "free_shipping": order.free_shipping, "created_at": now,
    }
    lines = [
        {
            "id": ln.id, "shop_id": order.shop_id, "order_id": order.id, "position": i,
            "sku": ln.sku, "name": ln.name, "link": ln.link, "unit_price": ln.unit_price.amount,
            "quantity": ln.quantity, "paid_amount": ln.paid_amount.amount,
            "attributes": dict(ln.attributes), "category": ln.category,
            "no_reason_excluded": ln.no_reason_excluded,
            "gifts": [{"name": g.name, "listed_price": g.listed_price.amount} for g in ln.gifts],
            "accessories": [{"name": a.name, "listed_price": a.listed_price.amount}
                            for a in ln.accessories],
        }
        for i, ln in enumerate(order.lines)
    ]
    return head, lines


def _inspection_to(insp: Inspection | None) -> dict[str, Any] | None:
    if insp is None:
        return None
    return {
        "verdict": insp.verdict, "condition": insp.condition.value, "sku_matches": insp.sku_matches,
        "accessories_complete": insp.accessories_complete, "gifts_returned": insp.gifts_returned,
        "tags_intact": insp.tags_intact, "seal_intact": insp.seal_intact,
        "packaging_only_flaw": insp.packaging_only_flaw,
        "quality_problem_found": insp.quality_problem_found, "note": insp.note,
        "dispositions": dict(insp.dispositions),
    }


def _inspection_from(data: dict[str, Any] | None) -> Inspection | None:
    if not data:
        return None
    return Inspection(**{**data, "condition": Condition(data["condition"])})


def case_row(case: Case, deadline: Deadline | None) -> dict[str, Any]:
    cur = case.currency
    return {
        "id": case.id, "shop_id": case.shop_id, "order_id": case.order_id,
        "buyer_id": case.buyer_id, "type": case.type.value, "reason": case.reason.value,
        "state": case.state.value, "state_entered_at": case.state_entered_at,
        "state_seq": case.state_seq,
        "lines": [{"line_id": ln.line_id, "quantity": ln.quantity} for ln in case.lines],
        "currency": cur, "requested_amount": case.requested_amount.amount,
        "approved_amount": None if case.approved_amount is None else case.approved_amount.amount,
        "refund_method": case.refund_method.value, "description": case.description,
        "offer_amount": None if case.offer is None else case.offer.amount.amount,
        "offer_note": None if case.offer is None else case.offer.note,
        "overdue": case.overdue, "fired": sorted(case.fired), "received_at": case.received_at,
        "return_carrier": case.return_carrier, "return_waybill": case.return_waybill,
        "return_prepaid": case.return_prepaid,
        "return_freight": None if case.return_freight is None else case.return_freight.amount,
        "reship_carrier": case.reship_carrier, "reship_waybill": case.reship_waybill,
        "inspection": _inspection_to(case.inspection),
        "buyer_refused_delivery": case.buyer_refused_delivery,
        "resubmissions": case.resubmissions, "platform_case_id": case.platform_case_id,
        "platform_status": case.platform_status, "platform_version": case.platform_version,
        "platform_deadline_at": case.platform_deadline_at,
        "platform_deadline_seq": case.platform_deadline_seq, "rating": case.rating,
        "profile_id": case.profile_id, "profile_version": case.profile_version,
        "opened_at": case.opened_at, "first_response_at": case.first_response_at,
        "resolved_at": case.resolved_at,
        "deadline_at": None if deadline is None else deadline.at,
        "deadline_outcome": None if deadline is None else deadline.outcome.value,
        "deadline_source": None if deadline is None else deadline.source,
        "deadline_rule": None if deadline is None else deadline.rule,
    }


def case_from_row(row: Any) -> Case:
    cur = row.currency
    case = Case(
        id=row.id, shop_id=row.shop_id, order_id=row.order_id, buyer_id=row.buyer_id,
        type=CaseType(row.type), reason=Reason(row.reason),
        lines=tuple(CaseLine(x["line_id"], x["quantity"]) for x in row.lines),
        requested_amount=Money(row.requested_amount, cur), opened_at=row.opened_at,
        profile_id=row.profile_id, profile_version=row.profile_version,
        refund_method=RefundMethod(row.refund_method), description=row.description,
        state=State(row.state), state_entered_at=row.state_entered_at, state_seq=row.state_seq,
        approved_amount=_m(row.approved_amount, cur),
        offer=None if row.offer_amount is None else Offer(Money(row.offer_amount, cur), row.offer_note),
        overdue=row.overdue, fired=set(row.fired or []), received_at=row.received_at,
        return_carrier=row.return_carrier, return_waybill=row.return_waybill,
        return_prepaid=row.return_prepaid, return_freight=_m(row.return_freight, cur),
        reship_carrier=row.reship_carrier, reship_waybill=row.reship_waybill,
        inspection=_inspection_from(row.inspection),
        buyer_refused_delivery=row.buyer_refused_delivery, resubmissions=row.resubmissions,
        platform_case_id=row.platform_case_id, platform_status=row.platform_status,
        platform_version=row.platform_version, platform_deadline_at=row.platform_deadline_at,
        platform_deadline_seq=row.platform_deadline_seq, rating=row.rating,
        first_response_at=row.first_response_at, resolved_at=row.resolved_at, version=row.version,
        event_base=row.event_count,
    )
    return case


# --- rows of the bundle reads (bundles.py), shared by the cases and orders repositories ---

def shop_from_row(row: Any) -> ShopRecord:
    shop = Shop(row.id, row.name, row.platform, row.timezone, row.sandbox)
    return ShopRecord(shop, MerchantPolicy.from_dict(row.policy), row.clock_at)


def entry_from_row(r: Any) -> LedgerEntry:
    return LedgerEntry(r.id, r.shop_id, r.case_id, r.order_id, r.round, r.kind,
                       Money(r.amount, r.currency), r.method, r.status, r.created_at,
                       r.reference, r.settled_at, dict(r.lines or {}))


def ledger_from_json(raw: Any) -> list[LedgerEntry]:
    """Ledger entries from a JSON array of refunds rows (bundles.py), oldest first."""
    entries = [bundles.decode("refunds", x) for x in bundles.parse(raw) or []]
    return [entry_from_row(SimpleNamespace(**x))
            for x in sorted(entries, key=lambda x: (x["created_at"], x["id"]))]


def cases_from_json(raw: Any) -> list[Case]:
    return [case_from_row(SimpleNamespace(**bundles.decode("cases", x)))
            for x in bundles.parse(raw) or []]


def order_bundle(row: Any) -> tuple[ShopRecord, Order, list[LedgerEntry]] | None:
    """The shop, the order and its ledger of a bundle row; None for an order without lines."""
    lines: list[Any] = [SimpleNamespace(**bundles.decode("order_lines", x))
                        for x in bundles.parse(row.lines) or []]
    if not lines:  # as the joined read did: an order is never without lines
        return None
    head: Any = SimpleNamespace(**bundles.decode("orders", bundles.parse(row.ord)))
    order = order_from_rows(head, lines)
    ledger = ledger_from_json(row.refunds)
    shop = shop_from_row(SimpleNamespace(**bundles.decode("shops", bundles.parse(row.shop))))
    return shop, order, ledger
