"""The names of DOMAIN.md as stable snake_case codes: stored, sent, translated only at display."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CaseType(StrEnum):
    refund_only = "refund_only"  # 仅退款
    return_refund = "return_refund"  # 退货退款
    exchange = "exchange"  # 换货
    reissue = "reissue"  # 补发
    compensation = "compensation"  # 补偿


# Case types whose goods come back to the warehouse before anything else happens.
RETURNING_TYPES = frozenset({CaseType.return_refund, CaseType.exchange})
# Case types that pay money back (exchange and reissue send goods instead).
MONEY_BACK_TYPES = frozenset({CaseType.refund_only, CaseType.return_refund, CaseType.compensation})


class State(StrEnum):
    requested = "requested"  # 待商家处理
    awaiting_return = "awaiting_return"  # 待买家退货
    return_in_transit = "return_in_transit"  # 待商家收货
    inspecting = "inspecting"  # 验货中
    awaiting_reshipment = "awaiting_reshipment"  # 待补发/待换货发出
    refunding = "refunding"  # 退款中
    rejected = "rejected"  # 商家已拒绝
    disputed = "disputed"  # 平台介入/纠纷中
    completed = "completed"  # 售后成功
    closed = "closed"  # 售后关闭


TERMINAL_STATES = frozenset({State.completed, State.closed})


class Responsibility(StrEnum):
    merchant = "merchant"
    carrier = "carrier"
    buyer = "buyer"
    tracking = "tracking"  # depends on the tracking record
    proof = "proof"  # decided on proof
    agent = "agent"  # decided by an agent


class EvidenceKind(StrEnum):
    photo = "photo"
    video = "video"
    packing_record = "packing_record"  # the merchant's own packing record (视频/称重)
    third_party_proof = "third_party_proof"  # carrier statement, notary
    tracking_record = "tracking_record"
    source_documents = "source_documents"  # invoices, brand authorisation
    other = "other"


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    zh: str
    en: str
    responsibility: Responsibility
    # Any one of these kinds satisfies the evidence the policy asks for; empty: none needed.
    evidence: frozenset[EvidenceKind]
    quality_claim: bool = False


class Reason(StrEnum):
    quality_issue = "quality_issue"
    not_as_described = "not_as_described"
    wrong_item = "wrong_item"
    missing_item = "missing_item"
    damaged_in_transit = "damaged_in_transit"
    lost_in_transit = "lost_in_transit"
    delayed_delivery = "delayed_delivery"
    not_received = "not_received"
    no_reason = "no_reason"
    counterfeit_claim = "counterfeit_claim"
    other = "other"


_E = EvidenceKind
_R = Responsibility
REASONS: dict[Reason, ReasonInfo] = {
    Reason.quality_issue: ReasonInfo("质量问题", "quality issue", _R.merchant,
                                     frozenset({_E.photo, _E.video}), quality_claim=True),
    Reason.not_as_described: ReasonInfo("与描述不符", "not as described", _R.merchant,
                                        frozenset({_E.photo, _E.video}), quality_claim=True),
    Reason.wrong_item: ReasonInfo("发错货", "wrong item", _R.merchant, frozenset({_E.photo, _E.video})),
    Reason.missing_item: ReasonInfo("少件/漏发", "missing item", _R.merchant,
                                    frozenset({_E.third_party_proof, _E.packing_record})),
    Reason.damaged_in_transit: ReasonInfo("物流破损", "damaged in transit", _R.carrier,
                                          frozenset({_E.photo, _E.video})),
    Reason.lost_in_transit: ReasonInfo("物流丢失", "lost in transit", _R.carrier,
                                       frozenset({_E.tracking_record})),
    Reason.delayed_delivery: ReasonInfo("物流延误", "delayed delivery", _R.carrier,
                                        frozenset({_E.tracking_record})),
    Reason.not_received: ReasonInfo("未收到货", "not received", _R.tracking,
                                    frozenset({_E.tracking_record})),
    Reason.no_reason: ReasonInfo("七天无理由", "no reason (7-day)", _R.buyer, frozenset()),
    Reason.counterfeit_claim: ReasonInfo("怀疑假货", "counterfeit claim", _R.proof,
                                         frozenset({_E.photo, _E.video, _E.third_party_proof}),
                                         quality_claim=True),
    Reason.other: ReasonInfo("其他", "other", _R.agent, frozenset()),
}


class Outcome(StrEnum):
    """What the platform does on its own when a deadline passes (PLATFORMS.md)."""

    auto_approve = "auto_approve"
    auto_refund = "auto_refund"
    auto_close = "auto_close"
    auto_confirm_receipt = "auto_confirm_receipt"
    pay_seller = "pay_seller"
    flag_overdue = "flag_overdue"


class RefundMethod(StrEnum):
    original = "original"  # 原路退回
    balance = "balance"  # 余额/预存款
    store_credit = "store_credit"
    offline = "offline"  # 线下, recorded with a reference


class PaymentMethod(StrEnum):
    alipay = "alipay"
    wechat_pay = "wechat_pay"
    bank_transfer = "bank_transfer"
    credit_card = "credit_card"
    balance = "balance"
    other = "other"


class LedgerKind(StrEnum):
    goods = "goods"
    freight = "freight"
    compensation = "compensation"


# Who must act in each open state (DOMAIN.md "States"), as the role an overdue case waits on.
WHO_MUST_ACT: dict[State, str] = {
    State.requested: "agent",
    State.awaiting_return: "buyer",
    State.return_in_transit: "warehouse",
    State.inspecting: "warehouse",
    State.awaiting_reshipment: "warehouse",
    State.refunding: "finance",
    State.rejected: "buyer",
    State.disputed: "platform",
}


class Condition(StrEnum):
    new = "new"
    opened = "opened"
    used = "used"
    damaged = "damaged"


class Disposition(StrEnum):
    restock = "restock"
    refurbish = "refurbish"
    scrap = "scrap"
    return_to_buyer = "return_to_buyer"


class Role(StrEnum):
    admin = "admin"
    agent = "agent"
    warehouse = "warehouse"
    finance = "finance"
    buyer = "buyer"
    platform = "platform"
    system = "system"  # the deadline worker; never a token role


TOKEN_ROLES = frozenset(Role) - {Role.system}
