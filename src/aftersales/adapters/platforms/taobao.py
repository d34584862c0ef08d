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
- cs_status 2–5 (需要/已经客服介入, 初审完成, 主管复审失败) and 10 (举证中, TOP
  taobao.refund.get cs_status table) mean 小二 is handling the
  case: it is disputed whatever `status` says (PLATFORMS.md). A terminal status wins
  over it: SUCCESS/CLOSED is the outcome of that intervention and cs_status lags behind.
  On override the raw status reads "cs_status=N" and the refund status moves to extra.
- refund_remind_timeout.timeout is Taobao's own deadline for the current step, in China
  time; it wins over the profile (PLATFORMS.md principle 1). exist_timeout=false means
  no timer runs, so no deadline is taken.
- refund_version (退款版本号, a millisecond timestamp) orders syncs; when absent,
  `modified` (China time) as epoch milliseconds stands in. The list
  (taobao.refunds.receive.get) and the detail share it, and only the detail carries the
  deadline and cs_status: base.flow_version ranks the detail above its list item.
- Statuses are read through the profile's status_map (profiles/taobao.toml, tmall.toml),
  the table the HTTP sync uses too. The refund list's status filter names three exchange
  statuses too (TOP taobao.refunds.receive.get): WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS,
  EXCHANGE_TRANSFORM_TO_REFUND, WAIT_SELLER_CONSIGN_GOODS.
- Tmall exchanges are their own object (tmall.exchange.get / tmall.exchange.receive.get,
  research A §1.6): dispute_id, biz_order_id, status (1 换货待处理 … 14 请退款; typed String,
  a number or its Chinese label — both accepted), modified, refund_version, payment/price
  (yuan), buyer_logistic_no/_name (the return), cs_status, time_out (the deadline; its
  format is not documented: "yyyy-MM-dd HH:mm:ss" China time or a unix timestamp).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aftersales.adapters.platforms.base import flow_version, refunded_when_completed, state_of
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType, State

_CS_DISPUTED = frozenset({2, 3, 4, 5, 10})  # 10 举证中: the evidence phase of an intervention
# Fields only taobao.refund.get (the detail) carries, not the list's items.
_DETAIL_ONLY = ("refund_remind_timeout", "cs_status", "advance_status", "address",
                "alipay_no", "good_return_time", "num_iid", "shipping_type")
# tmall.exchange.* status labels (the response `status` is a String: a code or its label).
_EXCHANGE_LABELS = {
    "换货待处理": 1, "待买家退货": 2, "买家已退货待收货": 3, "买家已退货，待收货": 3,
    "换货关闭": 4, "换货成功": 5, "待买家修改": 6, "待发出换货商品": 12, "待买家收货": 13,
    "请退款": 14,
}


class TaobaoAdapter(EnvelopeFields):
    platform = "taobao"
    envelope: tuple[str, ...] = ("refund_get_response.refund",)
    order_field = "tid"

    def order_key(self, payload: Mapping[str, Any]) -> str:
        """The order id parse() reads: a refund's tid, an exchange's biz_order_id."""
        f = self._fields(payload)
        return f.text("biz_order_id" if _is_exchange(f) else self.order_field)

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        if _is_exchange(f):
            return _exchange(self.platform, f)
        status = f.text("status")
        extra = {"refund_status": status}
        state, raw_status = _with_cs_status(self.platform, f, status, extra)
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
            version=flow_version(self._version(f), state,
                                 detail=any(f.has(name) for name in _DETAIL_ONLY)),
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
    """Tmall refunds come through the same TOP API and fields as Taobao's; Tmall
    exchanges (tmall.exchange.get) as the Exchange object."""

    platform = "tmall"
    envelope = ("refund_get_response.refund", "tmall_exchange_get_response.result.exchange",
                "result.exchange")


def _is_exchange(f: Fields) -> bool:
    """A Tmall Exchange object (dispute_id, biz_order_id), not a Refund (refund_id, tid)."""
    return f.has("dispute_id") and not f.has("refund_id")


def _with_cs_status(platform: str, f: Fields, status: str,
                    extra: dict[str, str]) -> tuple[State, str]:
    """The state of `status`, or disputed ("cs_status=N") while 小二 handles a live case."""
    state = state_of(platform, status, "status")
    cs_status = f.opt_int("cs_status")
    if cs_status is None:
        return state, status
    extra["cs_status"] = str(cs_status)
    if cs_status in _CS_DISPUTED and state not in TERMINAL_STATES:
        raw = f"cs_status={cs_status}"
        return state_of(platform, raw, "cs_status"), raw
    return state, status


def _exchange(platform: str, f: Fields) -> PlatformSnapshot:
    """A Tmall exchange (tmall.exchange.get `exchange`): no money moves, goods do."""
    value = f.text("status")
    code = _EXCHANGE_LABELS.get(value, value)
    extra = {"exchange_status": str(code)}
    state, raw_status = _with_cs_status(platform, f, f"exchange_status={code}", extra)
    amount = f.opt_major("payment", "CNY") or f.opt_major("price", "CNY")
    reason = f.opt_text("reason")
    modified = epoch_ms(f.local_time("modified")) if f.has("modified") else None
    version = f.opt_int("refund_version") or modified
    if version is None:
        version = f.integer("refund_version")  # the error names the field
    return PlatformSnapshot(
        platform=platform,
        platform_case_id=f.text("dispute_id"),
        platform_order_id=f.text("biz_order_id"),
        platform_status=raw_status,
        state=state,
        version=flow_version(version, state, detail=True),
        type=CaseType.exchange,
        reason=map_reason(reason),
        requested_amount=amount,
        deadline_at=_time_out(f),
        buyer_id=f.opt_text("buyer_open_uid") or f.opt_text("buyer_nick"),
        description=f.opt_text("desc"),
        return_carrier=f.opt_text("buyer_logistic_name"),
        return_waybill=f.opt_text("buyer_logistic_no"),
        raw_reason=reason,
        extra=extra,
    )


def _time_out(f: Fields) -> datetime | None:
    """time_out: format not documented; a unix timestamp or China-time text."""
    value = f.raw("time_out")
    if value is None:
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return f.opt_unix("time_out", unit="auto")
    return f.local_time("time_out")
