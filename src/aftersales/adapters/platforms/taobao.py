"""Taobao and Tmall refunds: the `Refund` object of taobao.refund.get.

Field names as the TOP API has them: refund_id, tid (order), oid (order line), status,
refund_version, refund_fee and total_fee (yuan strings: "200.07" is ¥200.07), cs_status,
has_good_return, reason, desc, modified, sid (return waybill), company_name, num,
outer_id, buyer_nick, refund_remind_timeout {timeout, remind_type, exist_timeout}.
The response envelope {"refund_get_response": {"refund": …}} is accepted too.
Source: the TOP docs of taobao.refund.get (Refund, RefundRemindTimeout), as mirrored
by the bububa/opentaobao SDK.

Why these rules:
- Amounts are yuan strings, parsed exactly by Money.parse_major: never through float,
  and a third decimal ("12.505") is refused rather than rounded.
- cs_status 2–5 (需要/已经客服介入, 初审完成, 主管复审失败) means 小二 is handling the
  case: it is disputed whatever `status` says (PLATFORMS.md). A terminal status wins
  over it: SUCCESS/CLOSED is the outcome of that intervention and cs_status lags behind.
  On override the raw status reads "cs_status=N" and the refund status moves to extra.
- refund_remind_timeout.timeout is Taobao's own deadline for the current step, in China
  time; it wins over the profile (PLATFORMS.md principle 1). exist_timeout=false means
  no timer runs, so no deadline is taken.
- refund_version (退款版本号, a millisecond timestamp) orders syncs; when absent,
  `modified` (China time) as epoch milliseconds stands in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aftersales.adapters.platforms.base import refunded_when_completed
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType, State

_STATES: dict[str, State] = {
    "WAIT_SELLER_AGREE": State.requested,  # 买家已经申请退款，等待卖家同意
    "WAIT_BUYER_RETURN_GOODS": State.awaiting_return,  # 卖家已经同意退款，等待买家退货
    "WAIT_SELLER_CONFIRM_GOODS": State.return_in_transit,  # 买家已经退货，等待卖家确认收货
    "SELLER_REFUSE_BUYER": State.rejected,  # 卖家拒绝退款
    "WAIT_SELLER_CONSIGN_GOODS": State.awaiting_reshipment,  # 换货：等待卖家发货 (Tmall)
    "CLOSED": State.closed,  # 退款关闭
    "SUCCESS": State.completed,  # 退款成功
}
_CS_DISPUTED = frozenset({2, 3, 4, 5})


class TaobaoAdapter(EnvelopeFields):
    platform = "taobao"
    envelope = ("refund_get_response.refund",)
    order_field = "tid"

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        status = f.text("status")
        if status not in _STATES:
            raise f.unknown("status", status)
        state, raw_status = _STATES[status], status
        extra = {"refund_status": status}
        cs_status = f.opt_int("cs_status")
        if cs_status is not None:
            extra["cs_status"] = str(cs_status)
            if cs_status in _CS_DISPUTED and state not in TERMINAL_STATES:
                state, raw_status = State.disputed, f"cs_status={cs_status}"
        if f.has("total_fee"):
            extra["total_fee_minor"] = str(f.major("total_fee", "CNY").amount)

        case_type = None
        has_good_return = f.flag("has_good_return")
        if has_good_return is not None:
            case_type = CaseType.return_refund if has_good_return else CaseType.refund_only
        requested = f.major("refund_fee", "CNY")
        reason = f.opt_text("reason")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("refund_id"),
            platform_order_id=f.text(self.order_field),
            platform_status=raw_status,
            state=state,
            version=self._version(f),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            deadline_at=self._deadline(f),
            buyer_id=f.opt_text("buyer_open_uid") or f.opt_text("buyer_nick"),
            description=f.opt_text("desc"),
            lines=self._lines(f),
            return_carrier=f.opt_text("company_name"),
            return_waybill=f.opt_text("sid"),
            raw_reason=reason,
            extra=extra,
        )

    @staticmethod
    def _version(f: Fields) -> int:
        if f.has("refund_version") or not f.has("modified"):
            return f.integer("refund_version")
        return epoch_ms(f.local_time("modified"))

    @staticmethod
    def _deadline(f: Fields) -> datetime | None:
        remind = f.opt_sub("refund_remind_timeout")
        if remind is None or remind.flag("exist_timeout") is False or not remind.has("timeout"):
            return None
        return remind.local_time("timeout")

    @staticmethod
    def _lines(f: Fields) -> tuple[SnapshotLine, ...]:
        # A Taobao refund concerns one order line (oid) and its `num`; without the count
        # no line is reported, so a guess never widens the refund's scope.
        if not (f.has("oid") and f.has("num")):
            return ()
        return (SnapshotLine(f.text("oid"), f.opt_text("outer_id"), f.integer("num")),)


class TmallAdapter(TaobaoAdapter):
    """Tmall refunds come through the same TOP API and fields as Taobao's."""

    platform = "tmall"
