"""Evaluating a request against the platform's rules and the merchant's policy.

Each rule is a small function returning a `RuleHit` (code, effect, Chinese and English
explanation) or None; the recommendation is the strongest effect among the hits, and every
hit is shown to the agent, so a decision always says why. Order of strength:
reject > needs_evidence > needs_inspection > counter_offer > approve — except that a
platform guard rail (Taobao cannot refuse unshipped, 7-day or online-game refunds) turns a
rejection at the request stage into an approval.

Hard refusals — requests the platform itself would not accept — are raised by
`check_request` as RuleRefused (HTTP 422), before a case exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aftersales.domain.clock import window_end
from aftersales.domain.errors import InvalidInput, RuleRefused
from aftersales.domain.merchant_policy import (
    ELECTRONICS,
    LAW_EXCLUDED_CATEGORIES,
    SEALED_CATEGORIES,
    TAGGED_CATEGORIES,
    MerchantPolicy,
)
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.profile import Profile
from aftersales.domain.refunds import gift_deduction
from aftersales.domain.refunds import refundable as refundable_for
from aftersales.domain.vocabulary import (
    MONEY_BACK_TYPES,
    REASONS,
    RETURNING_TYPES,
    CaseType,
    Condition,
    EvidenceKind,
    Reason,
    State,
)

if TYPE_CHECKING:  # the guards pass them (guards.py); policy never imports case at run time
    from aftersales.domain.case import Case, CaseContext

DECISIONS = ("reject", "needs_evidence", "needs_inspection", "counter_offer", "approve")


@dataclass(frozen=True, slots=True)
class RuleHit:
    code: str
    effect: str  # one of DECISIONS, or "info"
    zh: str
    en: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "effect": self.effect, "explanation": f"{self.zh} / {self.en}",
                "zh": self.zh, "en": self.en}


@dataclass(frozen=True, slots=True)
class Recommendation:
    decision: str
    rules: tuple[RuleHit, ...]
    auto_approve: bool = False  # a merchant auto-approval rule matched: act at once
    suggested_amount: Money | None = None


@dataclass(frozen=True, slots=True)
class InspectionFacts:
    condition: Condition
    sku_matches: bool
    accessories_complete: bool
    gifts_returned: bool
    tags_intact: bool = True
    seal_intact: bool = True
    packaging_only_flaw: bool = False
    quality_problem_found: bool | None = None


@dataclass(frozen=True, slots=True)
class PolicyInput:
    case_type: CaseType
    reason: Reason
    lines: tuple[tuple[str, int], ...]
    requested: Money
    order: Order
    profile: Profile
    policy: MerchantPolicy
    now: datetime
    timezone: str = "Asia/Shanghai"
    state: State = State.requested
    evidence: frozenset[EvidenceKind] = frozenset()
    inspection: InspectionFacts | None = None
    buyer_cases: int = 0
    buyer_abuse: bool = False
    resubmissions: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)
    # When the buyer applied (the case's opened_at); None while the request is being made,
    # which is `now`. Eligibility windows count to it; only deadlines count to `now`.
    applied_at: datetime | None = None

    @property
    def applied(self) -> datetime:
        return self.now if self.applied_at is None else self.applied_at

    def categories(self) -> set[str]:
        return {c for c in (self.order.line(lid).category for lid, _ in self.lines) if c}


def no_reason_days(profile: Profile, policy: MerchantPolicy) -> int:
    """The platform may give more than the law's 7 days, the merchant too; never less.

    0 means no no-reason window at all: a platform outside Chinese law (AliExpress) sets
    none, and then only the merchant's own policy grants one.
    """
    default = 7 if profile.rule("cn_no_reason_law", True) else 0
    days = int(profile.rule("no_reason_days", default))
    return max(days, policy.no_reason_days or 0)


def _window_passed(p: PolicyInput) -> bool:
    """Whether the buyer applied after the no-reason window closed: a request made in time
    stays in time however long the return then takes."""
    if p.order.delivered_at is None:
        return False
    return p.applied >= window_end(p.order.delivered_at, no_reason_days(p.profile, p.policy), p.timezone)


def _excluded(p: PolicyInput) -> list[str]:
    out = []
    for line_id, _ in p.lines:
        line = p.order.line(line_id)
        banned = LAW_EXCLUDED_CATEGORIES | p.policy.excluded_categories
        if line.no_reason_excluded or (line.category in banned):
            out.append(line.name)
    return out


# --- rules -------------------------------------------------------------------------------

def rule_no_reason_window(p: PolicyInput) -> RuleHit | None:
    """7-day no-reason returns: 7 days from the day after signing (七日无理由退货暂行办法 第六条)."""
    if p.reason is not Reason.no_reason or p.case_type not in (*RETURNING_TYPES, CaseType.refund_only):
        return None
    days = no_reason_days(p.profile, p.policy)
    if days == 0:
        return RuleHit("no_no_reason_window", "info", "该平台无法定无理由退货期，按商家政策处理",
                       "this platform has no statutory no-reason window; the merchant's policy decides")
    if _window_passed(p):
        return RuleHit("no_reason_window_passed", "reject",
                       f"已超过签收次日起{days}天的无理由退货期限",
                       f"past the {days}-day no-reason window counted from the day after signing")
    if p.order.delivered_at is None:
        return RuleHit("not_yet_delivered", "info", "商品尚未签收，无理由期限未开始",
                       "goods not signed for yet; the no-reason window has not started")
    return RuleHit("within_no_reason_window", "approve", f"在{days}天无理由退货期限内",
                   f"within the {days}-day no-reason window")


def rule_excluded_goods(p: PolicyInput) -> RuleHit | None:
    """Goods the law or the sale excluded from no-reason returns (暂行办法 第六、七条)."""
    if p.reason is not Reason.no_reason or p.order.delivered_at is None:
        return None
    names = _excluded(p)
    if not names:
        return None
    listed = "、".join(names)
    return RuleHit("excluded_from_no_reason", "reject",
                   f"{listed} 不适用七天无理由退货（定制、生鲜、已拆封数字商品等或购买时已确认）",
                   f"{', '.join(names)} excluded from no-reason return (custom, perishable, "
                   "unsealed digital goods, or agreed at sale)")


def rule_evidence(p: PolicyInput) -> RuleHit | None:
    """Quality claims need photo or video; missing items need third-party proof or the packing
    record (DOMAIN.md reasons table; Taobao: visible defects need the buyer's evidence)."""
    wanted = REASONS[p.reason].evidence
    if not wanted or not p.policy.require_evidence or p.evidence & wanted:
        return None
    kinds = ", ".join(sorted(wanted))
    code = "missing_item_proof_required" if p.reason is Reason.missing_item else "evidence_required"
    return RuleHit(code, "needs_evidence", f"该原因需要提供凭证：{kinds}",
                   f"this reason needs evidence: {kinds}")


def rule_needs_inspection(p: PolicyInput) -> RuleHit | None:
    if p.case_type in RETURNING_TYPES and p.state == State.inspecting and p.inspection is None:
        return RuleHit("inspection_pending", "needs_inspection", "退货已到仓，等待验货",
                       "the return arrived; waiting for inspection")
    return None


def rule_inspection(p: PolicyInput) -> list[RuleHit]:
    """Merchants' published return standards, checked against the inspection."""
    i = p.inspection
    if i is None:
        return []
    hits: list[RuleHit] = []
    quality = REASONS[p.reason].quality_claim
    if not i.sku_matches:
        hits.append(RuleHit("not_our_product", "reject", "退回商品非本店商品（SKU/序列号/吊牌不符）",
                            "not our product: SKU, serial or tag does not match"))
    if p.reason is Reason.no_reason:
        hits += _completeness(p, i)
    if quality and i.packaging_only_flaw:
        hits.append(RuleHit("packaging_only_flaw", "reject", "仅外包装（纸袋/盒）瑕疵，不属于质量问题",
                            "the only flaw is the paper bag or box, not a quality issue"))
    if quality and i.quality_problem_found is False:
        hits.append(RuleHit("no_quality_problem", "reject", "验货未发现质量问题",
                            "inspection found no quality problem"))
    if not i.gifts_returned:
        hits += _gift_hit(p)
    if not any(h.effect == "reject" for h in hits):
        hits.append(RuleHit("inspection_passed", "approve", "验货通过", "inspection passed"))
    return hits


def _gift_hit(p: PolicyInput) -> list[RuleHit]:
    """What the refund plan deducts for gifts not returned (refunds.gift_deduction decides)."""
    deduction = gift_deduction(p.order, p.lines, False)
    if deduction.amount:
        amount = deduction.format()
        return [RuleHit("gift_deducted", "info", f"赠品未退回，按标价扣除 {amount}（不得因此拒绝退货）",
                        f"gift not returned: {amount} deducted at its listed price "
                        "(never a reason to refuse)")]
    if any(p.order.line(lid).gifts for lid, _ in p.lines):
        return [RuleHit("gift_kept_with_units", "info", "部分退货：赠品随买家保留的商品，不扣款",
                        "partial return: the gift stays with the units the buyer keeps; "
                        "nothing deducted")]
    return []


def _completeness(p: PolicyInput, i: InspectionFacts) -> list[RuleHit]:
    """"Complete" per category (暂行办法 第九条): a reasonable trial does not break it."""
    cats = p.categories()
    hits = []
    if i.condition in (Condition.used, Condition.damaged):
        hits.append(RuleHit("used_or_damaged", "reject", "商品已使用或外观损坏，影响二次销售",
                            "goods used or outwardly damaged"))
    if not i.accessories_complete:
        hits.append(RuleHit("incomplete", "reject", "配件、吊牌、防尘袋或包装不全",
                            "incomplete: accessories, tags, dust bag or packaging missing"))
    if cats & TAGGED_CATEGORIES and not i.tags_intact:
        hits.append(RuleHit("tags_removed", "reject", "吊牌已剪/已拆（服装鞋包玩具家纺）",
                            "tags cut or removed (apparel, shoes, bags, toys, home textiles)"))
    if cats & SEALED_CATEGORIES and not i.seal_intact:
        hits.append(RuleHit("seal_broken", "reject", "一次性密封已拆（食品、化妆品、医疗器械）",
                            "one-time seal broken (food, cosmetics, medical devices)"))
    if cats & ELECTRONICS and not i.seal_intact:
        hits.append(RuleHit("electronics_tampered", "reject", "电子产品已激活或标签/序列号被改",
                            "electronics activated, or labels/serials tampered with"))
    return hits


def rule_guard_rails(p: PolicyInput) -> RuleHit | None:
    blocker = _refusal_blocker(p.profile, p.order, p.case_type, p.reason, p.lines, p.applied,
                               p.timezone, p.policy)
    if blocker is None or p.state != State.requested:
        return None
    return RuleHit("cannot_refuse", "info", f"平台规则不允许拒绝：{blocker}",
                   f"the platform does not allow refusing: {blocker}")


def rule_auto_approve(p: PolicyInput) -> RuleHit | None:
    for rule in p.policy.auto_approve:
        if (p.case_type in rule.types and p.requested.amount <= rule.max_amount
                and (rule.reasons is None or p.reason in rule.reasons)
                and (rule.max_buyer_cases is None or p.buyer_cases <= rule.max_buyer_cases)
                and not (rule.no_abuse and p.buyer_abuse)):
            limit = Money(rule.max_amount, p.requested.currency).format()
            return RuleHit("auto_approval_rule", "approve", f"符合自动同意规则（金额不超过{limit}）",
                           f"matches the shop's auto-approval rule (up to {limit})")
    return None


def rule_resubmitted(p: PolicyInput) -> RuleHit | None:
    if p.resubmissions:
        return RuleHit("resubmitted", "info", f"买家在被拒后第{p.resubmissions}次重新提交",
                       f"buyer resubmitted after a rejection ({p.resubmissions}×)")
    return None


def rule_counter_offer(p: PolicyInput) -> RuleHit | None:
    pct = p.policy.counter_offer_percent
    if pct and p.case_type is CaseType.refund_only and REASONS[p.reason].quality_claim:
        return RuleHit("partial_refund_suggested", "counter_offer",
                       f"建议协商部分退款（{pct}%），商品无需退回",
                       f"suggest a partial refund ({pct}%) without return")
    return None


RULES: tuple[Callable[[PolicyInput], RuleHit | list[RuleHit] | None], ...] = (
    rule_no_reason_window, rule_excluded_goods, rule_evidence, rule_needs_inspection,
    rule_inspection, rule_guard_rails, rule_auto_approve, rule_resubmitted, rule_counter_offer,
)


def evaluate(p: PolicyInput) -> Recommendation:
    hits: list[RuleHit] = []
    for rule in RULES:
        found = rule(p)
        if isinstance(found, list):
            hits += found
        elif found is not None:
            hits.append(found)
    effects = {h.effect for h in hits}
    decision = next((d for d in DECISIONS if d in effects), "approve")
    if decision == "reject" and "cannot_refuse" in {h.code for h in hits}:
        decision = "approve"
    if not hits:
        hits.append(RuleHit("no_objection", "approve", "未发现拒绝理由", "no rule objects"))
    auto = decision == "approve" and "auto_approval_rule" in {h.code for h in hits}
    suggested = None
    if decision == "counter_offer" and p.policy.counter_offer_percent:
        suggested = p.requested.share(p.policy.counter_offer_percent, 100)
    return Recommendation(decision, tuple(hits), auto, suggested)


# --- hard refusals and guard rails -------------------------------------------------------

def check_request(p: PolicyInput, *, prior_lines: Iterable[str], prior_per_sku: Mapping[str, int],
                  refundable: Money, cancelled: Iterable[tuple[str, datetime]] = (),
                  refunded_by_line: Mapping[str, Money] | None = None,
                  order_refunded: Money | None = None) -> None:
    """Refuse what the platform itself would refuse (422 with the rule's code).

    `prior_lines` are the lines of the order's earlier cases the buyer did not cancel;
    `cancelled` the (line, applied at) of those the buyer cancelled (see `_entry_used`)."""
    for line_id, qty in p.lines:
        line = p.order.line(line_id)
        if not 0 < qty <= line.quantity:
            raise InvalidInput(f"line {line.sku}: quantity {qty} is not between 1 and "
                               f"{line.quantity}", code="invalid_quantity")
    days = p.profile.rule("after_sales_window_days_after_completion")
    if days and p.order.completed_at and p.now >= window_end(p.order.completed_at, int(days), p.timezone):
        raise RuleRefused(f"{p.profile.name}: after-sales closes {days} days after the trade "
                          "succeeded", code="after_sales_window_closed")
    if p.profile.rule("once_per_line", False):
        _entry_used(p, set(prior_lines), cancelled)
    limit = p.profile.rule("max_cases_per_sku")
    if limit:
        for line_id, _ in p.lines:
            sku = p.order.line(line_id).sku
            if prior_per_sku.get(sku, 0) >= int(limit):
                raise RuleRefused(f"{p.profile.name}: at most {limit} after-sales per SKU",
                                  code="after_sales_limit_reached")
    _something_to_refund(p, refundable, refunded_by_line or {},
                         order_refunded or Money.zero(p.order.currency))
    if p.requested > refundable:
        raise RuleRefused(f"requested {p.requested.format()} exceeds what is refundable "
                          f"({refundable.format()})", code="amount_exceeds_refundable")


def _entry_used(p: PolicyInput, prior: set[str], cancelled: Iterable[tuple[str, datetime]]) -> None:
    """Once per line: every earlier case on it counts, and a cancelled one too where the
    profile's `once_per_line_counts_cancelled` says so — Taobao's after-sales entry after
    trade success is used once, "一旦售後成功、失敗、撤消之後無法再次申請", while an
    ordinary refund before it may be asked again after a cancellation."""
    asked = {lid for lid, _ in p.lines}
    if prior & asked:
        raise RuleRefused(f"{p.profile.name}: after-sales can be requested once per order line",
                          code="after_sales_already_used")
    counts = p.profile.rule("once_per_line_counts_cancelled", "never")
    done = p.order.completed_at
    used = {lid for lid, applied in cancelled if lid in asked and (
        counts == "always" or (counts == "after_trade_success" and done is not None and applied >= done))}
    if used:
        names = "、".join(p.order.line(lid).name for lid in sorted(used))
        raise RuleRefused(f"{p.profile.name}: after trade success the after-sales entry is used once, "
                          f"a cancelled request included ({names})", code="after_sales_already_used")


def _something_to_refund(p: PolicyInput, refundable: Money, refunded_by_line: Mapping[str, Money],
                         order_refunded: Money) -> None:
    """A money-back case on a line (or an order) with nothing left to pay back is refused,
    naming the line, instead of opening at ¥0. Exchanges and reissues send goods, not money."""
    if p.case_type not in MONEY_BACK_TYPES:
        return
    if not p.lines:
        if refundable.amount <= 0:
            raise RuleRefused(f"order {p.order.platform_order_id}: nothing left to refund",
                              code="nothing_to_refund")
        return
    empty = [p.order.line(lid) for lid, qty in p.lines
             if refundable_for(p.order, [(lid, qty)], refunded_by_line, order_refunded).amount <= 0]
    if empty:
        names = ", ".join(f"{ln.sku} ({ln.name})" for ln in empty)
        raise RuleRefused(f"nothing left to refund on line {names}", code="nothing_to_refund")


def _refusal_blocker(profile: Profile, order: Order, case_type: CaseType, reason: Reason,
                     lines: Iterable[tuple[str, int]], applied: datetime, timezone: str,
                     policy: MerchantPolicy) -> str | None:
    """Taobao (api): unshipped, 7-day no-reason and online-game refunds cannot be refused.
    The no-reason window is judged at `applied`, when the buyer asked."""
    situations = set(profile.rule("cannot_refuse", []) or [])
    if "unshipped" in situations and order.shipped_at is None and case_type is CaseType.refund_only:
        return "the order has not shipped"
    cats = {order.line(lid).category for lid, _ in lines}
    if "online_game" in situations and "online_game" in cats:
        return "online-game goods"
    if "no_reason" in situations and reason is Reason.no_reason and order.delivered_at:
        closes = window_end(order.delivered_at, no_reason_days(profile, policy), timezone)
        banned = LAW_EXCLUDED_CATEGORIES | policy.excluded_categories
        excluded = any(order.line(lid).no_reason_excluded or order.line(lid).category in banned
                       for lid, _ in lines)
        if applied < closes and not excluded:
            return "a 7-day no-reason return within its window"
    return None


def refusal_blocker(case: Case, ctx: CaseContext, now: datetime) -> str | None:
    """Guard used by the transition table's `refusable` rows (see guards.py); the no-reason
    window counts to the application (`case.opened_at`), not to the rejection."""
    return _refusal_blocker(ctx.profile, ctx.order, case.type, case.reason,
                            [(ln.line_id, ln.quantity) for ln in case.lines], case.opened_at,
                            ctx.timezone, ctx.policy)


def escalation_blocker(case: Case, ctx: CaseContext, now: datetime) -> tuple[str, str] | None:
    """Whether the buyer may ask the platform to intervene now (profile rules)."""
    profile, order = ctx.profile, ctx.order
    if not profile.rule("escalation_allowed", True):
        return ("escalation_not_allowed", f"{profile.name}: no platform intervention")
    start = profile.rule("dispute_window_from_days_after_shipment")
    end = profile.rule("dispute_window_to_days_after_delivery")
    if start and order.shipped_at and now < window_end(order.shipped_at, int(start) - 1, ctx.timezone):
        return ("dispute_window_not_open", f"{profile.name}: a dispute opens on day {start} "
                "after shipment")
    if end and order.delivered_at and now >= window_end(order.delivered_at, int(end), ctx.timezone):
        return ("dispute_window_closed", f"{profile.name}: disputes close {end} days after delivery")
    return None
