"""Douyin (抖店) after-sales: an item of afterSale/List, or its flattened aftersale_info.

Field names as the open API has them: {aftersale_info: {aftersale_id, aftersale_type,
aftersale_status, related_id, update_time, status_deadline, refund_amount,
refund_post_amount, arbitrate_status, return_logistics_code,
return_logistics_company_name, reason_second_labels}, order_info: {shop_order_id,
related_order_info: [{sku_order_id, shop_sku_code, aftersale_item_num}]}}. A flat
object with the aftersale_info fields plus `order_id` and `reason` is accepted too.
(afterSale/Detail spells them after_sale_id, after_sale_status…: flatten those to the
list spelling before parsing.) Times are unix seconds, amounts fen.
Source: op.jinritemai.com afterSale/List and afterSale/Detail (as mirrored by ISV docs).

Why these rules:
- Statuses (PLATFORMS.md, api): 6 待商家同意 → requested; 7 待买家退货 →
  awaiting_return; 8 待商家发货 → awaiting_reshipment; 11 待商家二次同意 (the return
  arrived) → return_in_transit; 12 售后成功 / 14 换货成功 → completed; 13 and 3 (the
  replacement is on its way to the buyer) → awaiting_reshipment; 27 商家一次拒绝 /
  29 商家二次拒绝 → rejected; 28 售后失败 → closed. The Detail enum adds 51 订单取消成功
  and 53 逆向交易已完成, both finished → completed.
- arbitrate_status 1 仲裁中, 4 待商家举证, 5 协商期 → disputed, overriding a live
  status (the raw status then reads "arbitrate_status=N"); 2/3/255 are outcomes and a
  terminal status is the ruling's result, so neither overrides.
- status_deadline is Douyin's own timer for the current step (0: none); it wins over
  the profile. Message 209 pushes a change; the next sync carries the new value.
- version: update_time (seconds) as epoch milliseconds, like every time-based version
  here, so versions from all platforms read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aftersales.adapters.platforms.base import refunded_when_completed
from aftersales.adapters.platforms.fields import Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType, State

_STATES: dict[int, State] = {
    3: State.awaiting_reshipment,
    6: State.requested,
    7: State.awaiting_return,
    8: State.awaiting_reshipment,
    11: State.return_in_transit,
    12: State.completed,
    13: State.awaiting_reshipment,
    14: State.completed,
    27: State.rejected,
    28: State.closed,
    29: State.rejected,
    51: State.completed,
    53: State.completed,
}
_TYPES: dict[int, CaseType | None] = {
    0: CaseType.return_refund,  # 退货退款
    1: CaseType.refund_only,  # 已发货仅退款
    2: CaseType.refund_only,  # 未发货仅退款
    3: CaseType.exchange,  # 换货
    4: CaseType.refund_only,  # 系统取消 (order cancelled before shipping)
    5: CaseType.refund_only,  # 用户取消
    6: CaseType.compensation,  # 价保 (price protection: money, nothing returns)
    7: CaseType.reissue,  # 补寄
    8: None,  # 维修 repair
}
_ARBITRATING = frozenset({1, 4, 5})


class DouyinAdapter:
    platform = "douyin"

    def order_key(self, payload: Mapping[str, Any]) -> str:
        """The platform's order id, as parse() reads it, without the rest of the parse."""
        return _order_id(*self._fields(payload))

    def _fields(self, payload: Mapping[str, Any]) -> tuple[Fields, Fields | None]:
        root = Fields(self.platform, payload)
        return root.opt_sub("aftersale_info") or root, root.opt_sub("order_info")

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f, order = self._fields(payload)
        status = f.integer("aftersale_status")
        if status not in _STATES:
            raise f.unknown("aftersale_status", status)
        state, raw_status = _STATES[status], str(status)
        extra = {"aftersale_status": str(status)}
        arbitrate = f.opt_int("arbitrate_status")
        if arbitrate is not None:
            extra["arbitrate_status"] = str(arbitrate)
            if arbitrate in _ARBITRATING and state not in TERMINAL_STATES:
                state, raw_status = State.disputed, f"arbitrate_status={arbitrate}"
        case_type = None
        if f.has("aftersale_type"):
            code = f.integer("aftersale_type")
            if code not in _TYPES:
                raise f.unknown("aftersale_type", code)
            case_type = _TYPES[code]
            extra["aftersale_type"] = str(code)
        if f.has("refund_post_amount"):
            extra["refund_post_amount_minor"] = str(f.fen("refund_post_amount").amount)
        requested = f.fen("refund_amount")
        reason = f.opt_text("reason") or _first_label(f)
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("aftersale_id"),
            platform_order_id=_order_id(f, order),
            platform_status=raw_status,
            state=state,
            version=epoch_ms(f.unix("update_time")),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            deadline_at=f.opt_unix("status_deadline"),
            lines=_lines(order),
            return_carrier=f.opt_text("return_logistics_company_name"),
            return_waybill=f.opt_text("return_logistics_code"),
            raw_reason=reason,
            extra=extra,
        )


def _order_id(f: Fields, order: Fields | None) -> str:
    if order is not None and order.has("shop_order_id"):
        return order.text("shop_order_id")
    if f.has("order_id") or not f.has("related_id"):
        return f.text("order_id")
    return f.text("related_id")


def _first_label(f: Fields) -> str | None:
    labels = f.rows("reason_second_labels")
    return labels[0].opt_text("name") if labels else None


def _lines(order: Fields | None) -> tuple[SnapshotLine, ...]:
    if order is None:
        return ()
    return tuple(
        SnapshotLine(row.text("sku_order_id"), row.opt_text("shop_sku_code"),
                     row.integer("aftersale_item_num"))
        for row in order.rows("related_order_info")
    )
