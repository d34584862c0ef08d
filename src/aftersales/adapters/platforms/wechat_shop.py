"""WeChat shop (视频号/微信小店) after-sales: channels/ec/aftersale/getaftersaleorder.

Field names as the official docs have them: {after_sale_order: {after_sale_order_id,
order_id, status, type (REFUND/RETURN/EXCHANGE), openid, reason, reason_text,
product_info {product_id, sku_id, sku_code, count}, details {desc},
refund_info {amount (fen)}, return_info {waybill_id, delivery_name}, complaint_id,
deadline, update_time (unix seconds)}}; the unwrapped object is accepted too.
Source: developers.weixin.qq.com/doc/store/API/aftersale/getaftersaleorder.html and
the AfterSaleStatus enum as the WeChat open community quotes it.

Why these rules:
- status is a string enum. Refund failures (PLATFORM_REFUND_FAIL 平台退款失败,
  MERCHANT_OVERDUE_REFUND 商家逾期未退款: the merchant must refund offline) keep the
  case in `refunding` with extra["refund_failed"]="true": the buyer has no money yet.
  USER_WAIT_CONFIRM (待用户确认: the merchant proposed new terms) waits on the buyer's
  answer to an offer, which is still `requested`. MERCHANT_REJECT_RESHIP 商家拒绝发货
  is a rejection. MERCHANT_REFUND_RETRY_FAIL (客服关闭售后) and MERCHANT_FAIL
  (平台判客责关闭) close the case.
- There is no dispute status: the buyer escalating appears as a complaint_id (纠纷id).
  A rejected case with a complaint is `disputed` (DOMAIN.md: rejected → escalate).
- `deadline` is documented as the time LEFT to act, in seconds (操作剩余时间), counted
  when the response was built. Without the fetch time we count from update_time, which
  is never later: the deadline can only come out early, never late (PLATFORMS.md
  principle 2). A fetcher that knows better passes {"fetched_at": unix seconds}.
  A value that is itself a unix timestamp (≥ 10⁹) is taken as the absolute time.
- Callbacks are not guaranteed (PLATFORMS.md), so syncs also come from polling; the
  version is update_time as epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aftersales.adapters.platforms.base import refunded_when_completed
from aftersales.adapters.platforms.fields import EPOCH, EnvelopeFields, Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import CaseType, State

_STATES: dict[str, State] = {
    "MERCHANT_PROCESSING": State.requested,  # 商家受理中
    "USER_WAIT_CONFIRM": State.requested,  # 待用户确认
    "MERCHANT_REJECT_REFUND": State.rejected,  # 商家拒绝退款
    "MERCHANT_REJECT_RETURN": State.rejected,  # 商家拒绝退货退款
    "MERCHANT_REJECT_RESHIP": State.rejected,  # 商家拒绝发货
    "USER_WAIT_RETURN": State.awaiting_return,  # 待买家退货
    "MERCHANT_WAIT_RECEIPT": State.return_in_transit,  # 待商家收货
    "PLATFORM_REFUNDING": State.refunding,  # 平台退款中
    "PLATFORM_REFUND_FAIL": State.refunding,  # 平台退款失败
    "MERCHANT_OVERDUE_REFUND": State.refunding,  # 商家逾期未退款
    "MERCHANT_REFUND_SUCCESS": State.completed,  # 退款完成
    "MERCHANT_RETURN_SUCCESS": State.completed,  # 退货退款完成
    "USER_CANCELD": State.closed,  # 用户取消申请 (sic: the API spells it so)
    "RETURN_CLOSED": State.closed,  # 退货退款关闭
    "MERCHANT_REFUND_RETRY_FAIL": State.closed,  # 商家打款失败，客服关闭售后
    "MERCHANT_FAIL": State.closed,  # 售后关闭
}
_REFUND_FAILED = frozenset({"PLATFORM_REFUND_FAIL", "MERCHANT_OVERDUE_REFUND"})
_TYPES = {"REFUND": CaseType.refund_only, "RETURN": CaseType.return_refund,
          "EXCHANGE": CaseType.exchange}
_ABSOLUTE = 10**9  # a "deadline" this large is a unix timestamp, not seconds left


class WechatShopAdapter(EnvelopeFields):
    platform = "wechat_shop"
    envelope = ("after_sale_order",)
    order_field = "order_id"

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        status = f.text("status")
        if status not in _STATES:
            raise f.unknown("status", status)
        state, raw_status = _STATES[status], status
        extra: dict[str, str] = {}
        if status in _REFUND_FAILED:
            extra["refund_failed"] = "true"
        complaint = f.opt_text("complaint_id")
        if complaint is not None:
            extra["complaint_id"] = complaint
            if state is State.rejected:
                state, raw_status = State.disputed, f"{status};complaint"
        case_type = None
        if f.has("type"):
            code = f.text("type")
            if code not in _TYPES:
                raise f.unknown("type", code)
            case_type = _TYPES[code]
        refund = f.opt_sub("refund_info")
        requested = refund.opt_fen("amount") if refund else None
        reason = f.opt_text("reason_text") or f.opt_text("reason")
        updated = f.unix("update_time")
        details, returned = f.opt_sub("details"), f.opt_sub("return_info")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("after_sale_order_id"),
            platform_order_id=f.text(self.order_field),
            platform_status=raw_status,
            state=state,
            version=epoch_ms(updated),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            deadline_at=self._deadline(f, Fields(self.platform, payload), updated),
            buyer_id=f.opt_text("openid"),
            description=details.opt_text("desc") if details else None,
            lines=self._lines(f),
            return_carrier=returned.opt_text("delivery_name") if returned else None,
            return_waybill=returned.opt_text("waybill_id") if returned else None,
            raw_reason=reason,
            extra=extra,
        )

    @staticmethod
    def _deadline(f: Fields, envelope: Fields, updated: datetime) -> datetime | None:
        left = f.opt_int("deadline")
        if not left or left < 0:
            return None
        if left >= _ABSOLUTE:
            return EPOCH + timedelta(seconds=left)
        clock = f if f.has("fetched_at") else envelope
        fetched = clock.unix("fetched_at") if clock.has("fetched_at") else updated
        return fetched + timedelta(seconds=left)

    @staticmethod
    def _lines(f: Fields) -> tuple[SnapshotLine, ...]:
        product = f.opt_sub("product_info")
        if product is None or not product.has("sku_id"):
            return ()
        sku_code = product.opt_text("sku_code")
        return (SnapshotLine(product.text("sku_id"), sku_code, product.integer("count")),)
