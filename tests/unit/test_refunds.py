"""Refund arithmetic (DOMAIN.md "Money rules"; PLATFORMS.md freight rules)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales.domain.errors import InvalidInput
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.profile import FreightRule, Profile
from aftersales.domain.refunds import (
    RefundInput,
    freight_terms,
    line_share,
    missing_piece_value,
    order_left,
    outbound_due,
    plan_refund,
    refundable,
)
from aftersales.domain.vocabulary import CaseType, LedgerKind, Reason, RefundMethod

from .factories import cny, delivered_order, extra, make_line, make_profile, taobao_like

T = CaseType
R = Reason


def _order(**kw: Any) -> Order:
    kw.setdefault("freight", 1000)
    kw.setdefault("lines", [make_line("L1", unit_price=5000, quantity=2, paid=9000),
                            make_line("L2", unit_price=3000, quantity=1, paid=3000)])
    return delivered_order(**kw)


def _facts(order: Order, case_type: CaseType = T.return_refund, reason: Reason = R.quality_issue,
           lines: tuple[tuple[str, int], ...] | None = None, approved: int | None = None,
           **kw: Any) -> RefundInput:
    lines = lines if lines is not None else tuple((ln.id, ln.quantity) for ln in order.lines)
    goods = refundable(order, lines, {}, Money.zero(order.currency))
    # an approval without an amount: the goods and the outbound freight due (the total)
    full = goods + outbound_due(order, make_profile(), case_type, reason, lines)
    return RefundInput(
        case_type=case_type, reason=reason,
        approved=full if approved is None else cny(approved), method=RefundMethod.original,
        lines=lines, refundable_goods=goods, order_left=order_left(order, Money.zero("CNY")), **kw)


# --- what may be refunded -----------------------------------------------------------------

def test_line_share_rounds_down_and_the_full_line_is_the_full_paid_amount() -> None:
    """DOMAIN.md Money rules: never refund more than was paid for the lines and quantities
    concerned — a share rounds down; all units are exactly what the line took."""
    line = make_line(unit_price=400, quantity=3, paid=1000)
    assert [line_share(line, q).amount for q in (1, 2, 3)] == [333, 666, 1000]


@pytest.mark.parametrize("quantity", [0, 4, -1])
def test_line_share_of_an_impossible_quantity(quantity: int) -> None:
    """DOMAIN.md case: it names the lines and quantities it concerns."""
    with pytest.raises(InvalidInput) as err:
        line_share(make_line(quantity=3), quantity)
    assert err.value.code == "invalid_quantity"


def test_refundable_subtracts_what_each_line_already_got_back() -> None:
    """DOMAIN.md Money rules: … minus what was already refunded on them."""
    order = _order()
    assert refundable(order, [("L1", 2)], {}, cny(0)) == cny(9000)
    assert refundable(order, [("L1", 2)], {"L1": cny(4500)}, cny(4500)) == cny(4500)
    assert refundable(order, [("L1", 1)], {"L1": cny(4500)}, cny(4500)) == cny(4500)
    assert refundable(order, [("L1", 1)], {"L1": cny(8000)}, cny(8000)) == cny(1000)
    assert refundable(order, [("L1", 2)], {"L1": cny(9000)}, cny(9000)) == cny(0)
    assert refundable(order, [("L1", 2), ("L2", 1)], {"L1": cny(9000)}, cny(9000)) == cny(3000)


def test_refundable_never_exceeds_what_the_order_took() -> None:
    """DOMAIN.md Money rules: one order's refunds can never exceed what the order took."""
    order = _order()  # took 9000 + 3000 + 1000 freight = 13000
    assert order.total_paid == cny(13000)
    # Compensation of 12000 earlier (on no line) leaves 1000 for the whole order.
    assert refundable(order, [("L1", 2), ("L2", 1)], {}, cny(12000)) == cny(1000)
    assert refundable(order, [("L1", 2)], {}, cny(20000)) == cny(0)
    assert order_left(order, cny(20000)) == cny(0)


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 100000)), min_size=1, max_size=4),
       st.data())
def test_repeated_partial_refunds_never_add_up_to_more_than_paid(
        spec: list[tuple[int, int]], data: st.DataObject) -> None:
    """DOMAIN.md Money rules: never refund more than was paid for the lines, minus what was
    already refunded; one order's refunds never exceed what the order took."""
    lines = [make_line(f"L{i}", unit_price=max(paid // q, 1), quantity=q, paid=paid)
             for i, (q, paid) in enumerate(spec)]
    order = delivered_order(lines=lines, freight=data.draw(st.integers(0, 2000)))
    by_line: dict[str, Money] = {}
    total = cny(0)
    for _ in range(data.draw(st.integers(1, 8))):
        line = data.draw(st.sampled_from(lines))
        qty = data.draw(st.integers(1, line.quantity))
        left = refundable(order, [(line.id, qty)], by_line, total)
        take = cny(data.draw(st.integers(0, left.amount)))
        by_line[line.id] = by_line.get(line.id, cny(0)) + take
        total = total + take
        assert by_line[line.id] <= line.paid_amount
        assert total <= order.total_paid


# --- freight ------------------------------------------------------------------------------

@pytest.mark.parametrize(("reason", "outbound", "payer"), [
    (R.quality_issue, True, "merchant"), (R.wrong_item, True, "merchant"),
    (R.missing_item, True, "merchant"), (R.damaged_in_transit, True, "merchant"),
    (R.no_reason, False, "buyer"),
    (R.not_received, True, "buyer"), (R.counterfeit_claim, True, "buyer"), (R.other, True, "buyer"),
])
def test_freight_by_responsibility_default(reason: Reason, outbound: bool, payer: str) -> None:
    """DOMAIN.md Money rules: merchant-responsible reasons → the merchant bears the return
    freight; buyer reasons (no_reason) → the buyer bears the freight both ways; carrier faults
    the merchant pays (and claims back); PLATFORMS.md Taobao: unclear fault → outbound
    freight seller, return freight buyer."""
    assert freight_terms(reason, make_profile()) == FreightRule(outbound, payer)


def test_freight_from_the_profile_wins() -> None:
    """PLATFORMS.md: each platform's profile holds its freight rules."""
    profile = make_profile(freight={"buyer": {"outbound_refunded": True, "return_paid_by": "merchant"}})
    assert freight_terms(R.no_reason, profile) == FreightRule(True, "merchant")
    assert freight_terms(R.not_received, taobao_like()) == FreightRule(True, "buyer")


def test_merchant_may_pay_no_reason_return_freight() -> None:
    """DOMAIN.md Money rules: buyer reasons → buyer bears the freight unless the policy says
    otherwise."""
    assert freight_terms(R.no_reason, make_profile(), buyer_pays_no_reason=False).return_paid_by == "merchant"


def test_merchant_fault_return_freight_is_reimbursed_up_to_the_cap() -> None:
    """DOMAIN.md Money rules: merchant-responsible reasons → the merchant refunds the buyer's
    return freight up to a cap; compensation and freight refunds are separate entries."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, lines=(("L1", 2),), return_freight=cny(2500),
                                                     return_freight_cap=cny(2000)))
    assert plan.goods == cny(9000) and plan.freight == cny(2000)
    assert [(e.kind, e.amount) for e in plan.entries] == [
        (LedgerKind.goods, cny(9000)), (LedgerKind.freight, cny(2000))]


def test_return_freight_below_the_cap_is_reimbursed_in_full() -> None:
    """DOMAIN.md Money rules: refunds the buyer's freight up to a cap."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, lines=(("L1", 2),), return_freight=cny(800),
                                                     return_freight_cap=cny(2000)))
    assert plan.freight == cny(800)


def test_merchant_fault_whole_order_refunds_the_outbound_freight() -> None:
    """DOMAIN.md Money rules: merchant-responsible → the merchant bears the freight; the
    outbound freight comes back when the whole order comes back."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order))
    assert plan.goods == cny(12000) and plan.freight == cny(1000) and plan.total == order.total_paid


def test_whole_order_return_freight_is_reimbursed_beyond_what_the_order_took() -> None:
    """DOMAIN.md Money rules: merchant-responsible reasons → "the merchant bears the return
    freight". Goods and outbound freight stay within what the order took; the return freight
    the buyer paid a carrier was never part of the order, so it is reimbursed on top (up to
    the policy's cap). Decided over the earlier reading that capped it at the order total."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, return_freight=cny(800),
                                                     return_freight_cap=cny(2000)))
    assert plan.total == order.total_paid + cny(800) and plan.freight == cny(1800)


def test_partial_return_keeps_the_outbound_freight() -> None:
    """DOMAIN.md Money rules: outbound freight comes back when the whole order comes back."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, lines=(("L1", 2),), return_freight=cny(800)))
    assert plan.goods == cny(9000) and plan.freight == cny(800)


def test_no_reason_return_refunds_no_freight() -> None:
    """DOMAIN.md Money rules: buyer reasons (no_reason) → the buyer bears the freight both ways;
    PLATFORMS.md Chinese law: return freight is the buyer's unless agreed otherwise."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, reason=R.no_reason, return_freight=cny(800)))
    assert plan.freight == cny(0) and [e.kind for e in plan.entries] == [LedgerKind.goods]


def test_taobao_unclear_fault_outbound_yes_return_no() -> None:
    """PLATFORMS.md Taobao freight: unclear fault → outbound freight seller, return freight buyer."""
    order = _order()
    plan = plan_refund(order, taobao_like(), _facts(order, reason=R.other, return_freight=cny(800)))
    assert plan.freight == cny(1000)


def test_refund_only_of_the_whole_order_for_a_merchant_fault_refunds_outbound_freight() -> None:
    """DOMAIN.md Money rules: the order's freight comes back with the whole order; nothing
    comes back, so no return freight."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, T.refund_only, R.not_as_described,
                                                     return_freight=cny(800)))
    assert plan.freight == cny(1000)


def test_exchange_pays_no_outbound_freight_back() -> None:
    """DOMAIN.md Case types: an exchange sends a replacement; no money back but the merchant's
    share of the return freight."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, T.exchange, approved=0, return_freight=cny(800)))
    assert plan.goods == cny(0) and plan.freight == cny(800)


# --- gifts, missing pieces, compensation --------------------------------------------------

def test_gift_not_returned_is_deducted_at_its_listed_price() -> None:
    """DOMAIN.md Money rules: a gift not returned is deducted at its listed price."""
    order = delivered_order(lines=[make_line(paid=10000, gifts=[extra("umbrella", 1500),
                                                                extra("keyring", 200)])])
    plan = plan_refund(order, make_profile(), _facts(order, reason=R.no_reason, gifts_returned=False))
    assert plan.gift_deduction == cny(1700) and plan.goods == cny(8300)
    assert any("deducted" in n for n in plan.notes)
    kept = plan_refund(order, make_profile(), _facts(order, reason=R.no_reason, gifts_returned=True))
    assert kept.gift_deduction == cny(0) and kept.goods == cny(10000)


def test_gift_deduction_never_makes_a_negative_refund() -> None:
    """DOMAIN.md Money rules: the money is always right — a deduction cannot exceed the goods."""
    order = delivered_order(lines=[make_line(paid=1000, gifts=[extra("big gift", 5000)])])
    plan = plan_refund(order, make_profile(), _facts(order, reason=R.no_reason, gifts_returned=False))
    assert plan.goods == cny(0) and plan.entries == ()


def test_missing_piece_value() -> None:
    """DOMAIN.md Money rules: missing pieces refunded instead of reissued — accessories and
    gifts at their listed price; goods at the amount actually paid for them."""
    line = make_line(unit_price=5000, quantity=3, paid=12000,
                     accessories=[extra("dust bag", 800), extra("strap", 1200)],
                     gifts=[extra("sample", 300)])
    assert missing_piece_value(line, accessories=["strap"]) == cny(1200)
    assert missing_piece_value(line, gifts=["sample"]) == cny(300)
    assert missing_piece_value(line, units=1) == cny(4000)  # paid, not the 5000 list price
    assert missing_piece_value(line, units=3) == cny(12000)
    assert missing_piece_value(line, units=1, accessories=["dust bag"], gifts=["sample"]) == cny(5100)
    assert missing_piece_value(line) == cny(0)


def test_compensation_is_its_own_entry() -> None:
    """DOMAIN.md Money rules: compensation and freight refunds are separate entries, so the
    loss report can tell goods, freight and goodwill apart."""
    order = _order()
    plan = plan_refund(order, make_profile(), _facts(order, T.compensation, R.delayed_delivery,
                                                     lines=(), approved=1500))
    assert plan.compensation == cny(1500) and plan.goods == cny(0) and plan.freight == cny(0)
    assert [(e.kind, e.amount, e.method) for e in plan.entries] == [
        (LedgerKind.compensation, cny(1500), RefundMethod.original)]


def test_compensation_never_exceeds_what_the_order_has_left() -> None:
    """DOMAIN.md Money rules: one order's refunds can never exceed what the order took."""
    order = _order()
    facts = _facts(order, T.compensation, R.other, lines=(), approved=99999)
    assert plan_refund(order, make_profile(), facts).total == order.total_paid


def test_goods_never_exceed_the_refundable_and_freight_never_exceeds_what_is_left() -> None:
    """DOMAIN.md Money rules: never more than paid minus refunded, per line and per order."""
    order = _order()
    lines = (("L1", 2), ("L2", 1))
    goods = refundable(order, lines, {}, cny(11000))
    facts = RefundInput(T.return_refund, R.quality_issue, cny(99999), RefundMethod.balance, lines,
                        goods, order_left(order, cny(11000)), return_freight=cny(800),
                        return_freight_cap=cny(2000))
    plan = plan_refund(order, make_profile(), facts)
    # The order has 20.00 left: goods take it all, no outbound freight fits; the 8.00 return
    # freight the buyer paid is reimbursed on top (it was never part of the order).
    assert plan.goods == cny(2000) and plan.freight == cny(800) and plan.total == cny(2800)
    assert plan.return_freight == cny(800)
    assert plan.method == RefundMethod.balance


@given(
    approved=st.integers(0, 30000), refunded=st.integers(0, 14000),
    case_type=st.sampled_from(list(CaseType)), reason=st.sampled_from(list(Reason)),
    gifts_returned=st.sampled_from([None, True, False]),
    return_freight=st.one_of(st.none(), st.integers(0, 5000)),
    profile=st.sampled_from([make_profile(), taobao_like()]),
)
def test_a_plan_never_pays_more_than_the_order_has_left(
        approved: int, refunded: int, case_type: CaseType, reason: Reason, gifts_returned: bool | None,
        return_freight: int | None, profile: Profile) -> None:
    """DOMAIN.md Money rules: one order's refunds can never exceed what the order took."""
    order = _order(lines=[make_line("L1", unit_price=5000, quantity=2, paid=9000,
                                    gifts=[extra("gift", 700)])])
    lines = (("L1", 2),)
    left = order_left(order, cny(refunded))
    goods = refundable(order, lines, {}, cny(refunded))
    facts = RefundInput(case_type, reason, cny(approved), RefundMethod.original, lines, goods, left,
                        gifts_returned=gifts_returned,
                        return_freight=None if return_freight is None else cny(return_freight),
                        return_freight_cap=cny(2000))
    plan = plan_refund(order, profile, facts)
    reimbursed = plan.return_freight or cny(0)
    assert plan.total - reimbursed <= left  # the order's own money
    assert reimbursed <= cny(min(2000, return_freight or 0))  # the carrier's, up to the cap
    assert plan.goods <= goods
    assert all(e.amount.amount >= 0 for e in plan.entries)
    assert all(e.amount.amount > 0 for e in plan.entries if e.kind is not LedgerKind.compensation)
    assert sum(e.amount.amount for e in plan.entries) == plan.total.amount
