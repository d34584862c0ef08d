"""Each action of API.md's action table: its effect on the case, its event, its errors."""

from __future__ import annotations

import pytest

from aftersales.domain.case import ActionRequest, Case, CaseContext
from aftersales.domain.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, RuleRefused
from aftersales.domain.events import Actor
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import CaseType, Condition, Reason, RefundMethod, Role, State

from .factories import (
    ADMIN,
    AGENT,
    BUYER,
    FINANCE,
    PLATFORM,
    SYSTEM,
    T0,
    WAREHOUSE,
    cny,
    delivered_order,
    h,
    inspection,
    kuaishou_like,
    make_line,
    make_order,
    make_profile,
    own_store_like,
    req,
    setup,
    snapshot,
    taobao_like,
    walk,
)

T = CaseType
NOW = T0 + h(1)


def _fails(case: Case, ctx: CaseContext, action: str, actor: Actor, body: ActionRequest | None,
           error: type[DomainError], code: str) -> None:
    """The action raises `error` with `code` and leaves every field of the case as it was."""
    before = snapshot(case)
    with pytest.raises(error) as err:
        case.act(action, actor, NOW, ctx, body)
    assert err.value.code == code
    assert snapshot(case) == before, f"{action} changed the case before raising {code}"


def _at(case_type: CaseType, state: str, reason: Reason = Reason.quality_issue,
        **kw: object) -> tuple[Case, CaseContext]:
    """A case walked along the happy path up to `state`."""
    paths = {
        "requested": (),
        "awaiting_return": ("approve",),
        "return_in_transit": ("approve", "ship_return"),
        "inspecting": ("approve", "ship_return", "receive"),
        "refunding": ("approve", "ship_return", "receive", "inspect_accept")
        if case_type in (T.return_refund,) else ("approve",),
        "awaiting_reshipment": ("approve", "ship_return", "receive", "inspect_accept")
        if case_type is T.exchange else ("approve",),
        "rejected": ("reject",),
        "disputed": ("reject", "escalate"),
    }
    profile = kw.pop("profile", None) or make_profile(rules={"resubmission_allowed": True})
    case, ctx = setup(case_type, reason, profile=profile, **kw)  # type: ignore[arg-type]
    walk(case, ctx, *paths[state])
    assert case.state == State(state)
    return case, ctx


# --- every action appends exactly one event -----------------------------------------------

def test_a_transition_appends_one_event_with_actor_reason_and_explanation() -> None:
    """DOMAIN.md States: every change of state is an event with a time, an actor
    (`agent:<id>`…), a reason code and a human-readable explanation; the log is append-only."""
    case, ctx = setup(T.return_refund)
    event = case.act("reject", AGENT, NOW, ctx, req(reason_code="used", explanation="worn twice"))
    assert case.events == [event]
    assert (event.at, event.actor, event.kind) == (NOW, "agent:a1", "reject")
    assert (event.from_state, event.to_state) == (State.requested, State.rejected)
    assert event.reason_code == "used" and event.explanation == "worn twice"
    assert case.state == State.rejected and case.state_entered_at == NOW and case.state_seq == 1


def test_actor_strings() -> None:
    """DOMAIN.md States: actors `buyer`, `agent:<id>`, `warehouse:<id>`, `platform`, `system`."""
    assert [str(a) for a in (BUYER, AGENT, WAREHOUSE, PLATFORM, SYSTEM)] == [
        "buyer", "agent:a1", "warehouse:w1", "platform", "system"]
    assert Actor.parse("warehouse:w9") == Actor(Role.warehouse, "w9")
    assert Actor.parse("buyer") == BUYER


# --- approve ------------------------------------------------------------------------------

@pytest.mark.parametrize(("case_type", "target"), [
    (T.return_refund, State.awaiting_return), (T.exchange, State.awaiting_return),
    (T.refund_only, State.refunding), (T.compensation, State.refunding),
    (T.reissue, State.awaiting_reshipment),
])
def test_approve_goes_where_the_type_says(case_type: CaseType, target: State) -> None:
    """DOMAIN.md Case types: returns wait for the goods, refund-only and compensation pay now,
    a reissue ships a piece again."""
    case, ctx = setup(case_type)
    case.act("approve", AGENT, NOW, ctx)
    assert case.state == target
    expected = Money.zero("CNY") if case_type is T.reissue else case.requested_amount
    assert case.approved_amount == expected


def test_approve_defaults_to_the_requested_amount_capped_at_the_refundable() -> None:
    """DOMAIN.md Money rules: never refund more than was paid minus already refunded."""
    order = delivered_order(lines=[make_line(paid=8000)])
    case, ctx = setup(T.refund_only, order=order, requested=8000,
                      refunded_by_line={"L1": cny(3000)})
    assert ctx.refundable == cny(5000)
    case.act("approve", AGENT, NOW, ctx)
    assert case.approved_amount == cny(5000)


def test_approve_with_an_amount_and_refund_method() -> None:
    """API.md approve `{amount?, refund_method?, note?}`; DOMAIN.md refund methods."""
    case, ctx = setup(T.refund_only)
    event = case.act("approve", ADMIN, NOW, ctx,
                     req(amount=cny(4000), refund_method=RefundMethod.balance, note="goodwill"))
    assert case.approved_amount == cny(4000) and case.refund_method == RefundMethod.balance
    assert event.explanation == "goodwill" and event.data["amount"] == {"amount": 4000, "currency": "CNY"}
    assert event.actor == "admin:root"


def test_approve_bad_amounts() -> None:
    """DOMAIN.md Money rules (never more than refundable: RuleRefused amount_exceeds_refundable);
    currencies never mix (currency_mismatch); amounts are not negative."""
    case, ctx = setup(T.refund_only)
    _fails(case, ctx, "approve", AGENT, req(amount=cny(10001)), RuleRefused, "amount_exceeds_refundable")
    _fails(case, ctx, "approve", AGENT, req(amount=Money(100, "USD")), InvalidInput, "currency_mismatch")
    _fails(case, ctx, "approve", AGENT, req(amount=cny(-1)), InvalidInput, "invalid_amount")


def test_approve_by_the_wrong_role_or_in_the_wrong_state() -> None:
    """API.md: approve is the agent's (403 forbidden otherwise); an action not allowed in the
    current state is 409 invalid_transition."""
    case, ctx = setup(T.refund_only)
    for actor in (BUYER, WAREHOUSE, FINANCE, PLATFORM):
        _fails(case, ctx, "approve", actor, None, Forbidden, "forbidden")
    case.act("approve", AGENT, NOW, ctx)
    _fails(case, ctx, "approve", AGENT, None, InvalidTransition, "invalid_transition")


def test_unknown_action_is_refused() -> None:
    """API.md: a forbidden action is 403 — no role may take an action the table lacks."""
    case, ctx = setup()
    _fails(case, ctx, "teleport", AGENT, None, Forbidden, "forbidden")


@pytest.mark.parametrize("action", ["auto_refund", "auto_close", "flag_overdue"])
def test_system_actions_are_not_for_people(action: str) -> None:
    """transitions.py: system actions belong to the deadline worker alone (API.md 403)."""
    case, ctx = setup()
    for actor in (AGENT, ADMIN, BUYER, PLATFORM):
        _fails(case, ctx, action, actor, None, Forbidden, "forbidden")


# --- reject -------------------------------------------------------------------------------

def test_reject_needs_a_reason_code_and_an_explanation() -> None:
    """DOMAIN.md: every decision says why; API.md reject `{reason_code, explanation}`."""
    case, ctx = setup(T.return_refund)
    _fails(case, ctx, "reject", AGENT, req(reason_code="used"), InvalidInput, "explanation_required")
    _fails(case, ctx, "reject", AGENT, req(explanation="no"), InvalidInput, "explanation_required")
    _fails(case, ctx, "reject", BUYER, req(reason_code="x", explanation="y"), Forbidden, "forbidden")


def test_taobao_unshipped_refund_cannot_be_refused() -> None:
    """PLATFORMS.md Taobao: refusing unshipped refunds is not allowed (`cannot_refuse`, api)."""
    order = make_order()  # not shipped
    case, ctx = setup(T.refund_only, Reason.other, order=order, profile=taobao_like())
    _fails(case, ctx, "reject", AGENT, req(reason_code="x", explanation="y"), RuleRefused, "cannot_refuse")
    # The same request on a platform without the rule can be refused.
    case, ctx = setup(T.refund_only, Reason.other, order=order, profile=make_profile())
    case.act("reject", AGENT, NOW, ctx, req(reason_code="x", explanation="y"))
    assert case.state == State.rejected


def test_taobao_seven_day_return_cannot_be_refused_inside_its_window_only() -> None:
    """PLATFORMS.md Taobao: refusing 7-day no-reason refunds is not allowed (cannot_refuse);
    the window (from the day after signing) counts to the application: a request made in
    it stays unrefusable later on, one made after it may be refused."""
    order = delivered_order()
    case, ctx = setup(T.return_refund, Reason.no_reason, order=order, profile=taobao_like())
    _fails(case, ctx, "reject", AGENT, req(reason_code="x", explanation="y"), RuleRefused, "cannot_refuse")
    later = T0 + h(24 * 10)
    with pytest.raises(RuleRefused) as err:
        case.act("reject", AGENT, later, ctx, req(reason_code="x", explanation="y"))
    assert err.value.code == "cannot_refuse"
    late, ctx = setup(T.return_refund, Reason.no_reason, order=order, profile=taobao_like(),
                      opened_at=later)
    late.act("reject", AGENT, later + h(1), ctx, req(reason_code="window", explanation="past 7 days"))
    assert late.state == State.rejected


def test_taobao_online_game_refund_cannot_be_refused() -> None:
    """PLATFORMS.md Taobao: refusing online-game refunds is not allowed (cannot_refuse)."""
    order = delivered_order(lines=[make_line(category="online_game")])
    case, ctx = setup(T.refund_only, Reason.other, order=order, profile=taobao_like())
    _fails(case, ctx, "reject", AGENT, req(reason_code="x", explanation="y"), RuleRefused, "cannot_refuse")


# --- counter-offer ------------------------------------------------------------------------

def test_counter_offer_then_accept() -> None:
    """API.md counter_offer `{amount}` (a partial refund instead), accept_offer by the buyer:
    the case pays the offered amount."""
    case, ctx = setup(T.refund_only)
    case.act("counter_offer", AGENT, NOW, ctx, req(amount=cny(3000), note="keep it"))
    assert case.state == State.requested and case.offer is not None
    assert case.offer.amount == cny(3000)
    event = case.act("accept_offer", BUYER, NOW + h(1), ctx)
    assert case.state == State.refunding and case.approved_amount == cny(3000) and case.offer is None
    assert (event.from_state, event.to_state, event.actor) == (State.requested, State.refunding, "buyer")


def test_counter_offer_then_decline() -> None:
    """API.md decline_offer: the request stays with the merchant, the offer is gone."""
    case, ctx = setup(T.return_refund)
    case.act("counter_offer", AGENT, NOW, ctx, req(amount=cny(3000)))
    case.act("decline_offer", BUYER, NOW + h(1), ctx)
    assert case.state == State.requested and case.offer is None and case.approved_amount is None
    assert [e.kind for e in case.events] == ["counter_offer", "decline_offer"]


def test_counter_offer_errors() -> None:
    """API.md counter_offer `{amount}`: a positive amount, within the refundable; one offer at a
    time; only the buyer answers, and only an offer that exists."""
    case, ctx = setup(T.refund_only)
    _fails(case, ctx, "counter_offer", AGENT, req(), InvalidInput, "invalid_amount")
    _fails(case, ctx, "counter_offer", AGENT, req(amount=cny(0)), InvalidInput, "invalid_amount")
    _fails(case, ctx, "counter_offer", AGENT, req(amount=cny(20000)), RuleRefused,
           "amount_exceeds_refundable")
    _fails(case, ctx, "counter_offer", AGENT, req(amount=Money(5, "USD")), InvalidInput,
           "currency_mismatch")
    _fails(case, ctx, "accept_offer", BUYER, None, RuleRefused, "no_offer_pending")
    _fails(case, ctx, "decline_offer", BUYER, None, RuleRefused, "no_offer_pending")
    case.act("counter_offer", AGENT, NOW, ctx, req(amount=cny(3000)))
    _fails(case, ctx, "counter_offer", AGENT, req(amount=cny(2000)), RuleRefused, "offer_pending")
    _fails(case, ctx, "accept_offer", AGENT, None, Forbidden, "forbidden")
    _fails(case, ctx, "counter_offer", BUYER, req(amount=cny(1)), Forbidden, "forbidden")


# --- cancel -------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["requested", "awaiting_return", "rejected", "disputed"])
def test_buyer_cancels_while_nothing_is_on_its_way(state: str) -> None:
    """DOMAIN.md States: requested / awaiting_return leave by "buyer cancels"; closed is
    "cancelled"."""
    case, ctx = _at(T.return_refund, state)
    case.act("cancel", BUYER, NOW + h(10), ctx)
    assert case.state == State.closed


@pytest.mark.parametrize("state", ["return_in_transit", "inspecting", "refunding"])
def test_cancel_is_refused_once_goods_or_money_are_moving(state: str) -> None:
    """DOMAIN.md States: return_in_transit, inspecting and refunding do not leave by a cancel."""
    case, ctx = _at(T.return_refund, state)
    _fails(case, ctx, "cancel", BUYER, None, InvalidTransition, "invalid_transition")


def test_only_the_buyer_cancels() -> None:
    """API.md: cancel is the buyer's."""
    case, ctx = setup()
    _fails(case, ctx, "cancel", AGENT, None, Forbidden, "forbidden")


# --- ship_return / receive ----------------------------------------------------------------

def test_ship_return_records_carrier_and_waybill() -> None:
    """DOMAIN.md Warehouse: returns arrive with a carrier and waybill; API.md ship_return."""
    case, ctx = _at(T.return_refund, "awaiting_return")
    case.act("ship_return", BUYER, NOW + h(5), ctx,
             req(carrier=" SF ", waybill=" SF1 ", prepaid=True, return_freight=cny(1200)))
    assert case.state == State.return_in_transit
    assert (case.return_carrier, case.return_waybill, case.return_prepaid) == ("SF", "SF1", True)
    assert case.return_freight == cny(1200)


def test_ship_return_needs_carrier_and_waybill() -> None:
    """API.md ship_return `{carrier, waybill, prepaid}`."""
    case, ctx = _at(T.return_refund, "awaiting_return")
    _fails(case, ctx, "ship_return", BUYER, req(carrier="SF"), InvalidInput, "waybill_required")
    _fails(case, ctx, "ship_return", BUYER, req(waybill="1"), InvalidInput, "waybill_required")
    _fails(case, ctx, "ship_return", AGENT, req(carrier="SF", waybill="1"), Forbidden, "forbidden")


def test_receive_prepaid_starts_inspection() -> None:
    """DOMAIN.md States: return_in_transit leaves by "warehouse receives" → inspecting."""
    case, ctx = _at(T.return_refund, "return_in_transit")
    case.act("receive", WAREHOUSE, NOW + h(30), ctx, req(prepaid=True))
    assert case.state == State.inspecting and case.received_at == NOW + h(30)


def test_cod_parcel_is_refused_and_the_buyer_deadline_restarts() -> None:
    """DOMAIN.md Policy: cash-on-delivery (到付) returns are refused at the warehouse and the
    buyer is told; API.md: back to awaiting_return, event parcel_refused_cod, the buyer's
    deadline restarts."""
    from aftersales.domain.deadlines import current_deadline

    profile = taobao_like()
    case, ctx = _at(T.return_refund, "return_in_transit", profile=profile)
    first = current_deadline(case, ctx.order, profile)
    seq = case.state_seq
    at = NOW + h(50)
    event = case.act("receive", WAREHOUSE, at, ctx, req(prepaid=False))
    assert case.state == State.awaiting_return and case.received_at is None
    assert (event.kind, event.from_state, event.to_state) == (
        "parcel_refused_cod", State.return_in_transit, State.awaiting_return)
    assert "到付" in event.explanation
    assert case.state_seq == seq + 1 and case.state_entered_at == at
    again = current_deadline(case, ctx.order, profile)
    assert first is not None and again is not None
    assert again.rule == "taobao.buyer_ship_return" and again.at == at + h(24 * 7)
    assert again.key != first.key


def test_receive_is_the_warehouse_s() -> None:
    """API.md: receive is the warehouse's (admin may take every staff action)."""
    case, ctx = _at(T.return_refund, "return_in_transit")
    _fails(case, ctx, "receive", AGENT, req(prepaid=True), Forbidden, "forbidden")
    case.act("receive", ADMIN, NOW + h(9), ctx, req(prepaid=True))
    assert case.state == State.inspecting


# --- inspect ------------------------------------------------------------------------------

@pytest.mark.parametrize(("case_type", "target"), [
    (T.return_refund, State.refunding), (T.exchange, State.awaiting_reshipment)])
def test_inspection_accepted(case_type: CaseType, target: State) -> None:
    """API.md: inspect with accept → refunding (return_refund) or awaiting_reshipment (exchange)."""
    case, ctx = _at(case_type, "inspecting")
    found = inspection("accept")
    case.act("inspect", WAREHOUSE, NOW + h(40), ctx, req(inspection=found))
    assert case.state == target and case.inspection == found


@pytest.mark.parametrize("case_type", [T.return_refund, T.exchange])
def test_inspection_refused_rejects_with_the_explanation(case_type: CaseType) -> None:
    """API.md: inspect with refuse → rejected with the explanation."""
    case, ctx = _at(case_type, "inspecting")
    event = case.act("inspect", WAREHOUSE, NOW + h(40), ctx,
                     req(inspection=inspection("refuse", condition=Condition.used, note="worn")))
    assert case.state == State.rejected and event.explanation == "worn"


def test_inspection_errors() -> None:
    """API.md inspect `{verdict: accept|refuse, …}`; a refusal says why (DOMAIN.md: every
    decision says why)."""
    case, ctx = _at(T.return_refund, "inspecting")
    _fails(case, ctx, "inspect", WAREHOUSE, req(), InvalidInput, "invalid_verdict")
    _fails(case, ctx, "inspect", WAREHOUSE, req(inspection=inspection("maybe")), InvalidInput,
           "invalid_verdict")
    _fails(case, ctx, "inspect", WAREHOUSE, req(inspection=inspection("refuse")), InvalidInput,
           "explanation_required")
    _fails(case, ctx, "inspect", AGENT, req(inspection=inspection()), Forbidden, "forbidden")


# --- give_up_goods ------------------------------------------------------------------------

@pytest.mark.parametrize(("case_type", "state", "target"), [
    (T.return_refund, "awaiting_return", State.refunding),
    (T.return_refund, "return_in_transit", State.refunding),
    (T.exchange, "awaiting_return", State.awaiting_reshipment),
    (T.exchange, "return_in_transit", State.awaiting_reshipment),
])
def test_give_up_goods(case_type: CaseType, state: str, target: State) -> None:
    """DOMAIN.md States: return_in_transit leaves by "merchant gives up the goods (refund
    without receipt)"; API.md give_up_goods (agent)."""
    case, ctx = _at(case_type, state)
    case.act("give_up_goods", AGENT, NOW + h(20), ctx)
    assert case.state == target and case.approved_amount == case.requested_amount


def test_give_up_goods_only_where_goods_are_coming() -> None:
    """DOMAIN.md Case types: a refund-only case has no goods to give up."""
    case, ctx = setup(T.refund_only)
    _fails(case, ctx, "give_up_goods", AGENT, None, InvalidTransition, "invalid_transition")
    case, ctx = _at(T.return_refund, "awaiting_return")
    _fails(case, ctx, "give_up_goods", BUYER, None, Forbidden, "forbidden")


# --- reship -------------------------------------------------------------------------------

@pytest.mark.parametrize("actor", [WAREHOUSE, AGENT, ADMIN])
def test_reship_completes_a_reissue(actor: Actor) -> None:
    """DOMAIN.md States: awaiting_reshipment leaves by "replacement shipped with waybill";
    API.md reship (warehouse, agent)."""
    case, ctx = _at(T.reissue, "awaiting_reshipment", Reason.missing_item)
    case.act("reship", actor, NOW + h(3), ctx, req(carrier="YTO", waybill="Y1"))
    assert case.state == State.completed
    assert (case.reship_carrier, case.reship_waybill) == ("YTO", "Y1")


def test_reship_errors() -> None:
    """API.md reship `{carrier, waybill}`."""
    case, ctx = _at(T.exchange, "awaiting_reshipment")
    _fails(case, ctx, "reship", WAREHOUSE, req(carrier="YTO"), InvalidInput, "waybill_required")
    _fails(case, ctx, "reship", BUYER, req(carrier="YTO", waybill="1"), Forbidden, "forbidden")


# --- refunding ----------------------------------------------------------------------------

def test_refund_succeeded_and_failed() -> None:
    """DOMAIN.md States: refunding leaves by "refund succeeds (or fails and is retried)"."""
    case, ctx = _at(T.refund_only, "refunding")
    seq = case.state_seq
    case.act("refund_failed", SYSTEM, NOW + h(2), ctx)
    assert case.state == State.refunding and case.state_seq == seq
    case.act("refund_succeeded", SYSTEM, NOW + h(3), ctx)
    assert case.state == State.completed


def test_mark_refunded_for_offline_refunds() -> None:
    """API.md mark_refunded `{reference}` (finance, for offline refunds)."""
    case, ctx = _at(T.refund_only, "refunding", offline_pending=True)
    _fails(case, ctx, "mark_refunded", FINANCE, req(reference=" "), InvalidInput, "reference_required")
    _fails(case, ctx, "mark_refunded", AGENT, req(reference="BANK-1"), Forbidden, "forbidden")
    event = case.act("mark_refunded", FINANCE, NOW + h(3), ctx, req(reference="BANK-1"))
    assert case.state == State.completed and event.data["reference"] == "BANK-1"


def test_mark_refunded_needs_an_offline_refund_waiting() -> None:
    """API.md: mark_refunded is for `offline` refunds only."""
    case, ctx = _at(T.refund_only, "refunding")
    _fails(case, ctx, "mark_refunded", FINANCE, req(reference="X"), RuleRefused, "nothing_to_mark")


# --- escalation and ruling ----------------------------------------------------------------

def test_escalate_and_rule_for_the_buyer() -> None:
    """DOMAIN.md States: rejected leaves by "buyer escalates"; disputed by "ruling for the
    buyer" → money back."""
    case, ctx = _at(T.return_refund, "rejected")
    case.act("escalate", BUYER, NOW + h(5), ctx, req(statement="it was broken"))
    assert case.state == State.disputed
    case.act("rule", PLATFORM, NOW + h(6), ctx, req(in_favor_of="buyer", amount=cny(6000)))
    assert case.state == State.refunding and case.approved_amount == cny(6000)


def test_rule_for_the_buyer_defaults_to_the_requested_amount() -> None:
    """API.md rule `{in_favor_of, amount?}`."""
    case, ctx = _at(T.refund_only, "disputed")
    case.act("rule", PLATFORM, NOW + h(6), ctx, req(in_favor_of="buyer"))
    assert case.approved_amount == case.requested_amount


def test_rule_for_the_merchant_closes() -> None:
    """DOMAIN.md States: closed — ruled for the merchant."""
    case, ctx = _at(T.return_refund, "disputed")
    case.act("rule", PLATFORM, NOW + h(6), ctx, req(in_favor_of="merchant"))
    assert case.state == State.closed and case.approved_amount is None


def test_escalation_and_ruling_errors() -> None:
    """API.md escalate `{statement}` (buyer); rule `{in_favor_of: buyer|merchant}` (platform);
    the ruling never exceeds what is refundable."""
    case, ctx = _at(T.return_refund, "rejected")
    _fails(case, ctx, "escalate", BUYER, req(statement="  "), InvalidInput, "statement_required")
    _fails(case, ctx, "escalate", AGENT, req(statement="x"), Forbidden, "forbidden")
    _fails(case, ctx, "rule", PLATFORM, req(in_favor_of="buyer"), InvalidTransition, "invalid_transition")
    case.act("escalate", BUYER, NOW + h(5), ctx, req(statement="x"))
    _fails(case, ctx, "rule", PLATFORM, req(in_favor_of="nobody"), InvalidInput, "invalid_ruling")
    _fails(case, ctx, "rule", AGENT, req(in_favor_of="buyer"), Forbidden, "forbidden")
    _fails(case, ctx, "rule", PLATFORM, req(in_favor_of="buyer", amount=cny(999999)), RuleRefused,
           "amount_exceeds_refundable")


def test_escalation_refused_where_the_platform_has_none() -> None:
    """PLATFORMS.md Own web store: the merchant's policy alone decides — no platform to ask."""
    case, ctx = _at(T.return_refund, "rejected", profile=own_store_like())
    _fails(case, ctx, "escalate", BUYER, req(statement="x"), RuleRefused, "escalation_not_allowed")


# --- resubmission -------------------------------------------------------------------------

def test_kuaishou_buyer_may_resubmit_after_a_rejection() -> None:
    """PLATFORMS.md Kuaishou: after a rejection the buyer may edit and resubmit
    (negotiateStatus 3)."""
    case, ctx = _at(T.return_refund, "rejected", profile=kuaishou_like())
    case.act("resubmit", BUYER, NOW + h(5), ctx, req(amount=cny(5000), note="half"))
    assert case.state == State.requested and case.resubmissions == 1
    assert case.requested_amount == cny(5000)


def test_resubmission_refused_where_the_platform_does_not_allow_it() -> None:
    """PLATFORMS.md: resubmission only "if the platform allows" (DOMAIN.md States, rejected)."""
    case, ctx = _at(T.return_refund, "rejected", profile=make_profile())
    _fails(case, ctx, "resubmit", BUYER, None, RuleRefused, "resubmission_not_allowed")


def test_resubmitted_amount_is_checked_before_anything_changes() -> None:
    """DOMAIN.md Money rules: never more than refundable — and a refused resubmission leaves
    the case as it was."""
    case, ctx = _at(T.return_refund, "rejected", profile=kuaishou_like())
    _fails(case, ctx, "resubmit", BUYER, req(amount=cny(10**6)), RuleRefused, "amount_exceeds_refundable")
    _fails(case, ctx, "resubmit", AGENT, None, Forbidden, "forbidden")


# --- terminal -----------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["completed", "closed"])
def test_terminal_cases_accept_no_action(state: str) -> None:
    """DOMAIN.md States: completed and closed are terminal."""
    case, ctx = setup(T.refund_only)
    if state == "completed":
        walk(case, ctx, "approve", "refund_succeeded")
    else:
        case.act("cancel", BUYER, NOW, ctx)
    from aftersales.domain.transitions import ALL_ACTIONS, TABLE

    body = req(inspection=inspection(), in_favor_of="buyer", amount=cny(1), prepaid=True,
               carrier="c", waybill="w", statement="s", reference="r", reason_code="x", explanation="y")
    for action in sorted(ALL_ACTIONS):
        for role in Role:
            # A role that may take this action somewhere is told "not now" (409); one that
            # never may is told "forbidden" (403) — either way nothing changes.
            if any(t.action == action and role in t.roles for t in TABLE):
                _fails(case, ctx, action, Actor(role, "z"), body, InvalidTransition, "invalid_transition")
            else:
                _fails(case, ctx, action, Actor(role, "z"), body, Forbidden, "forbidden")


def test_record_and_force_state() -> None:
    """DOMAIN.md States: the event log is append-only — messages and platform syncs are events
    too; a platform sync mirrors the platform's state (the platform is the authority)."""
    case, _ = setup()
    case.record("message", BUYER, NOW, "hello", {"body": "hello"})
    assert case.state == State.requested and case.state_seq == 0
    event = case.force_state(State.awaiting_return, PLATFORM, NOW + h(1), "WAIT_BUYER_RETURN_GOODS")
    assert case.state == State.awaiting_return and case.state_seq == 1
    assert event.kind == "platform_sync" and [e.kind for e in case.events] == ["message", "platform_sync"]
    case.force_state(State.awaiting_return, PLATFORM, NOW + h(2), "same")
    assert case.state_seq == 1 and len(case.events) == 3


# --- a refused action changes nothing, exhaustively ---------------------------------------

BAD_BODIES = [
    None,
    req(amount=cny(10**7), note="too much"),
    req(amount=Money(100, "USD")),
    req(amount=cny(-5)),
    req(inspection=inspection("refuse")),
    req(inspection=inspection("refuse", note=""), prepaid=True),
    req(in_favor_of="buyer", amount=cny(10**7)),
    req(carrier="SF", reason_code="x"),
]
PATHS = {
    "forward": ("approve", "ship_return", "receive", "inspect_accept"),
    "refuse": ("approve", "ship_return", "receive", "inspect_refuse", "escalate"),
    "reject": ("reject", "escalate"),
}


@pytest.mark.parametrize("case_type", list(CaseType))
def test_every_refused_action_leaves_the_case_unchanged(case_type: CaseType) -> None:
    """DOMAIN.md States: every change of state is an event — so an action that is refused
    (wrong state, wrong role, bad input, a rule) must change nothing at all: every state on
    the main paths × every action × every role × bodies that are wrong in each way."""
    from aftersales.domain.transitions import ALL_ACTIONS, TABLE

    profile = make_profile(rules={"resubmission_allowed": True})
    checked = 0
    for path in PATHS.values():
        for depth in range(len(path) + 1):
            case, ctx = setup(case_type, profile=profile, offline_pending=False)
            try:
                walk(case, ctx, *path[:depth])
            except DomainError:
                break
            before = snapshot(case)
            for action in sorted(ALL_ACTIONS):
                # The roles of this move, and one that is not (find() refuses it first).
                rows = [t for t in TABLE if t.source == case.state and t.action == action]
                roles = sorted({r for t in rows for r in t.roles} | {Role.buyer, Role.agent})
                for role in roles:
                    for body in BAD_BODIES:
                        try:
                            case.act(action, Actor(role, "z"), NOW + h(100), ctx, body)
                        except DomainError:
                            assert snapshot(case) == before, (before["state"], action, role, body)
                            checked += 1
                        else:  # it was allowed: start again from the same point
                            case, ctx = setup(case_type, profile=profile)
                            walk(case, ctx, *path[:depth])
                            before = snapshot(case)
    assert checked > 500
