"""Douyin (抖店) after-sales: an item of afterSale/List, its flattened aftersale_info, or
an afterSale/Detail response.

Field names as the open API has them: {aftersale_info: {aftersale_id, aftersale_type,
aftersale_status, related_id, update_time, status_deadline, refund_amount,
refund_post_amount, arbitrate_status, return_logistics_code,
return_logistics_company_name, reason_second_labels}, order_info: {shop_order_id,
related_order_info: [{sku_order_id, shop_sku_code, aftersale_item_num}]}}. A flat
object with the aftersale_info fields plus `order_id` and `reason` is accepted too.
afterSale/Detail ({"code":10000,"data":{…}} or its data) is read in its own spelling:
process_info {after_sale_info {after_sale_id (a Number), after_sale_status,
after_sale_type, refund_total_amount (incl. freight), refund_post_amount, refund_status,
update_time, status_deadline, reason}, arbitrate_info {arbitrate_status},
logistics_info {return {tracking_no, company_name}}}, order_info {shop_order_id,
sku_order_infos[]}. Times are unix seconds, amounts fen.
Source: the official generated Go SDK's afterSale_List / afterSale_Detail structs
(research A §2.2–2.4). Statuses are read through the profile's status_map
(profiles/douyin.toml), the table the HTTP sync uses too.

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
- version: update_time (seconds) as epoch milliseconds, ordered with the state's rank
  and detail-over-list (base.flow_version): 6 → 12 within one second still moves on.
- refund_status 4 退款失败 → extra["refund_failed"]; refund_type 1 极速退款助手 /
  3 售后急速退 (the platform's automation refunded) → extra["speed_refund"].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aftersales.adapters.platforms.base import flow_version, refunded_when_completed, state_of
from aftersales.adapters.platforms.fields import Fields, epoch_ms, unwrap
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType

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
_REFUND_FAILED = 4  # refund_status 退款失败
_SPEED_REFUND = frozenset({1, 3})  # refund_type 极速退款助手, 售后急速退


class _Shape:
    """Where one payload keeps each field: the List item's or the Detail's spelling."""

    def __init__(self, platform: str, payload: Mapping[str, Any]) -> None:
        root = Fields(platform, unwrap(payload, "data"))
        process = root.opt_sub("process_info")
        self.detail = process is not None
        self.order = root.opt_sub("order_info")
        self.arbitrate: Fields | None
        self.returned: Fields | None
        if process is None:
            self.info = root.opt_sub("aftersale_info") or root
            self.arbitrate, self.returned = self.info, self.info
            self.names = ("aftersale_id", "aftersale_status", "aftersale_type", "refund_amount")
        else:
            self.info = process.sub("after_sale_info")
            self.arbitrate = process.opt_sub("arbitrate_info")
            logistics = process.opt_sub("logistics_info")
            self.returned = logistics.opt_sub("return") if logistics else None
            self.names = ("after_sale_id", "after_sale_status", "after_sale_type",
                          "refund_total_amount")

    def waybill(self) -> tuple[str | None, str | None]:
        if self.returned is None:
            return None, None
        if self.detail:
            return self.returned.opt_text("company_name"), self.returned.opt_text("tracking_no")
        return (self.returned.opt_text("return_logistics_company_name"),
                self.returned.opt_text("return_logistics_code"))


class DouyinAdapter:
    platform = "douyin"

    def order_key(self, payload: Mapping[str, Any]) -> str:
        """The platform's order id, as parse() reads it, without the rest of the parse."""
        shape = _Shape(self.platform, payload)
        return _order_id(shape.info, shape.order)

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        shape = _Shape(self.platform, payload)
        f, order = shape.info, shape.order
        id_field, status_field, type_field, amount_field = shape.names
        status = f.integer(status_field)
        raw_status = str(status)
        state = state_of(self.platform, raw_status, f.name(status_field))
        extra = {"aftersale_status": str(status)}
        arbitrate = shape.arbitrate.opt_int("arbitrate_status") if shape.arbitrate else None
        if arbitrate is not None:
            extra["arbitrate_status"] = str(arbitrate)
            if arbitrate in _ARBITRATING and state not in TERMINAL_STATES:
                raw_status = f"arbitrate_status={arbitrate}"
                state = state_of(self.platform, raw_status, "arbitrate_status")
        case_type = None
        if f.has(type_field):
            code = f.integer(type_field)
            if code not in _TYPES:
                raise f.unknown(type_field, code)
            case_type = _TYPES[code]
            extra["aftersale_type"] = str(code)
        _signals(f, extra)
        requested: Money = f.fen(amount_field)
        reason = f.opt_text("reason") or _first_label(f)
        carrier, waybill = shape.waybill()
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text(id_field),
            platform_order_id=_order_id(f, order),
            platform_status=raw_status,
            state=state,
            version=flow_version(epoch_ms(f.unix("update_time")), state, detail=shape.detail),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=requested,
            refunded_amount=refunded_when_completed(state, case_type, requested),
            deadline_at=f.opt_unix("status_deadline"),
            lines=_lines(order),
            return_carrier=carrier,
            return_waybill=waybill,
            raw_reason=reason,
            extra=extra,
        )


def _signals(f: Fields, extra: dict[str, str]) -> None:
    if f.has("refund_post_amount"):
        extra["refund_post_amount_minor"] = str(f.fen("refund_post_amount").amount)
    if f.opt_int("refund_status") == _REFUND_FAILED:
        extra["refund_failed"] = "true"
    refund_type = f.opt_int("refund_type")
    if refund_type is not None:
        extra["refund_type"] = str(refund_type)
        if refund_type in _SPEED_REFUND:
            extra["speed_refund"] = "true"


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
    """The List's related_order_info (with aftersale_item_num); the Detail's
    sku_order_infos name a line's count as item_num, when they do at all."""
    if order is None:
        return ()
    rows = order.rows("related_order_info")
    if rows:
        return tuple(SnapshotLine(row.text("sku_order_id"), row.opt_text("shop_sku_code"),
                                  row.integer("aftersale_item_num")) for row in rows)
    return tuple(
        SnapshotLine(row.text("sku_order_id"), row.opt_text("shop_sku_code"),
                     row.integer("item_num"))
        for row in order.rows("sku_order_infos") if row.has("item_num")
    )
