"""The platform profiles as data: they load, every value is sourced, and each row of
PLATFORMS.md is in its profile with the duration, outcome and confidence it gives.

One test per PLATFORMS.md row, its docstring quoting the row, so a failing test says
which rule of which platform drifted from the spec.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from itertools import combinations
from pathlib import Path

import pytest

from aftersales.adapters.profiles import PLATFORMS, load_all, load_profile, load_profile_file
from aftersales.domain.errors import ProfileError
from aftersales.domain.profile import CONFIDENCES, DeadlineRule, Profile
from aftersales.domain.transitions import OUTCOME_ACTIONS, TABLE, candidates
from aftersales.domain.vocabulary import CaseType, Responsibility, Role, State

TAOBAO_TMALL = ("taobao", "tmall")
CHINA = tuple(p for p in PLATFORMS if p != "aliexpress")


def deadline(platform: str, code: str) -> DeadlineRule:
    found = [d for d in load_profile(platform).deadlines if d.rule == code]
    assert len(found) == 1, f"{platform}: expected one deadline rule {code!r}"
    return found[0]


def check(rule: DeadlineRule, *, state: str, duration: timedelta, outcome: str,
          confidence: str, types: set[str] | None = None, when: dict[str, bool] | None = None
          ) -> None:
    assert rule.state == State(state)
    assert rule.duration == duration
    assert rule.outcome == outcome
    assert rule.confidence == confidence
    assert rule.types == frozenset(CaseType(t) for t in (types or CaseType))
    assert dict(rule.when) == (when or {})


def rule(platform: str, name: str) -> tuple[object, str, str]:
    found = load_profile(platform).rules.get(name)
    assert found is not None, f"{platform}: no rule {name!r}"
    return found.value, found.confidence, found.source


# --- loading -------------------------------------------------------------------------------

def test_all_nine_platforms_load() -> None:
    profiles = load_all()
    assert tuple(profiles) == PLATFORMS
    assert len(PLATFORMS) == 9
    for pid, profile in profiles.items():
        assert profile.id == pid
        assert profile.version == "2026-11-21"
        assert profile.deadlines, f"{pid}: no deadlines"


def test_profiles_are_cached() -> None:
    assert load_profile("taobao") is load_profile("taobao")


def test_unknown_platform_names_the_known_ones() -> None:
    with pytest.raises(ProfileError) as err:
        load_profile("jd")
    assert err.value.code == "unknown_platform"
    assert "jd" in err.value.message
    assert all(p in err.value.message for p in PLATFORMS)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_deadline_and_rule_is_sourced(platform: str) -> None:
    profile = load_profile(platform)
    for d in profile.deadlines:
        assert d.source.strip(), d.rule
        assert d.confidence in CONFIDENCES, d.rule
        assert d.explanation_zh.strip() and d.explanation_en.strip(), d.rule
        assert d.rule.startswith(f"{platform}."), d.rule
    for name, value in profile.rules.items():
        assert value.source.strip(), name
        assert value.confidence in CONFIDENCES, name


@pytest.mark.parametrize("platform", PLATFORMS)
def test_freight_covers_every_responsibility(platform: str) -> None:
    assert set(load_profile(platform).freight) == set(Responsibility)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_status_map_is_not_empty(platform: str) -> None:
    assert load_profile(platform).status_map


# --- properties of the data ----------------------------------------------------------------

def overlaps(a: DeadlineRule, b: DeadlineRule) -> bool:
    """Two rules could apply to one case at once: same state, a shared case type, and no
    fact they require with opposite values."""
    compatible = all(b.when[k] == v for k, v in a.when.items() if k in b.when)
    return a.state == b.state and bool(a.types & b.types) and compatible


def test_overlap_check_itself() -> None:
    review = deadline("kuaishou", "kuaishou.merchant_review")
    refused = deadline("kuaishou", "kuaishou.refused_delivery_refund")
    assert not overlaps(review, refused)
    assert overlaps(review, review)
    unconditioned = DeadlineRule(**{**{f: getattr(refused, f) for f in refused.__slots__},
                                    "when": {}})
    assert overlaps(review, unconditioned)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_two_deadline_rules_overlap(platform: str) -> None:
    """DOMAIN.md: each non-terminal state carries one deadline; two matching rules would
    make the outcome depend on their order."""
    clashes = [(a.rule, b.rule) for a, b in combinations(load_profile(platform).deadlines, 2)
               if a.fallback == b.fallback and overlaps(a, b)]
    assert clashes == []


MERCHANT_ACTS = (State.requested, State.return_in_transit, State.awaiting_reshipment)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_state_where_the_merchant_must_act_has_a_deadline(platform: str) -> None:
    """DOMAIN.md: no request ever times out unnoticed — in every state where the merchant
    must act, every case type that can be there has a deadline (a platform rule, else the
    internal target of profiles/internal_targets.toml), whatever the order's facts."""
    profile = load_profile(platform)
    facts_list = [{"order_shipped": shipped, "order_delivered": delivered,
                   "buyer_refused_delivery": refused, "offer_pending": offer}
                  for shipped in (False, True) for delivered in (False, True)
                  for refused in (False, True) for offer in (False, True)
                  if shipped or not delivered]
    missing = [
        (state.value, case_type.value, facts)
        for case_type in CaseType for state in MERCHANT_ACTS
        if state in _reachable_states(case_type)
        for facts in facts_list
        if not any(case_type in r.types and all(facts[k] == v for k, v in r.when.items())
                   for r in profile.deadline_rules(state))
    ]
    assert missing == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_internal_targets_only_flag_and_only_fill_gaps(platform: str) -> None:
    """profiles/internal_targets.toml never decides for the merchant (flag_overdue only), and
    a platform rule for the same state and case type always wins over it."""
    from aftersales.domain.deadlines import matching_rules

    from .factories import make_case, make_order

    profile = load_profile(platform)
    fallbacks = [r for r in profile.deadlines if r.fallback]
    assert fallbacks and all(r.outcome.value == "flag_overdue" for r in fallbacks)
    for case_type in CaseType:
        case = make_case(case_type, order=make_order(), profile=profile)
        rules = matching_rules(case, make_order(), profile)
        assert not (any(r.fallback for r in rules) and any(not r.fallback for r in rules))


def _reachable_states(case_type: CaseType) -> set[State]:
    seen, todo = {State.requested}, deque([State.requested])
    while todo:
        state = todo.popleft()
        for t in TABLE:
            if t.source == state and case_type in t.types and t.target not in seen:
                seen.add(t.target)
                todo.append(t.target)
    return seen


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_deadline_outcome_is_a_move_the_state_machine_allows(platform: str) -> None:
    for d in load_profile(platform).deadlines:
        assert d.state not in (State.completed, State.closed), d.rule
        action = OUTCOME_ACTIONS[d.outcome]
        for case_type in d.types:
            if d.state in _reachable_states(case_type):
                rows = candidates(d.state, action, case_type, None)
                assert any(Role.system in t.roles for t in rows), (d.rule, case_type)


# --- Taobao / Tmall ------------------------------------------------------------------------

@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_unshipped_refund_only(platform: str) -> None:
    """| refund-only, not yet shipped | 24 h | `auto_refund` | secondary |"""
    check(deadline(platform, f"{platform}.unshipped_refund_only"), state="requested",
          duration=timedelta(hours=24), outcome="auto_refund", confidence="secondary",
          types={"refund_only"}, when={"order_shipped": False})


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_shipped_refund_only(platform: str) -> None:
    """| refund-only, shipped, not received | 36 h | `auto_approve` at the amount applied | secondary |"""
    check(deadline(platform, f"{platform}.shipped_refund_only"), state="requested",
          duration=timedelta(hours=36), outcome="auto_approve", confidence="secondary",
          types={"refund_only"}, when={"order_shipped": True, "order_delivered": False})


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_return_request_review(platform: str) -> None:
    """| return-refund request awaiting seller | 5 d | `auto_approve` | unconfirmed |

    Exchange requests share the row: an exchange also sends goods back first, and without
    it an exchange request on Taobao would wait with no deadline at all."""
    check(deadline(platform, f"{platform}.return_request_review"), state="requested",
          duration=timedelta(days=5), outcome="auto_approve", confidence="unconfirmed",
          types={"return_refund", "exchange"})


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_requests_never_wait_without_a_deadline(platform: str) -> None:
    """DOMAIN.md: no request ever times out unnoticed — every case type in `requested`
    has a Taobao/Tmall deadline, whether the order shipped and was delivered or not."""
    from aftersales.adapters.profiles import load_profile

    profile = load_profile(platform)
    facts_list = [{"order_shipped": False, "order_delivered": False},
                  {"order_shipped": True, "order_delivered": False},
                  {"order_shipped": True, "order_delivered": True}]
    for case_type in CaseType:
        for facts in facts_list:
            full = {**facts, "buyer_refused_delivery": False, "offer_pending": False}
            matching = [r for r in profile.deadline_rules(State.requested)
                        if case_type in r.types and all(full[k] == v for k, v in r.when.items())]
            assert matching, (case_type, facts)


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_buyer_ships_return(platform: str) -> None:
    """| buyer must ship the return and fill the waybill | 7 d | `auto_close` | unconfirmed |"""
    check(deadline(platform, f"{platform}.buyer_ship_return"), state="awaiting_return",
          duration=timedelta(days=7), outcome="auto_close", confidence="unconfirmed")


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_seller_confirms_receipt(platform: str) -> None:
    """| seller must confirm receipt of the return | 10 d | `auto_confirm_receipt` | unconfirmed |"""
    check(deadline(platform, f"{platform}.seller_confirm_receipt"), state="return_in_transit",
          duration=timedelta(days=10), outcome="auto_confirm_receipt", confidence="unconfirmed")


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_after_rejection(platform: str) -> None:
    """| after the seller rejects, buyer may revise or ask 小二 to intervene | 5 d |
    `auto_close` | secondary |"""
    check(deadline(platform, f"{platform}.after_rejection"), state="rejected",
          duration=timedelta(days=5), outcome="auto_close", confidence="secondary")
    assert rule(platform, "resubmission_allowed")[:2] == (True, "secondary")
    assert rule(platform, "escalation_allowed")[:2] == (True, "secondary")


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_after_sales_window(platform: str) -> None:
    """| after-sales window after trade success (交易成功) | 15 d | requests after it are
    refused (`after_sales_window_closed`) | unconfirmed |"""
    assert rule(platform, "after_sales_window_days_after_completion")[:2] == (15, "unconfirmed")


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_once_per_line(platform: str) -> None:
    """| after-sales entry per order line | once | a second request is refused | unconfirmed |"""
    assert rule(platform, "once_per_line")[:2] == (True, "unconfirmed")


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_cannot_refuse(platform: str) -> None:
    """| refusing unshipped, 7-day no-reason or online-game refunds | — | not allowed | api |"""
    assert rule(platform, "cannot_refuse")[:2] == (["unshipped", "no_reason", "online_game"], "api")


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_freight(platform: str) -> None:
    """Freight (official, Taobao dispute rules 2025): unclear fault → outbound freight seller,
    return freight buyer; 7-day return → buyer pays the return freight."""
    freight = load_profile(platform).freight
    for unclear in (Responsibility.tracking, Responsibility.proof, Responsibility.agent):
        assert (freight[unclear].outbound_refunded, freight[unclear].return_paid_by) == (True, "buyer")
    assert (freight[Responsibility.buyer].outbound_refunded,
            freight[Responsibility.buyer].return_paid_by) == (False, "buyer")
    for fault in (Responsibility.merchant, Responsibility.carrier):
        assert (freight[fault].outbound_refunded, freight[fault].return_paid_by) == (True, "merchant")
    assert rule(platform, "freight_basis")[1] == "official"


@pytest.mark.parametrize("platform", TAOBAO_TMALL)
def test_taobao_status_mapping(platform: str) -> None:
    """Status mapping (api): WAIT_SELLER_AGREE→requested … SUCCESS→completed; cs_status 2–5 →
    disputed. Amounts arrive as yuan strings."""
    status = load_profile(platform).status_map
    assert status["WAIT_SELLER_AGREE"] == "requested"
    assert status["WAIT_BUYER_RETURN_GOODS"] == "awaiting_return"
    assert status["WAIT_SELLER_CONFIRM_GOODS"] == "return_in_transit"
    assert status["SELLER_REFUSE_BUYER"] == "rejected"
    assert status["WAIT_SELLER_CONSIGN_GOODS"] == "awaiting_reshipment"
    assert status["CLOSED"] == "closed"
    assert status["SUCCESS"] == "completed"
    assert all(status[f"cs_status={n}"] == "disputed" for n in range(2, 6))
    assert rule(platform, "amount_unit")[:2] == ("yuan_string", "api")


# --- Kuaishou ------------------------------------------------------------------------------

def test_kuaishou_merchant_review() -> None:
    """| merchant review (refund-only and return-refund) | 48 h | `auto_approve` | secondary |"""
    check(deadline("kuaishou", "kuaishou.merchant_review"), state="requested",
          duration=timedelta(hours=48), outcome="auto_approve", confidence="secondary",
          types={"refund_only", "return_refund"}, when={"buyer_refused_delivery": False})


def test_kuaishou_buyer_ships_return() -> None:
    """| buyer ships and uploads waybill | 10 d after approval | `auto_close` | secondary |"""
    check(deadline("kuaishou", "kuaishou.buyer_ship_return"), state="awaiting_return",
          duration=timedelta(days=10), outcome="auto_close", confidence="secondary")


def test_kuaishou_receipt_conflict_resolves_to_the_earlier_seven_days() -> None:
    """| merchant confirms receipt after waybill upload | 7 d (a merchant guide says 10 d) |
    `auto_confirm_receipt` | conflict → 7 d |"""
    receipt = deadline("kuaishou", "kuaishou.merchant_confirm_receipt")
    check(receipt, state="return_in_transit", duration=timedelta(days=7),
          outcome="auto_confirm_receipt", confidence="secondary")
    assert receipt.conflict is not None
    assert "merchant guide" in receipt.conflict
    assert str(timedelta(days=10)) in receipt.conflict


def test_kuaishou_reissue_with_waybill() -> None:
    """| missing-item reissue with waybill | 24 h | `flag_overdue` (treated as late
    shipment) | unconfirmed |"""
    check(deadline("kuaishou", "kuaishou.reissue_ship"), state="awaiting_reshipment",
          duration=timedelta(hours=24), outcome="flag_overdue", confidence="unconfirmed",
          types={"reissue"})


def test_kuaishou_refund_after_refused_delivery() -> None:
    """| refund after the buyer refused delivery | 5 d | `auto_refund` | secondary |"""
    check(deadline("kuaishou", "kuaishou.refused_delivery_refund"), state="requested",
          duration=timedelta(days=5), outcome="auto_refund", confidence="secondary",
          types={"refund_only", "return_refund"}, when={"buyer_refused_delivery": True})


def test_kuaishou_resubmission_and_speed_refunds() -> None:
    """After a rejection the buyer may edit and resubmit (`negotiateStatus` 3) … 闪电退货 …
    order ≤ ¥1,000; unshipped speed refund < ¥300. Amounts in fen."""
    assert rule("kuaishou", "resubmission_allowed")[:2] == (True, "api")
    assert load_profile("kuaishou").status_map["negotiateStatus=3"] == "rejected"
    assert rule("kuaishou", "speed_refund_return_order_max_fen")[0] == 100000
    assert rule("kuaishou", "speed_refund_unshipped_below_fen")[0] == 30000
    assert rule("kuaishou", "amount_unit")[:2] == ("fen", "api")


def test_kuaishou_status_mapping() -> None:
    """Status mapping (api): 10/11→requested, 20–23→disputed, 30→awaiting_return,
    40→return_in_transit, 45→awaiting_reshipment, 50→refunding, 60→completed, 70→refunding."""
    expected = {"10": "requested", "11": "requested", "20": "disputed", "21": "disputed",
                "22": "disputed", "23": "disputed", "30": "awaiting_return",
                "40": "return_in_transit", "45": "awaiting_reshipment", "50": "refunding",
                "60": "completed", "70": "refunding"}
    status = load_profile("kuaishou").status_map
    assert {k: status[k] for k in expected} == expected


# --- Douyin --------------------------------------------------------------------------------

def test_douyin_unshipped_refund_fallback() -> None:
    """Every case carries `status_deadline` from the platform (api); fallback: unshipped
    refund 48 h → `auto_refund` (secondary)."""
    check(deadline("douyin", "douyin.unshipped_refund_fallback"), state="requested",
          duration=timedelta(hours=48), outcome="auto_refund", confidence="secondary",
          types={"refund_only"}, when={"order_shipped": False})
    assert rule("douyin", "platform_sends_deadline")[:2] == (True, "api")


def test_douyin_status_mapping() -> None:
    """Statuses (api): 6→requested, 7→awaiting_return, 8→awaiting_reshipment,
    11→return_in_transit, 12/14→completed, 13→awaiting_reshipment, 27/29→rejected,
    28→closed; `arbitrate_status` 1/4/5→disputed. 3 (List only) → awaiting_reshipment,
    51/53 (Detail only) → completed (research A §2.2). Amounts in fen."""
    expected = {"3": "awaiting_reshipment", "51": "completed", "53": "completed",
                "6": "requested", "7": "awaiting_return", "8": "awaiting_reshipment",
                "11": "return_in_transit", "12": "completed", "14": "completed",
                "13": "awaiting_reshipment", "27": "rejected", "29": "rejected", "28": "closed",
                "arbitrate_status=1": "disputed", "arbitrate_status=4": "disputed",
                "arbitrate_status=5": "disputed"}
    assert dict(load_profile("douyin").status_map) == expected
    assert rule("douyin", "amount_unit")[0] == "fen"


# --- Pinduoduo -----------------------------------------------------------------------------

def test_pinduoduo_fallback() -> None:
    """`expire_time` from the platform (api) while the merchant must act; fallback 48 h →
    `auto_approve` (unconfirmed)."""
    check(deadline("pinduoduo", "pinduoduo.merchant_action_fallback"), state="requested",
          duration=timedelta(hours=48), outcome="auto_approve", confidence="unconfirmed")
    assert rule("pinduoduo", "platform_sends_deadline")[:2] == (True, "api")


def test_pinduoduo_speed_refunds_arrive_as_refund_succeeded() -> None:
    """Speed refunds skip the pending states: a sync must also pull status 10 (refund
    succeeded)."""
    assert load_profile("pinduoduo").status_map["10"] == "completed"
    assert rule("pinduoduo", "speed_refund_skips_pending")[0] is True


# --- AliExpress ----------------------------------------------------------------------------

def test_aliexpress_seller_response() -> None:
    """| seller responds to a refund request / dispute | 5 d | `auto_refund` at the
    buyer's requested amount | secondary |"""
    check(deadline("aliexpress", "aliexpress.seller_response"), state="requested",
          duration=timedelta(days=5), outcome="auto_refund", confidence="secondary")


def test_aliexpress_buyer_ships_return() -> None:
    """| buyer ships the return | 10 d after agreement | `pay_seller` | secondary |"""
    check(deadline("aliexpress", "aliexpress.buyer_ship_return"), state="awaiting_return",
          duration=timedelta(days=10), outcome="pay_seller", confidence="secondary")


def test_aliexpress_seller_confirms_receipt() -> None:
    """| seller confirms receipt of the return (or gives up the goods) | 30 d |
    `auto_confirm_receipt` | unconfirmed |"""
    check(deadline("aliexpress", "aliexpress.seller_confirm_receipt"), state="return_in_transit",
          duration=timedelta(days=30), outcome="auto_confirm_receipt", confidence="unconfirmed")


def test_aliexpress_dispute_window() -> None:
    """| buyer may open a dispute | from day 11 after shipment to 15 d after delivery | — | secondary |"""
    assert rule("aliexpress", "dispute_window_from_days_after_shipment")[:2] == (11, "secondary")
    assert rule("aliexpress", "dispute_window_to_days_after_delivery")[:2] == (15, "secondary")


def test_aliexpress_chargeback() -> None:
    """| chargeback | up to 180 d (some card schemes 540 d) | case reopened as a chargeback | official |"""
    value, confidence, source = rule("aliexpress", "chargeback_days")
    assert (value, confidence) == (180, "official")
    assert "540" in source


def test_aliexpress_is_cross_border() -> None:
    """Amounts come in the local currency and in USD; the 7-day law covers platforms
    selling in China only."""
    profile = load_profile("aliexpress")
    assert {"USD", "CNY"} <= set(profile.currencies)
    assert rule("aliexpress", "cn_no_reason_law")[0] is False
    assert rule("aliexpress", "amount_unit")[0] == "decimal"
    assert not any(d.anchor == "received" for d in profile.deadlines)


# --- 1688 dropshipping ---------------------------------------------------------------------

def test_1688_upstream_claim() -> None:
    """`createRefund`: amount ≤ paid, 2–150 character description, 1–5 evidence images;
    reported: 1688 no longer offers refund-only."""
    value, confidence, _ = rule("alibaba_1688", "upstream_claim")
    assert confidence == "api"
    assert isinstance(value, dict)
    assert (value["description_min_chars"], value["description_max_chars"]) == (2, 150)
    assert (value["evidence_images_min"], value["evidence_images_max"]) == (1, 5)
    assert value["amount_max"] == "paid"
    assert rule("alibaba_1688", "refund_only_available")[:2] == (False, "unconfirmed")


def test_1688_deadlines_are_internal_alerts_only() -> None:
    """PLATFORMS.md gives no 1688 timers: only internal flag_overdue targets, said so."""
    for d in load_profile("alibaba_1688").deadlines:
        assert d.outcome == "flag_overdue", d.rule
        assert "internal" in d.source.lower(), d.rule


# --- WeChat shop ---------------------------------------------------------------------------

def test_wechat_refund_review() -> None:
    """Merchant handles a refund 48 h (official timers)."""
    check(deadline("wechat_shop", "wechat_shop.merchant_refund_review"), state="requested",
          duration=timedelta(hours=48), outcome="auto_approve", confidence="official",
          types={"refund_only"})


def test_wechat_return_review() -> None:
    """… a return 48 h (official timers)."""
    check(deadline("wechat_shop", "wechat_shop.merchant_return_review"), state="requested",
          duration=timedelta(hours=48), outcome="auto_approve", confidence="official",
          types={"return_refund", "exchange"})


def test_wechat_buyer_uploads_waybill() -> None:
    """Buyer uploads the return waybill 7 d (official timers)."""
    check(deadline("wechat_shop", "wechat_shop.buyer_upload_waybill"), state="awaiting_return",
          duration=timedelta(days=7), outcome="auto_close", confidence="official")


def test_wechat_merchant_confirms_receipt() -> None:
    """Merchant confirms receipt 10 d (official timers)."""
    check(deadline("wechat_shop", "wechat_shop.merchant_confirm_receipt"),
          state="return_in_transit", duration=timedelta(days=10),
          outcome="auto_confirm_receipt", confidence="official")


def test_wechat_escalation_within_seven_days() -> None:
    """Buyer may ask for platform intervention within 7 d of a rejection (official)."""
    check(deadline("wechat_shop", "wechat_shop.escalation_window"), state="rejected",
          duration=timedelta(days=7), outcome="auto_close", confidence="official")
    assert rule("wechat_shop", "escalation_allowed")[0] is True


def test_wechat_five_per_sku() -> None:
    """At most 5 after-sales per SKU (official)."""
    assert rule("wechat_shop", "max_cases_per_sku")[:2] == (5, "official")


# --- own web store -------------------------------------------------------------------------

def test_own_store_first_response_target() -> None:
    """Internal service targets (first response 24 h …) raise alerts, never automatic outcomes."""
    check(deadline("own_store", "own_store.first_response"), state="requested",
          duration=timedelta(hours=24), outcome="flag_overdue", confidence="official")


def test_own_store_only_alerts_and_no_platform() -> None:
    """The merchant's policy alone decides: no automatic outcome, nobody to escalate to;
    the refund target is the law's 7 days after receiving the goods."""
    profile = load_profile("own_store")
    assert {d.outcome for d in profile.deadlines} == {"flag_overdue"}
    assert rule("own_store", "escalation_allowed")[0] is False
    assert rule("own_store", "refund_within_days_after_receipt")[0] == 7


# --- Chinese law: 7-day no-reason returns --------------------------------------------------

@pytest.mark.parametrize("platform", CHINA)
def test_law_seven_days_and_refund_alert(platform: str) -> None:
    """Chinese law (all platforms selling in China; official): 7 days from the day after
    signing; refund within 7 days of receiving the returned goods, alert at day 5."""
    assert rule(platform, "no_reason_days")[:2] == (7, "official")
    assert rule(platform, "cn_no_reason_law")[:2] == (True, "official")
    assert rule(platform, "refund_within_days_after_receipt")[:2] == (7, "official")
    assert rule(platform, "refund_alert_days_after_receipt")[0] == 5
    for state in ("inspecting", "refunding"):
        alert = deadline(platform, f"{platform}.law_refund_alert_{state}")
        check(alert, state=state, duration=timedelta(days=5), outcome="flag_overdue",
              confidence="official", types={"return_refund"})
        assert alert.anchor == "received"
        assert "第二十五条" in alert.source


def test_platform_sent_deadlines() -> None:
    """Principle 1: Taobao, Douyin, Pinduoduo and WeChat shops send their own deadline;
    AliExpress (timeout_trigger_time) and 1688 (gmtTimeOut) too, by research B §3.3/§4.5."""
    senders = {p for p in PLATFORMS if rule(p, "platform_sends_deadline")[0] is True}
    assert senders == {"taobao", "tmall", "douyin", "pinduoduo", "wechat_shop", "aliexpress",
                       "alibaba_1688"}


# --- malformed files -----------------------------------------------------------------------

GOOD = '''
[profile]
id = "{stem}"
version = "1"
name = "Draft"
currencies = ["CNY"]

[rules.no_reason_days]
value = 7
source = "law"
confidence = "official"

[[deadlines]]
rule = "draft.review"
state = "requested"
hours = 48
outcome = "auto_approve"
source = "guide"
confidence = "secondary"
zh = "审核"
en = "review"

[freight.buyer]
outbound_refunded = false
return_paid_by = "buyer"

[status_map]
"10" = "requested"
'''


def write(tmp_path: Path, text: str, stem: str = "draft") -> Path:
    path = tmp_path / f"{stem}.toml"
    path.write_text(text.replace("{stem}", stem), encoding="utf-8")
    return path


def test_a_good_draft_loads(tmp_path: Path) -> None:
    profile = load_profile_file(write(tmp_path, GOOD))
    assert isinstance(profile, Profile)
    assert profile.deadlines[0].duration == timedelta(hours=48)


def test_an_earlier_alternative_wins(tmp_path: Path) -> None:
    text = GOOD.replace('zh = "审核"', 'alternatives = [{hours = 24, source = "other guide", '
                        'confidence = "unconfirmed"}]\nzh = "审核"')
    d = load_profile_file(write(tmp_path, text)).deadlines[0]
    assert (d.duration, d.source, d.confidence) == (timedelta(hours=24), "other guide", "unconfirmed")
    assert d.conflict is not None and "guide (secondary)" in d.conflict


MALFORMED = {
    "missing source": ('source = "guide"\n', "", "deadlines[0]", "source"),
    "bad confidence": ('confidence = "secondary"', 'confidence = "rumour"',
                       "deadlines[0].confidence", "rumour"),
    "bad state": ('state = "requested"', 'state = "waiting"', "deadlines[0].state", "waiting"),
    "unknown outcome": ('outcome = "auto_approve"', 'outcome = "auto_win"',
                        "deadlines[0].outcome", "auto_win"),
    "two durations": ("hours = 48", "hours = 48\ndays = 2", "deadlines[0]", "exactly one"),
    "misspelt key": ("hours = 48", "hours = 48\nalternative = []", "deadlines[0]", "alternative"),
    "rule without source": ('source = "law"\n', "", "rules.no_reason_days", "source"),
    "bad freight payer": ('return_paid_by = "buyer"', 'return_paid_by = "carrier"',
                          "freight.buyer.return_paid_by", "merchant or buyer"),
    "freight not boolean": ("outbound_refunded = false", 'outbound_refunded = "no"',
                            "freight.buyer.outbound_refunded", "true or false"),
    "bad status state": ('"10" = "requested"', '"10" = "pending"', "status_map.10", "pending"),
    "unknown currency": ('currencies = ["CNY"]', 'currencies = ["XYZ"]', "profile.currencies",
                         "XYZ"),
    "not TOML": ('[profile]', '[profile', "not valid TOML", "line"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_file_names_file_and_key(tmp_path: Path, case: str) -> None:
    old, new, key, detail = MALFORMED[case]
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    message = err.value.message
    assert str(path) in message
    assert key in message
    assert detail in message


def test_duplicate_rule_codes_name_the_code(tmp_path: Path) -> None:
    block = GOOD[GOOD.index("[[deadlines]]"):GOOD.index("[freight.buyer]")]
    path = write(tmp_path, GOOD.replace(block, block + block.replace("requested", "rejected")))
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    assert str(path) in err.value.message
    assert "deadlines[1].rule" in err.value.message
    assert "draft.review" in err.value.message


def test_profile_id_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "kuaishou_draft.toml"
    path.write_text(GOOD.replace("{stem}", "other"), encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    assert str(path) in err.value.message and "profile.id" in err.value.message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    assert str(path) in err.value.message
