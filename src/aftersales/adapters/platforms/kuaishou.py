"""Kuaishou (快手小店) refunds: open.seller.order.refund.detail / …refund.pcursor.list.

Field names as the open API has them (camelCase): refundId, oid (the order), status,
negotiateStatus, handlingWay, refundFee (fen), updateTime (ms), refundReason (a code)
with refundReasonDesc (its text), refundDesc, buyerId, skuId. The return parcel is read
from expressNo / logisticsCompany (assumed names). The {"data": …} envelope is
accepted too. Source: open.kwaixiaodian.com, open.seller.order.refund.pcursor.list and
the refund messages, whose enums SDKs quote verbatim.

Why these rules:
- status (PLATFORMS.md, api): 10 买家仅退款申请 / 11 买家退货退款申请 → requested;
  20–23 平台介入 → disputed; 30 商品回寄信息待买家更新 → awaiting_return;
  40 商品回寄信息待卖家确认 → return_in_transit; 45 卖家已经发货，等待买家确认收货 →
  awaiting_reshipment (the replacement is on its way); 50 退款执行中 → refunding;
  60 退款成功 → completed; 70 退款失败 → refunding, with extra["refund_failed"]="true":
  the money has not reached the buyer, so the case is not over and someone must act.
- A rejection is not a status on Kuaishou: the request stays 10/11 with negotiateStatus
  3 (商家驳回，等待买家修改). That is our `rejected` (the buyer may edit and resubmit).
- handlingWay: 10 仅退款, 1 退货退款, 3 换货, 4 补寄, 5 维修 (repair has no case type
  of ours: type stays None and extra["handling_way"] keeps the code).
- Speed refunds (闪电退货, 极速退款) are approved by the platform itself, so a case may be
  seen first at 50 or 60; nothing here assumes it passed through 10.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aftersales.adapters.platforms.base import refunded_when_completed
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import CaseType, State

_STATES: dict[int, State] = {
    10: State.requested,
    11: State.requested,
    20: State.disputed,
    21: State.disputed,
    22: State.disputed,
    23: State.disputed,
    30: State.awaiting_return,
    40: State.return_in_transit,
    45: State.awaiting_reshipment,
    50: State.refunding,
    60: State.completed,
    70: State.refunding,
}
_TYPES: dict[int, CaseType | None] = {
    10: CaseType.refund_only,
    1: CaseType.return_refund,
    3: CaseType.exchange,
    4: CaseType.reissue,
    5: None,  # 维修 repair
}
_MERCHANT_REJECTED = 3  # negotiateStatus: 商家驳回，等待买家修改
_REFUND_FAILED = 70


class KuaishouAdapter(EnvelopeFields):
    platform = "kuaishou"
    envelope = ("data",)
    order_field = "oid"

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        status = f.integer("status")
        if status not in _STATES:
            raise f.unknown("status", status)
        state, raw_status = _STATES[status], str(status)
        extra: dict[str, str] = {}
        negotiate = f.opt_int("negotiateStatus")
        if negotiate is not None:
            extra["negotiate_status"] = str(negotiate)
            if negotiate == _MERCHANT_REJECTED and state is State.requested:
                state, raw_status = State.rejected, f"{status};negotiateStatus={negotiate}"
        if status == _REFUND_FAILED:
            extra["refund_failed"] = "true"

        case_type = None
        handling_way = f.opt_int("handlingWay")
        if handling_way is not None:
            if handling_way not in _TYPES:
                raise f.unknown("handlingWay", handling_way)
            case_type = _TYPES[handling_way]
            extra["handling_way"] = str(handling_way)
        reason = described = f.opt_text("refundReasonDesc")
        if reason is None and f.has("refundReason"):
            reason = f"refundReason={f.integer('refundReason')}"
        requested = f.fen("refundFee")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("refundId"),
            platform_order_id=f.text(self.order_field),
            platform_status=raw_status,
            state=state,
            version=f.integer("updateTime"),  # milliseconds
            type=case_type,
            reason=map_reason(described),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            buyer_id=f.opt_text("buyerId"),
            description=f.opt_text("refundDesc"),
            lines=self._lines(f),
            return_carrier=f.opt_text("logisticsCompany"),
            return_waybill=f.opt_text("expressNo"),
            raw_reason=reason,
            extra=extra,
        )

    @staticmethod
    def _lines(f: Fields) -> tuple[SnapshotLine, ...]:
        # The refund names the SKU but not always a count; a line is reported only
        # when the platform says how many, so a guess never widens the refund's scope.
        if not (f.has("skuId") and f.has("num")):
            return ()
        return (SnapshotLine(f.text("skuId"), None, f.integer("num")),)
