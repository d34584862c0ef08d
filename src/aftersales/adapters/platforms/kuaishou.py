"""Kuaishou (快手小店) refunds: open.seller.order.refund.detail / …refund.pcursor.list.

Field names as the open API has them (camelCase): refundId, oid (the order), status,
negotiateStatus, handlingWay, refundFee (fen), updateTime (ms), refundReason (a code)
with refundReasonDesc (its text), refundDesc, buyerId, skuId. The {"data": …} envelope is accepted too.
Source: open.kwaixiaodian.com, open.seller.order.refund.pcursor.list and
open.seller.order.refund.detail (research A §3.3–3.4, the Go SDK built from the doc).

The buyer's return parcel: the detail nests it as logisticsInfo {expressNo: String,
expressCode: Integer} (open.seller.order.refund.detail). expressCode is a numeric
carrier code (table 物流公司编号, not bundled here): it is kept in extra["express_code"],
not passed off as a carrier name. A flat expressNo (one third-party DTO) is tolerated.

Deadlines: expireTime and endTime (ms) are sent, but no doc says what they mean (research
A §3.2: not-found), so neither is read as the platform's deadline; the profile says
Kuaishou sends none (platform_sends_deadline = false) and its timers apply.

Statuses are read through the profile's status_map (profiles/kuaishou.toml), the table
the HTTP sync uses too.

Why these rules:
- status (PLATFORMS.md, api): 10 买家仅退款申请 / 11 买家退货退款申请 → requested;
  20–23 平台介入 → disputed; 30 商品回寄信息待买家更新 → awaiting_return;
  40 商品回寄信息待卖家确认 → return_in_transit; 45 卖家已经发货，等待买家确认收货 →
  awaiting_reshipment (the replacement is on its way); 50 退款执行中 → refunding;
  60 退款成功 → completed; 70 退款失败 → refunding, with extra["refund_failed"]="true":
  the money has not reached the buyer, so the case is not over and someone must act.
  (The list-filter doc calls 70 退款关闭; the detail, order and push docs 退款失败.)
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

from aftersales.adapters.platforms.base import flow_version, refunded_when_completed, state_of
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import CaseType, State

_TYPES: dict[int, CaseType | None] = {
    10: CaseType.refund_only,
    1: CaseType.return_refund,
    3: CaseType.exchange,
    4: CaseType.reissue,
    5: None,  # 维修 repair
}
_MERCHANT_REJECTED = 3  # negotiateStatus: 商家驳回，等待买家修改
_REFUND_FAILED = 70
# Fields only open.seller.order.refund.detail carries (the list item lacks them).
_DETAIL_ONLY = ("logisticsInfo", "returnFreightInfo", "pictures", "sellerDisagreeReason",
                "address", "exchangeInfo", "buyerOpenId")


class KuaishouAdapter(EnvelopeFields):
    platform = "kuaishou"
    envelope = ("data",)
    order_field = "oid"

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        status = f.integer("status")
        raw_status = str(status)
        state = state_of(self.platform, raw_status, "status")
        extra: dict[str, str] = {}
        negotiate = f.opt_int("negotiateStatus")
        if negotiate is not None:
            extra["negotiate_status"] = str(negotiate)
            if negotiate == _MERCHANT_REJECTED and state is State.requested:
                raw_status = f"{status};negotiateStatus={negotiate}"
                state = state_of(self.platform, raw_status, "negotiateStatus")
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
        carrier, waybill = _return_parcel(f, extra)
        detail = any(f.has(name) for name in _DETAIL_ONLY)
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("refundId"),
            platform_order_id=f.text(self.order_field),
            platform_status=raw_status,
            state=state,
            version=flow_version(f.integer("updateTime"), state, detail=detail),  # ms
            type=case_type,
            reason=map_reason(described),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            buyer_id=f.opt_text("buyerId"),
            description=f.opt_text("refundDesc"),
            lines=self._lines(f),
            return_carrier=carrier,
            return_waybill=waybill,
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


def _return_parcel(f: Fields, extra: dict[str, str]) -> tuple[str | None, str | None]:
    """(carrier, waybill) of the buyer's return: logisticsInfo {expressNo, expressCode}."""
    logistics = f.opt_sub("logisticsInfo")
    source = logistics if logistics is not None and logistics.has("expressNo") else f
    code = source.opt_int("expressCode")
    if code is not None:
        extra["express_code"] = str(code)
    return f.opt_text("logisticsCompany"), source.opt_text("expressNo")
