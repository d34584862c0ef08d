"""Pinduoduo after-sales: pdd.refund.information.get (detail), or a refund_list item.

Field names as the open API has them: id, order_sn, after_sales_status,
after_sales_type, refund_amount, updated_time, expire_time, after_sales_reason,
remark, express_no, shipping_name, sku_id, outer_id, goods_number, speed_refund_flag,
dispute_refund_status, join_or_not. Source: open.pinduoduo.com, the API docs of
pdd.(cloud.)refund.information.get and pdd.(cloud.)refund.list.increment.get.

THE TRAP: `after_sales_type` is numbered differently by the two APIs. The official
docs of pdd.refund.information.get (detail) say 1 仅退款, 2 退货退款, 3 换货, 4 补寄,
5 维修; pdd.refund.list.increment.get filters with 1 全部, 2 仅退款, 3 退货退款, 4 换货,
5 缺货补寄 (6 维修), and its list items use that numbering — one higher. Read with the
wrong table, every refund-only becomes a return and every exchange a reissue.
(Beware: notes that quote "2 = 仅退款" for the detail response quote the list numbering.)
So: a payload is a detail response unless it says {"source": "list"}; list items are
translated with their own table, and differ in three more ways the docs show:
refund_amount is a yuan string ("12.50", not fen), the reason is `after_sale_reason`
and the waybill `tracking_number`. extra["after_sales_type_source"] records which.

Why the other rules:
- Speed refunds (极速退款, speed_refund_flag=1) skip the pending states: a case can be
  seen first at 10 退款成功. That is a valid first snapshot, mapped like any other;
  extra["speed_refund"]="true" tells why, and PLATFORMS.md says a sync must pull status
  10 too or already-refunded orders get shipped.
- 8 平台处理中, dispute_refund_status=1 (纠纷退款) or join_or_not="1" (介入) → disputed,
  unless the status is terminal (the ruling is done).
- expire_time (售后逾期时间) is only sent while the merchant must act; it wins over the
  profile. The docs show both second and millisecond values: told apart by size.
- updated_time (string; seconds in the docs' example) → epoch ms version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aftersales.adapters.platforms.base import refunded_when_completed
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType, State

_STATES: dict[int, State] = {
    2: State.requested,  # 买家申请退款，待商家处理
    3: State.requested,  # 退货退款，待商家处理
    14: State.requested,  # 换货补寄待商家处理
    21: State.requested,  # 待商家同意维修
    4: State.refunding,  # 商家同意退款，退款中
    5: State.refunding,  # 平台同意退款，退款中
    6: State.rejected,  # 驳回退款，待买家处理
    7: State.awaiting_return,  # 已同意退货退款，待用户发货
    15: State.awaiting_return,  # 换货补寄待用户处理
    22: State.awaiting_return,  # 待用户确认发货 (repair)
    31: State.awaiting_return,  # 已同意拒收退款，待用户拒收: the parcel comes back
    8: State.disputed,  # 平台处理中
    9: State.closed,  # 平台拒绝退款，退款关闭
    11: State.closed,  # 买家撤销
    12: State.closed,  # 买家逾期未处理，退款失败
    13: State.closed,  # 买家逾期，超过有效期
    17: State.closed,  # 换货补寄失败
    24: State.closed,  # 维修关闭
    10: State.completed,  # 退款成功
    16: State.completed,  # 换货补寄成功
    25: State.completed,  # 维修成功
    18: State.awaiting_reshipment,  # 换货补寄待用户确认完成 (sent, not yet confirmed)
    27: State.awaiting_reshipment,  # 待用户确认收货
    32: State.awaiting_reshipment,  # 补寄待商家发货
}
_DETAIL_TYPES: dict[int, CaseType | None] = {
    1: CaseType.refund_only, 2: CaseType.return_refund, 3: CaseType.exchange,
    4: CaseType.reissue, 5: None,  # 维修 repair
}
_LIST_TYPES: dict[int, CaseType | None] = {
    2: CaseType.refund_only, 3: CaseType.return_refund, 4: CaseType.exchange,
    5: CaseType.reissue, 6: None,  # 维修
    9: CaseType.return_refund,  # 拦截退货 (intercepted parcel; merchants' OMS code, unconfirmed)
}


class PinduoduoAdapter(EnvelopeFields):
    platform = "pinduoduo"
    order_field = "order_sn"

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        source = f.opt_text("source") or "detail"
        if source not in ("detail", "list"):
            raise f.unknown("source", source)
        listed = source == "list"
        status = f.integer("after_sales_status")
        if status not in _STATES:
            raise f.unknown("after_sales_status", status)
        state, raw_status = _STATES[status], str(status)
        extra = {"after_sales_type_source": source}
        disputed = f.opt_int("dispute_refund_status") == 1 or f.opt_text("join_or_not") == "1"
        if disputed and state not in TERMINAL_STATES:
            state, raw_status = State.disputed, f"{status};dispute"
        if f.opt_int("speed_refund_flag") == 1:
            extra["speed_refund"] = "true"

        case_type = None
        if f.has("after_sales_type"):
            code = f.integer("after_sales_type")
            types = _LIST_TYPES if listed else _DETAIL_TYPES
            if code not in types:
                raise f.unknown("after_sales_type", code)
            case_type = types[code]
            extra["after_sales_type"] = str(code)
        requested = self._amount(f, listed)
        reason = f.opt_text("after_sale_reason" if listed else "after_sales_reason")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("id"),
            platform_order_id=f.text(self.order_field),
            platform_status=raw_status,
            state=state,
            version=self._version(f),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            deadline_at=f.opt_unix("expire_time", unit="auto"),
            description=f.opt_text("remark"),
            lines=self._lines(f),
            return_carrier=f.opt_text("shipping_name"),
            return_waybill=f.opt_text("tracking_number" if listed else "express_no"),
            raw_reason=reason,
            extra=extra,
        )

    @staticmethod
    def _amount(f: Fields, listed: bool) -> Money:
        if listed:
            return f.major("refund_amount", "CNY")  # list: 退款金额（元）, a string
        return f.fen("refund_amount")  # detail: integer fen

    @staticmethod
    def _version(f: Fields) -> int:
        value = f.require("updated_time")
        if isinstance(value, str) and not value.strip().isdigit():
            return epoch_ms(f.local_time("updated_time"))  # "yyyy-MM-dd HH:mm:ss"
        return epoch_ms(f.unix("updated_time", unit="auto"))

    @staticmethod
    def _lines(f: Fields) -> tuple[SnapshotLine, ...]:
        if not (f.has("sku_id") and f.has("goods_number")):
            return ()
        return (SnapshotLine(f.text("sku_id"), f.opt_text("outer_id"), f.integer("goods_number")),)
