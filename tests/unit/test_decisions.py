"""Rules the lead settled where the spec left a choice (listed in the closing notes)."""

from __future__ import annotations

from aftersales.domain.deadlines import current_deadline
from aftersales.domain.events import Actor
from aftersales.domain.refunds import RefundInput, order_left, plan_refund, refundable
from aftersales.domain.vocabulary import CaseType, LedgerKind, Reason, RefundMethod, Role, State

from .factories import T0, cny, delivered_order, extra, h, kuaishou_like, make_line, req, setup

AGENT = Actor(Role.agent, "a1")
BUYER = Actor(Role.buyer)


def test_a_counter_offer_does_not_move_the_platform_deadline() -> None:
    """PLATFORMS.md principle 1: a deadline the platform sends wins — a counter-offer keeps
    the case in `requested` under the deadline it had; a merchant cannot buy time with it."""
    case, ctx = setup(CaseType.refund_only, Reason.quality_issue, profile=kuaishou_like())
    case.platform_deadline_at, case.platform_deadline_seq = T0 + h(30), case.state_seq
    case.act("counter_offer", AGENT, T0 + h(20), ctx, req(amount=cny(1000)))
    deadline = current_deadline(case, ctx.order, ctx.profile)
    assert deadline is not None and deadline.at == T0 + h(30) and deadline.source == "platform"
    case.act("decline_offer", BUYER, T0 + h(21), ctx)
    deadline = current_deadline(case, ctx.order, ctx.profile)
    assert deadline is not None and deadline.at == T0 + h(30)


def test_a_pending_offer_is_cleared_when_the_case_leaves_requested() -> None:
    """An offer answers one request: approving instead leaves no offer behind to accept."""
    case, ctx = setup(CaseType.refund_only, Reason.quality_issue)
    case.act("counter_offer", AGENT, T0, ctx, req(amount=cny(1000)))
    case.act("approve", AGENT, T0 + h(1), ctx)
    assert case.state is State.refunding and case.offer is None


def _plan(quantity: int):
    line = make_line("L1", unit_price=5000, quantity=2, paid=9000, gifts=[extra("发圈", 700)])
    order = delivered_order(lines=[line])
    lines = (("L1", quantity),)
    goods = refundable(order, lines, {}, cny(0))
    facts = RefundInput(CaseType.return_refund, Reason.no_reason, goods, RefundMethod.original,
                        lines, goods, order_left(order, cny(0)), gifts_returned=False)
    _, ctx = setup(order=order)
    return plan_refund(order, ctx.profile, facts)


def test_a_gift_is_deducted_when_its_whole_line_comes_back_without_it() -> None:
    """DOMAIN.md Money rules: a gift not returned is deducted at its listed price."""
    assert _plan(2).gift_deduction == cny(700)


def test_a_gift_stays_with_the_units_the_buyer_keeps() -> None:
    """One of two units returned: the gift goes with the unit the buyer keeps — no deduction."""
    assert _plan(1).gift_deduction == cny(0)


def test_no_ledger_entry_for_a_zero_compensation() -> None:
    """A refund is a ledger entry; nothing paid, nothing to record."""
    order = delivered_order()
    facts = RefundInput(CaseType.compensation, Reason.other, cny(0), RefundMethod.original, (),
                        cny(0), order_left(order, cny(0)))
    _, ctx = setup(order=order)
    plan = plan_refund(order, ctx.profile, facts)
    assert plan.entries == () and not any(e.kind is LedgerKind.compensation for e in plan.entries)


def test_shipping_in_time_closes_an_unshipped_refund_only_request() -> None:
    """PLATFORMS.md Taobao: "refund-only, not yet shipped … the seller can instead ship in
    time, which closes the request"; Douyin: "a pre-shipment refund is refused only by
    shipping". The profile says where (`shipping_closes_unshipped_refund`)."""
    from aftersales.domain.errors import RuleRefused

    from .factories import make_order, make_profile, sourced

    profile = make_profile(rules={"shipping_closes_unshipped_refund": sourced(True, "secondary")})
    unshipped = make_order()
    case, ctx = setup(CaseType.refund_only, Reason.no_reason, order=unshipped, profile=profile)
    case.act("ship_order", AGENT, T0, ctx, req(carrier="SF", waybill="SF1"))
    assert case.state is State.closed and case.events[-1].data["waybill"] == "SF1"

    shipped, sctx = setup(CaseType.refund_only, Reason.no_reason, profile=profile)
    try:
        shipped.act("ship_order", AGENT, T0, sctx, req(carrier="SF", waybill="SF2"))
    except RuleRefused as exc:
        assert exc.code == "already_shipped"
    else:
        raise AssertionError("an order that already shipped cannot close the request again")

    elsewhere, ectx = setup(CaseType.refund_only, Reason.no_reason, order=make_order())
    try:
        elsewhere.act("ship_order", AGENT, T0, ectx, req(carrier="SF", waybill="SF3"))
    except RuleRefused as exc:
        assert exc.code == "cannot_close_by_shipping"
    else:
        raise AssertionError("a platform without the rule does not close requests by shipping")
