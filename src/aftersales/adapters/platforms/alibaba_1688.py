"""1688 dropshipping (一件代发) refunds: alibaba.trade.refund.OpQueryOrderRefund.

Here the merchant is the BUYER: a downstream refund for a dropshipped line is matched
by a claim on the supplier upstream, and this adapter reads that claim so the desk can
track what was recovered (PLATFORMS.md). extra["upstream"]="true" marks it.

Field names as the official docs have them, from result.opOrderRefundModelDetail
(the envelope is accepted too): refundId ("TQ…"), orderId, status, applyPayment (fen),
applyCarriage (freight, fen), refundPayment (actually refunded, fen), applyReason,
onlyRefund, refundGoods, freightBill (return waybill), buyerLogisticsName,
orderEntryCountMap {order entry id: quantity}, buyerLoginId, gmtModified and gmtTimeOut
("20180423174714000+0800": yyyyMMddHHmmssSSS and an offset).
Source: open.1688.com, alibaba.trade.refund.OpQueryOrderRefund (OpOrderRefundModel).

Why these rules:
- status (read through profiles/alibaba_1688.toml status_map, the table the HTTP sync
  uses too): waitselleragree 等待卖家同意 → requested; waitbuyermodify 待买家修改 (the
  supplier refused, we must revise) → rejected; waitbuyersend 等待买家退货 →
  awaiting_return; waitsellerreceive 等待卖家确认收货 → return_in_transit;
  refundsuccess → completed; refundclose → closed.
- gmtTimeOut (该退款单超时完成的时间期限) is 1688's own timer on the current step; like
  every platform-sent deadline it wins over the profile.
- refundPayment is what the supplier actually paid back: it is the refunded amount on
  success, so a partial recovery shows as such instead of as the amount asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aftersales.adapters.platforms.base import flow_version, state_of
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import CaseType, State


class Alibaba1688Adapter(EnvelopeFields):
    platform = "alibaba_1688"
    envelope = ("result.opOrderRefundModelDetail",)
    order_field = "orderId"

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        status = f.text("status")
        state = state_of(self.platform, status, "status")  # profiles/alibaba_1688.toml
        case_type = None
        only_refund, goods_back = f.flag("onlyRefund"), f.flag("refundGoods")
        if only_refund is not None or goods_back is not None:
            returns = bool(goods_back) and not only_refund
            case_type = CaseType.return_refund if returns else CaseType.refund_only
        extra = {"upstream": "true"}
        if f.has("applyCarriage"):
            extra["apply_carriage_minor"] = str(f.fen("applyCarriage").amount)
        refunded = f.opt_fen("refundPayment") if state is State.completed else None
        reason = f.opt_text("applyReason")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("refundId"),
            platform_order_id=f.text(self.order_field),
            platform_status=status,
            state=state,
            version=flow_version(epoch_ms(_time(f, "gmtModified")), state),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=f.fen("applyPayment"),
            refunded_amount=refunded,
            deadline_at=_time(f, "gmtTimeOut") if f.has("gmtTimeOut") else None,
            buyer_id=f.opt_text("buyerLoginId"),
            lines=_lines(f),
            return_carrier=f.opt_text("buyerLogisticsName"),
            return_waybill=f.opt_text("freightBill"),
            raw_reason=reason,
            extra=extra,
        )


def _time(f: Fields, field: str) -> datetime:
    value = f.text(field)
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S%f%z").astimezone(UTC)
    except ValueError as exc:
        raise f.error(field, f"must be a time like \"20180423174714000+0800\", got {value!r}") from exc


def _lines(f: Fields) -> tuple[SnapshotLine, ...]:
    counts = f.opt_sub("orderEntryCountMap")
    if counts is None:
        return ()
    return tuple(SnapshotLine(entry, None, counts.integer(entry)) for entry in counts.data)
