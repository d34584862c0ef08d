"""WeChat shop (视频号/微信小店) after-sales: channels/ec/aftersale/getaftersaleorder.

Field names as the official docs have them: {after_sale_order: {after_sale_order_id,
order_id, status, type (REFUND/RETURN/EXCHANGE/RESHIP), openid, reason, reason_text,
product_info {product_id, sku_id, sku_code, count}, details {desc},
refund_info {amount (fen)}, return_info {waybill_id, delivery_name}, complaint_id,
deadline, update_time (unix seconds)}}; the unwrapped object is accepted too.
Source: developers.weixin.qq.com/doc/store/API/aftersale/getaftersaleorder.html and
the AfterSaleStatus enum (WxJava, the callback doc's EcAftersaleInfoStatus; research B
§2.3–2.4). Statuses are read through the profile's status_map
(profiles/wechat_shop.toml), the table the HTTP sync uses too. Five of them
(WAIT_PACKAGE_INTERCEPT, MERCHANT_REJECT_EXCHANGE, MERCHANT_REJECT_RESHIP,
USER_WAIT_RECEIPT, MERCHANT_EXCHANGE_SUCCESS) and the type RESHIP (补寄) are found only
in third-party code that repeats them identically: secondary, accepted.

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
  from when the response was built — not from update_time. So the deadline is the fetch
  time plus `deadline`: the caller passes when it fetched (parse(..., fetched_at=…)), and
  an import file carries it as "fetched_at" (unix seconds) on the payload or beside
  "after_sale_order". Without a fetch time there is no platform deadline (the profile
  timers apply) rather than a wrong one: counting from an old update_time put deadlines
  days in the past, which the worker fired at once.
- Callbacks are not guaranteed (PLATFORMS.md), so syncs also come from polling; the
  version is update_time as epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aftersales.adapters.platforms.base import flow_version, refunded_when_completed, state_of
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import CaseType, State

_REFUND_FAILED = frozenset({"PLATFORM_REFUND_FAIL", "MERCHANT_OVERDUE_REFUND",
                            "MERCHANT_REFUND_RETRY_FAIL"})
_TYPES = {"REFUND": CaseType.refund_only, "RETURN": CaseType.return_refund,
          "EXCHANGE": CaseType.exchange, "RESHIP": CaseType.reissue}


class WechatShopAdapter(EnvelopeFields):
    platform = "wechat_shop"
    envelope = ("after_sale_order",)
    order_field = "order_id"

    def parse(self, payload: Mapping[str, Any], *,
              fetched_at: datetime | None = None) -> PlatformSnapshot:
        f = self._fields(payload)
        status = f.text("status")
        raw_status = status
        state = state_of(self.platform, raw_status, "status")
        extra: dict[str, str] = {}
        if status in _REFUND_FAILED:
            extra["refund_failed"] = "true"
        complaint = f.opt_text("complaint_id")
        if complaint is not None:
            extra["complaint_id"] = complaint
            if state is State.rejected:
                raw_status = f"{status};complaint"
                state = state_of(self.platform, raw_status, "status")
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
        product = f.opt_sub("product_info")
        if product is not None and product.flag("fast_refund"):
            extra["speed_refund"] = "true"
        fetched = fetched_at or _fetched_at(f, Fields(self.platform, payload))
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("after_sale_order_id"),
            platform_order_id=f.text(self.order_field),
            platform_status=raw_status,
            state=state,
            version=flow_version(epoch_ms(updated), state),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            deadline_at=_deadline(f, fetched),
            buyer_id=f.opt_text("openid"),
            description=details.opt_text("desc") if details else None,
            lines=self._lines(f),
            return_carrier=returned.opt_text("delivery_name") if returned else None,
            return_waybill=returned.opt_text("waybill_id") if returned else None,
            raw_reason=reason,
            extra=extra,
        )

    @staticmethod
    def _lines(f: Fields) -> tuple[SnapshotLine, ...]:
        product = f.opt_sub("product_info")
        if product is None or not product.has("sku_id"):
            return ()
        sku_code = product.opt_text("sku_code")
        return (SnapshotLine(product.text("sku_id"), sku_code, product.integer("count")),)


def _fetched_at(f: Fields, envelope: Fields) -> datetime | None:
    """The import file's "fetched_at" (unix seconds), on the order or beside it."""
    clock = f if f.has("fetched_at") else envelope
    return clock.unix("fetched_at") if clock.has("fetched_at") else None


def _deadline(f: Fields, fetched: datetime | None) -> datetime | None:
    """Seconds left when the response was built, counted from the fetch (research B §2.3)."""
    left = f.opt_int("deadline")
    if not left or left < 0 or fetched is None:
        return None
    return fetched + timedelta(seconds=left)
