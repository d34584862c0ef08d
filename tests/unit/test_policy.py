"""Eligibility and decisions (DOMAIN.md "Policy"; PLATFORMS.md Taobao, Kuaishou, AliExpress and
"Chinese law: 7-day no-reason returns")."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from aftersales.domain.case import ActionRequest
from aftersales.domain.errors import InvalidInput, ProfileError, RuleRefused
from aftersales.domain.merchant_policy import (
    LAW_EXCLUDED_CATEGORIES,
    AutoApproveRule,
    MerchantPolicy,
)
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.policy import (
    InspectionFacts,
    PolicyInput,
    Recommendation,
    check_request,
    escalation_blocker,
    evaluate,
    no_reason_days,
)
from aftersales.domain.profile import Profile
from aftersales.domain.vocabulary import CaseType, Condition, EvidenceKind, Reason, State

from .factories import (
    AGENT,
    BUYER,
    T0,
    aliexpress_like,
    cny,
    d,
    delivered_order,
    extra,
    h,
    make_line,
    make_order,
    make_profile,
    setup,
    taobao_like,
    walk,
)

T = CaseType
R = Reason
SIGNED = datetime.fromisoformat("2026-03-01T15:30:00+00:00")  # 23:30 on 1 March, Shanghai
CLOSES = datetime.fromisoformat("2026-03-08T16:00:00+00:00")  # 00:00 on 9 March, Shanghai


def _input(case_type: CaseType = T.return_refund, reason: Reason = R.no_reason, *,
           order: Order | None = None, profile: Profile | None = None,
           policy: MerchantPolicy | None = None, now: datetime | None = None,
           requested: int = 10000, **kw: Any) -> PolicyInput:
    order = order or delivered_order(delivered_at=SIGNED, shipped_at=SIGNED - d(2))
    return PolicyInput(
        case_type=case_type, reason=reason, lines=tuple((ln.id, ln.quantity) for ln in order.lines),
        requested=cny(requested), order=order, profile=profile or make_profile(),
        policy=policy or MerchantPolicy(), now=now or SIGNED + d(1), **kw)


def _codes(rec: Recommendation) -> set[str]:
    return {hit.code for hit in rec.rules}


def _inspected(**kw: Any) -> InspectionFacts:
    kw.setdefault("condition", Condition.new)
    kw.setdefault("sku_matches", True)
    kw.setdefault("accessories_complete", True)
    kw.setdefault("gifts_returned", True)
    return InspectionFacts(**kw)


# --- the 7-day window ---------------------------------------------------------------------

def test_no_reason_inside_the_window_is_approved() -> None:
    """DOMAIN.md Policy: no-reason returns within 7 days of delivery; PLATFORMS.md Chinese law:
    counted from the day after signing."""
    rec = evaluate(_input(now=CLOSES - h(1) / 60))
    assert rec.decision == "approve" and "within_no_reason_window" in _codes(rec)


def test_no_reason_window_closes_at_local_midnight_after_seven_full_days() -> None:
    """PLATFORMS.md Chinese law: window 7 days counted from the day after signing (signed 23:30
    on the 1st → the 2nd to the 8th count → closes 00:00 on the 9th, shop time)."""
    rec = evaluate(_input(now=CLOSES))
    assert rec.decision == "reject" and "no_reason_window_passed" in _codes(rec)
    hit = next(x for x in rec.rules if x.code == "no_reason_window_passed")
    assert "7" in hit.zh and "7-day" in hit.en  # bilingual, says why


def test_the_window_counts_to_the_application_not_to_the_view() -> None:
    """Eligibility windows count to when the buyer applied (the case's opened_at); a case
    looked at long after a timely application stays within its window."""
    late_view = _input(now=CLOSES + d(7), applied_at=CLOSES - h(1), state=State.inspecting)
    assert "within_no_reason_window" in _codes(evaluate(late_view))
    late_application = _input(now=CLOSES + d(7), applied_at=CLOSES, state=State.inspecting)
    assert "no_reason_window_passed" in _codes(evaluate(late_application))


def test_the_window_is_counted_in_the_shop_timezone() -> None:
    """DOMAIN.md Shops and time: calendar days in the shop's timezone — the same signing
    (07:30 on the 1st in Los Angeles) closes at LA midnight, 16 hours after Shanghai's."""
    la = evaluate(_input(now=CLOSES, timezone="America/Los_Angeles"))
    assert la.decision == "approve"


def test_the_platform_or_the_merchant_may_give_more_days_never_fewer() -> None:
    """DOMAIN.md Policy: within 7 days of delivery (the platform may set more)."""
    assert no_reason_days(make_profile(rules={"no_reason_days": 15}), MerchantPolicy()) == 15
    assert no_reason_days(make_profile(), MerchantPolicy(no_reason_days=30)) == 30
    assert no_reason_days(make_profile(rules={"no_reason_days": 7}), MerchantPolicy(no_reason_days=3)) == 7
    rec = evaluate(_input(now=CLOSES + d(3), profile=make_profile(rules={"no_reason_days": 15})))
    assert rec.decision == "approve"


def test_platforms_outside_chinese_law_have_no_statutory_window() -> None:
    """PLATFORMS.md Chinese law: 7-day no-reason returns on all platforms selling in China —
    a platform outside it (cn_no_reason_law false) has none unless the merchant grants one."""
    abroad = make_profile(rules={"cn_no_reason_law": False})
    assert no_reason_days(abroad, MerchantPolicy()) == 0
    assert no_reason_days(abroad, MerchantPolicy(no_reason_days=14)) == 14
    rec = evaluate(_input(profile=abroad, now=CLOSES + d(30)))
    assert "no_no_reason_window" in _codes(rec) and "no_reason_window_passed" not in _codes(rec)


def test_not_yet_delivered_has_no_window_yet() -> None:
    """PLATFORMS.md Chinese law: the window counts from signing — before signing it has not
    started."""
    rec = evaluate(_input(order=make_order(shipped_at=T0)))
    assert "not_yet_delivered" in _codes(rec) and rec.decision == "approve"


def test_quality_claims_are_not_seven_day_returns() -> None:
    """PLATFORMS.md Chinese law: quality-defect returns are not 7-day returns — the window does
    not apply to them."""
    rec = evaluate(_input(reason=R.quality_issue, now=CLOSES + d(20),
                          evidence=frozenset({EvidenceKind.photo})))
    assert "no_reason_window_passed" not in _codes(rec) and rec.decision == "approve"


# --- excluded goods -----------------------------------------------------------------------

@pytest.mark.parametrize("category", sorted(LAW_EXCLUDED_CATEGORIES))
def test_goods_excluded_by_law(category: str) -> None:
    """DOMAIN.md Policy / PLATFORMS.md Chinese law: custom-made, fresh or perishable, downloaded
    or unsealed digital/audio/video/software, newspapers and periodicals are excluded."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category=category)])
    rec = evaluate(_input(order=order))
    assert rec.decision == "reject" and "excluded_from_no_reason" in _codes(rec)


def test_goods_marked_at_sale_are_excluded() -> None:
    """DOMAIN.md Policy: … and what the merchant marked at sale with the buyer's consent
    (no_reason_excluded)."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(no_reason_excluded=True)])
    assert evaluate(_input(order=order)).decision == "reject"


def test_merchant_exclusions_add_to_the_law() -> None:
    """DOMAIN.md Policy: the merchant's policy is data on top of the platform profile."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category="underwear")])
    assert evaluate(_input(order=order)).decision == "approve"
    policy = MerchantPolicy(excluded_categories=frozenset({"underwear"}))
    assert evaluate(_input(order=order, policy=policy)).decision == "reject"


def test_other_categories_are_not_excluded_by_default() -> None:
    """PLATFORMS.md Chinese law: the further exclusions (safety, activated, near-expiry) only
    if the buyer confirmed at purchase — never by default."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category="cosmetics")])
    assert "excluded_from_no_reason" not in _codes(evaluate(_input(order=order)))


def test_exclusion_is_about_no_reason_returns_only() -> None:
    """DOMAIN.md Policy: goods excluded from *no-reason* return — a quality claim still stands."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category="fresh")])
    rec = evaluate(_input(reason=R.quality_issue, order=order, evidence=frozenset({EvidenceKind.photo})))
    assert rec.decision == "approve"


# --- inspection ---------------------------------------------------------------------------

@pytest.mark.parametrize(("facts", "category", "code"), [
    ({"condition": Condition.used}, None, "used_or_damaged"),
    ({"condition": Condition.damaged}, None, "used_or_damaged"),
    ({"accessories_complete": False}, None, "incomplete"),
    ({"tags_intact": False}, "apparel", "tags_removed"),
    ({"tags_intact": False}, "shoes", "tags_removed"),
    ({"seal_intact": False}, "food", "seal_broken"),
    ({"seal_intact": False}, "cosmetics", "seal_broken"),
    ({"seal_intact": False}, "medical_device", "seal_broken"),
    ({"seal_intact": False}, "electronics", "electronics_tampered"),
    ({"sku_matches": False}, None, "not_our_product"),
])
def test_inspection_rejects_what_is_not_complete(facts: dict[str, Any], category: str | None,
                                                 code: str) -> None:
    """DOMAIN.md Policy: reject used; incomplete or outwardly damaged; not our product
    (SKU/serial/tag mismatch). PLATFORMS.md Chinese law, "complete" per category: food,
    cosmetics, medical devices — a one-time seal broken; electronics — tampered labels,
    activation; apparel, shoes, bags, toys, home textiles — tags cut or removed."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category=category)])
    rec = evaluate(_input(order=order, state=State.inspecting, inspection=_inspected(**facts)))
    assert rec.decision == "reject" and code in _codes(rec)


@pytest.mark.parametrize(("facts", "category"), [
    ({"condition": Condition.opened}, None),  # opening to inspect does not break "complete"
    ({"tags_intact": False}, "electronics"),  # tags matter for apparel and the like only
    ({"seal_intact": False}, "apparel"),
])
def test_inspection_accepts_a_reasonable_trial(facts: dict[str, Any], category: str | None) -> None:
    """PLATFORMS.md Chinese law: opening to inspect and a reasonable trial do not break
    "complete"; the per-category checks apply to their categories only."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category=category)])
    rec = evaluate(_input(order=order, state=State.inspecting, inspection=_inspected(**facts)))
    assert rec.decision == "approve" and "inspection_passed" in _codes(rec)


def test_completeness_is_for_no_reason_returns() -> None:
    """DOMAIN.md Policy: "only if unused and complete" is the condition of *no-reason* returns;
    a defective item may well come back used."""
    rec = evaluate(_input(reason=R.quality_issue, state=State.inspecting,
                          evidence=frozenset({EvidenceKind.video}),
                          inspection=_inspected(condition=Condition.used, quality_problem_found=True)))
    assert rec.decision == "approve"


def test_packaging_only_flaw_is_not_a_quality_issue() -> None:
    """DOMAIN.md Policy: reject a flaw only in the paper bag or box claimed as a quality issue."""
    rec = evaluate(_input(reason=R.quality_issue, evidence=frozenset({EvidenceKind.photo}),
                          inspection=_inspected(packaging_only_flaw=True)))
    assert rec.decision == "reject" and "packaging_only_flaw" in _codes(rec)


def test_quality_claim_with_no_problem_found_is_rejected() -> None:
    """DOMAIN.md Policy: reject a quality claim where no quality problem is found."""
    rec = evaluate(_input(reason=R.not_as_described, evidence=frozenset({EvidenceKind.photo}),
                          inspection=_inspected(quality_problem_found=False)))
    assert rec.decision == "reject" and "no_quality_problem" in _codes(rec)
    unknown = evaluate(_input(reason=R.quality_issue, evidence=frozenset({EvidenceKind.photo}),
                              inspection=_inspected(quality_problem_found=None)))
    assert unknown.decision == "approve"


def test_gift_not_returned_is_deducted_never_a_refusal() -> None:
    """PLATFORMS.md Taobao freight: a gift not returned may be deducted, never a reason to
    refuse the return; Chinese law: gifts come back or their stated price is charged."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(gifts=[extra("clip", 990)])])
    rec = evaluate(_input(order=order, inspection=_inspected(gifts_returned=False)))
    assert rec.decision == "approve" and "gift_deducted" in _codes(rec)
    [hit] = [h for h in rec.rules if h.code == "gift_deducted"]
    assert "9.90 CNY" in hit.en


def test_gift_kept_with_the_units_kept_on_a_partial_return() -> None:
    """decisions.md: on a partial return the gift stays with the units kept — the
    recommendation says what the refund plan does (nothing deducted)."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(quantity=2, gifts=[extra("clip", 990)])])
    rec = evaluate(replace(_input(order=order, inspection=_inspected(gifts_returned=False)),
                           lines=(("L1", 1),)))
    assert "gift_deducted" not in _codes(rec) and "gift_kept_with_units" in _codes(rec)


def test_waiting_for_inspection() -> None:
    """DOMAIN.md Policy: evaluated on a request and again at inspection — needs_inspection."""
    rec = evaluate(_input(state=State.inspecting))
    assert rec.decision == "needs_inspection"


# --- evidence -----------------------------------------------------------------------------

@pytest.mark.parametrize("reason", [R.quality_issue, R.not_as_described, R.wrong_item, R.damaged_in_transit])
def test_quality_claims_need_photo_or_video(reason: Reason) -> None:
    """DOMAIN.md Policy: a quality claim needs photo or video evidence before approval (reasons
    table: photo or video / photo)."""
    rec = evaluate(_input(reason=reason))
    assert rec.decision == "needs_evidence" and "evidence_required" in _codes(rec)
    for kind in (EvidenceKind.photo, EvidenceKind.video):
        assert evaluate(_input(reason=reason, evidence=frozenset({kind}))).decision == "approve"
    assert evaluate(_input(reason=reason, evidence=frozenset({EvidenceKind.other}))).decision \
        == "needs_evidence"


def test_missing_item_needs_third_party_proof_or_packing_record() -> None:
    """DOMAIN.md Policy: a missing-item claim needs third-party proof or the packing record."""
    rec = evaluate(_input(T.reissue, R.missing_item, evidence=frozenset({EvidenceKind.photo})))
    assert rec.decision == "needs_evidence" and "missing_item_proof_required" in _codes(rec)
    for kind in (EvidenceKind.third_party_proof, EvidenceKind.packing_record):
        assert evaluate(_input(T.reissue, R.missing_item, evidence=frozenset({kind}))).decision == "approve"


@pytest.mark.parametrize("reason", [R.lost_in_transit, R.delayed_delivery, R.not_received])
def test_carrier_claims_need_the_tracking_record(reason: Reason) -> None:
    """DOMAIN.md reasons table: lost, delayed, not received — tracking record."""
    assert evaluate(_input(T.refund_only, reason)).decision == "needs_evidence"
    ok = evaluate(_input(T.refund_only, reason, evidence=frozenset({EvidenceKind.tracking_record})))
    assert ok.decision == "approve"


def test_no_reason_and_other_need_no_evidence() -> None:
    """DOMAIN.md reasons table: no_reason — none; other — decided by an agent."""
    assert "evidence_required" not in _codes(evaluate(_input(reason=R.no_reason)))
    assert evaluate(_input(reason=R.other)).decision == "approve"


def test_merchant_may_waive_evidence() -> None:
    """DOMAIN.md Policy: the merchant's policy is data, per shop."""
    rec = evaluate(_input(reason=R.quality_issue, policy=MerchantPolicy(require_evidence=False)))
    assert rec.decision == "approve"


def test_every_decision_says_why_in_both_languages() -> None:
    """DOMAIN.md Policy: a recommendation comes with every rule that fired and why."""
    rec = evaluate(_input(reason=R.other, order=make_order()))
    assert rec.rules and all(h.zh and h.en for h in rec.rules)
    assert rec.rules[0].to_dict()["explanation"] == f"{rec.rules[0].zh} / {rec.rules[0].en}"


# --- Taobao cannot_refuse -----------------------------------------------------------------

def test_taobao_seven_day_return_turns_a_reject_into_approve() -> None:
    """PLATFORMS.md Taobao: refusing 7-day no-reason refunds is not allowed (cannot_refuse):
    a rejection the merchant's rules would make becomes an approval, and says why."""
    policy = MerchantPolicy(excluded_categories=frozenset())
    bad = _inspected(condition=Condition.used)
    plain = evaluate(_input(inspection=bad, policy=policy))
    assert plain.decision == "reject"
    rec = evaluate(_input(inspection=bad, policy=policy, profile=taobao_like()))
    assert rec.decision == "approve" and "cannot_refuse" in _codes(rec)


def test_taobao_online_game_refund_cannot_be_refused() -> None:
    """PLATFORMS.md Taobao: refusing online-game refunds is not allowed."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category="online_game")])
    rec = evaluate(_input(order=order, profile=taobao_like(), now=CLOSES + d(5)))
    assert "no_reason_window_passed" in _codes(rec) and "cannot_refuse" in _codes(rec)
    assert rec.decision == "approve"


def test_taobao_unshipped_refund_cannot_be_refused() -> None:
    """PLATFORMS.md Taobao: refusing unshipped refunds is not allowed; a pre-shipment refund is
    answered by shipping or refunding (Douyin: refused only by shipping)."""
    rec = evaluate(_input(T.refund_only, R.other, order=make_order(), profile=taobao_like()))
    assert "cannot_refuse" in _codes(rec) and rec.decision == "approve"


def test_taobao_guard_rail_does_not_cover_excluded_goods_or_a_closed_window() -> None:
    """PLATFORMS.md Taobao / Chinese law: the 7-day guarantee is for goods the law does not
    exclude, within the window."""
    order = delivered_order(delivered_at=SIGNED, lines=[make_line(category="custom_made")])
    assert evaluate(_input(order=order, profile=taobao_like())).decision == "reject"
    assert evaluate(_input(profile=taobao_like(), now=CLOSES)).decision == "reject"


def test_guard_rail_only_at_the_request_stage() -> None:
    """policy.py: the guard rail turns a rejection *at the request stage* into an approval —
    at inspection, a used item can still be refused."""
    rec = evaluate(_input(profile=taobao_like(), state=State.inspecting,
                          inspection=_inspected(condition=Condition.used)))
    assert rec.decision == "reject" and "cannot_refuse" not in _codes(rec)


def test_taobao_reject_action_raises_cannot_refuse() -> None:
    """PLATFORMS.md Taobao: refusing 7-day no-reason refunds is not allowed (api)."""
    case, ctx = setup(T.return_refund, R.no_reason, profile=taobao_like())
    with pytest.raises(RuleRefused) as err:
        case.act("reject", AGENT, T0 + h(1), ctx, ActionRequest(reason_code="x", explanation="y"))
    assert err.value.code == "cannot_refuse"


# --- hard refusals (check_request) --------------------------------------------------------

def _check(p: PolicyInput, *, prior_lines: tuple[str, ...] = (), prior_per_sku: dict[str, int] | None = None,
           refundable: int = 10000) -> None:
    check_request(p, prior_lines=prior_lines, prior_per_sku=prior_per_sku or {},
                  refundable=cny(refundable))


def test_taobao_after_sales_window_closes_fifteen_days_after_trade_success() -> None:
    """PLATFORMS.md Taobao: after-sales window after trade success (交易成功) 15 d; requests
    after it are refused (after_sales_window_closed)."""
    done = datetime.fromisoformat("2026-03-01T04:00:00+00:00")  # 12:00 on 1 March, Shanghai
    closes = datetime.fromisoformat("2026-03-16T16:00:00+00:00")  # 00:00 on 17 March, Shanghai
    order = delivered_order(delivered_at=SIGNED, completed_at=done)
    _check(_input(reason=R.quality_issue, order=order, profile=taobao_like(), now=closes - h(1)))
    with pytest.raises(RuleRefused) as err:
        _check(_input(reason=R.quality_issue, order=order, profile=taobao_like(), now=closes))
    assert err.value.code == "after_sales_window_closed"
    _check(_input(reason=R.quality_issue, order=order, profile=make_profile(), now=closes + d(30)))


def test_taobao_once_per_order_line() -> None:
    """PLATFORMS.md Taobao: after-sales entry per order line once; a second request is refused
    (after_sales_already_used)."""
    with pytest.raises(RuleRefused) as err:
        _check(_input(profile=taobao_like()), prior_lines=("L1",))
    assert err.value.code == "after_sales_already_used"
    _check(_input(profile=taobao_like()), prior_lines=("L9",))
    _check(_input(profile=make_profile()), prior_lines=("L1",))


def test_a_cancelled_case_uses_the_entry_only_when_applied_after_trade_success() -> None:
    """Taobao customer-service guide: after 交易成功 "一旦售後成功、失敗、撤消之後無法再次申請";
    a refund the buyer cancelled before trade success leaves the entry unused."""
    done = SIGNED + d(2)
    order = delivered_order(delivered_at=SIGNED, completed_at=done)
    rules = {"once_per_line": True, "once_per_line_counts_cancelled": "after_trade_success"}
    p = _input(reason=R.quality_issue, order=order, profile=make_profile(rules=rules), now=done + d(3))
    check_request(p, prior_lines=(), prior_per_sku={}, refundable=cny(10000),
                  cancelled=[("L1", done - h(1))])
    with pytest.raises(RuleRefused) as err:
        check_request(p, prior_lines=(), prior_per_sku={}, refundable=cny(10000),
                      cancelled=[("L1", done + h(1))])
    assert err.value.code == "after_sales_already_used"
    never = _input(reason=R.quality_issue, order=order, profile=make_profile(
        rules={"once_per_line": True}), now=done + d(3))
    check_request(never, prior_lines=(), prior_per_sku={}, refundable=cny(10000),
                  cancelled=[("L1", done + h(1))])


def test_once_per_line_counts_cancelled_takes_one_of_its_words() -> None:
    with pytest.raises(ProfileError, match="once_per_line_counts_cancelled"):
        make_profile(rules={"once_per_line_counts_cancelled": "sometimes"})


def test_wechat_at_most_five_per_sku() -> None:
    """PLATFORMS.md WeChat shop: at most 5 after-sales per SKU."""
    profile = make_profile("wechat_shop", rules={"max_cases_per_sku": 5})
    _check(_input(profile=profile), prior_per_sku={"SKU-L1": 4})
    with pytest.raises(RuleRefused) as err:
        _check(_input(profile=profile), prior_per_sku={"SKU-L1": 5})
    assert err.value.code == "after_sales_limit_reached"


def test_request_above_the_refundable_is_refused() -> None:
    """DOMAIN.md Money rules / API.md POST /cases: amount_exceeds_refundable."""
    _check(_input(requested=10000), refundable=10000)
    with pytest.raises(RuleRefused) as err:
        _check(_input(requested=10001), refundable=10000)
    assert err.value.code == "amount_exceeds_refundable"


@pytest.mark.parametrize("quantity", [0, 2, -1])
def test_request_for_more_units_than_bought_is_invalid(quantity: int) -> None:
    """DOMAIN.md case: it names the lines and quantities it concerns — within the order."""
    p = _input()
    p = PolicyInput(**{**{f: getattr(p, f) for f in p.__dataclass_fields__}, "lines": (("L1", quantity),)})
    with pytest.raises(InvalidInput) as err:
        _check(p)
    assert err.value.code == "invalid_quantity"


def test_unknown_line_is_invalid() -> None:
    """DOMAIN.md Orders: a case names lines of its order."""
    p = _input()
    p = PolicyInput(**{**{f: getattr(p, f) for f in p.__dataclass_fields__}, "lines": (("L9", 1),)})
    with pytest.raises(InvalidInput) as err:
        _check(p)
    assert err.value.code == "unknown_line"


# --- escalation windows and resubmission --------------------------------------------------

def test_aliexpress_dispute_window() -> None:
    """PLATFORMS.md AliExpress: the buyer may open a dispute from day 11 after shipment to 15 d
    after delivery."""
    shipped = datetime.fromisoformat("2026-03-01T04:00:00+00:00")  # 1 March, Shanghai
    delivered = datetime.fromisoformat("2026-03-20T04:00:00+00:00")  # 20 March
    order = make_order(shipped_at=shipped, delivered_at=delivered)
    case, ctx = setup(T.return_refund, order=order, profile=aliexpress_like())
    day_11 = datetime.fromisoformat("2026-03-11T16:00:00+00:00")  # 00:00 on 12 March
    assert escalation_blocker(case, ctx, day_11 - h(1))[0] == "dispute_window_not_open"  # type: ignore[index]
    assert escalation_blocker(case, ctx, day_11) is None
    end = datetime.fromisoformat("2026-04-04T16:00:00+00:00")  # 00:00 on 5 April: 15 days after the 20th
    assert escalation_blocker(case, ctx, end - h(1)) is None
    assert escalation_blocker(case, ctx, end)[0] == "dispute_window_closed"  # type: ignore[index]


def test_escalation_not_allowed_is_a_rule_refusal() -> None:
    """PLATFORMS.md Own web store: the merchant's policy alone decides."""
    profile = make_profile(rules={"escalation_allowed": False})
    case, ctx = setup(T.return_refund, profile=profile)
    walk(case, ctx, "reject")
    with pytest.raises(RuleRefused) as err:
        case.act("escalate", BUYER, T0 + h(5), ctx, ActionRequest(statement="help"))
    assert err.value.code == "escalation_not_allowed"


def test_kuaishou_resubmission_is_noted_on_the_recommendation() -> None:
    """PLATFORMS.md Kuaishou: after a rejection the buyer may edit and resubmit — the agent
    sees it is a resubmission."""
    rec = evaluate(_input(resubmissions=2))
    assert "resubmitted" in _codes(rec)


# --- merchant auto-approval and counter-offers --------------------------------------------

RULE_30 = AutoApproveRule(max_amount=3000, max_buyer_cases=2)


@pytest.mark.parametrize(("kw", "auto"), [
    ({"requested": 2999}, True),
    ({"requested": 3000}, True),
    ({"requested": 3001}, False),
    ({"requested": 2000, "buyer_abuse": True}, False),
    ({"requested": 2000, "buyer_cases": 2}, True),
    ({"requested": 2000, "buyer_cases": 3}, False),
])
def test_auto_approval_under_thirty_yuan_for_a_clean_buyer(kw: dict[str, Any], auto: bool) -> None:
    """DOMAIN.md Policy: auto-approval rules the merchant sets (e.g. refund-only under ¥30 from a
    buyer with no history of abuse is approved at once)."""
    policy = MerchantPolicy(auto_approve=(RULE_30,))
    rec = evaluate(_input(T.refund_only, R.other, policy=policy, order=make_order(), **kw))
    assert rec.auto_approve is auto
    assert ("auto_approval_rule" in _codes(rec)) is auto


def test_auto_approval_by_type_and_reason() -> None:
    """DOMAIN.md Policy: auto-approval rules are the merchant's data — types and reasons."""
    rule = AutoApproveRule(max_amount=5000, reasons=frozenset({R.not_received}))
    policy = MerchantPolicy(auto_approve=(rule,), require_evidence=False)
    ok = evaluate(_input(T.refund_only, R.not_received, policy=policy, requested=100))
    assert ok.auto_approve
    assert not evaluate(_input(T.refund_only, R.other, policy=policy, requested=100)).auto_approve
    assert not evaluate(_input(T.return_refund, R.not_received, policy=policy, requested=100)).auto_approve


def test_auto_approval_never_overrides_a_rejection() -> None:
    """DOMAIN.md Policy: auto-approval approves at once only when nothing objects."""
    policy = MerchantPolicy(auto_approve=(AutoApproveRule(max_amount=3000, types=frozenset(T)),))
    rec = evaluate(_input(policy=policy, requested=100, now=CLOSES + d(1)))
    assert rec.decision == "reject" and not rec.auto_approve


def test_counter_offer_suggested_for_quality_claims() -> None:
    """DOMAIN.md Policy: counter_offer — a partial refund (部分退款) instead, at the merchant's
    percentage."""
    policy = MerchantPolicy(counter_offer_percent=30)
    rec = evaluate(_input(T.refund_only, R.quality_issue, policy=policy, requested=9999,
                          evidence=frozenset({EvidenceKind.photo})))
    assert rec.decision == "counter_offer" and rec.suggested_amount == cny(2999)


def test_strength_order_of_decisions() -> None:
    """policy.py: reject > needs_evidence > needs_inspection > counter_offer > approve."""
    rec = evaluate(_input(reason=R.quality_issue, inspection=_inspected(sku_matches=False)))
    assert {"evidence_required", "not_our_product"} <= _codes(rec) and rec.decision == "reject"


# --- MerchantPolicy as data ---------------------------------------------------------------

def test_merchant_policy_round_trips() -> None:
    """DOMAIN.md Policy: the merchant's policy is data, per shop."""
    policy = MerchantPolicy(
        no_reason_days=10, excluded_categories=frozenset({"underwear", "swimwear"}),
        require_evidence=False, buyer_pays_no_reason_freight=False, return_freight_cap=1500,
        auto_approve=(RULE_30, AutoApproveRule(max_amount=100, types=frozenset({T.compensation}),
                                               reasons=frozenset({R.other, R.no_reason}),
                                               no_abuse=False)),
        counter_offer_percent=20, extra={"note": "x"})
    data = policy.to_dict()
    assert data["excluded_categories"] == ["swimwear", "underwear"]
    assert MerchantPolicy.from_dict(data) == policy
    assert MerchantPolicy.from_dict(None) == MerchantPolicy() == MerchantPolicy.from_dict({})
    assert MerchantPolicy.from_dict(MerchantPolicy().to_dict()) == MerchantPolicy()


@pytest.mark.parametrize("data", [
    {"auto_approve": [{}]},
    {"auto_approve": [{"max_amount": "lots"}]},
    {"auto_approve": [{"max_amount": 100, "types": ["barter"]}]},
    {"auto_approve": [{"max_amount": 100, "reasons": ["whim"]}]},
])
def test_invalid_merchant_policy(data: dict[str, Any]) -> None:
    """DOMAIN.md Policy: policy is data — bad data is an InvalidInput, never a crash."""
    with pytest.raises(InvalidInput) as err:
        MerchantPolicy.from_dict(data)
    assert err.value.code == "invalid_policy"


@pytest.mark.parametrize("data", [
    {"auto_approve": [{"max_amount": 29.99}]},
    {"auto_approve": [{"max_amount": True}]},
    {"auto_approve": [{"max_amount": -1}]},
    {"auto_approve": [{"max_amount": 100, "max_buyer_cases": 1.5}]},
    {"return_freight_cap": 12.5},
    {"return_freight_cap": "2000"},
    {"no_reason_days": "seven"},
    {"counter_offer_percent": 0.3},
])
def test_money_and_counts_in_a_policy_are_never_floats(data: dict[str, Any]) -> None:
    """DOMAIN.md Orders: money is an integer number of minor units, never floats — a policy
    amount of 29.99 is refused, not truncated to 29 fen."""
    with pytest.raises(InvalidInput) as err:
        MerchantPolicy.from_dict(data)
    assert err.value.code == "invalid_policy"
    assert Money(RULE_30.max_amount, "CNY") == cny(3000)
