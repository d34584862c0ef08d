"""Pinduoduo after-sales: pdd.refund.information.get (detail), or a refund_list item.

Field names as the open API has them: id, order_sn, after_sales_status,
after_sales_type, refund_amount, updated_time, expire_time, after_sales_reason,
remark, express_no, shipping_name, sku_id, outer_id, goods_number, speed_refund_flag,
dispute_refund_status, join_or_not. Source: open.pinduoduo.com, the API docs of
pdd.(cloud.)refund.information.get and pdd.(cloud.)refund.list.increment.get.

List or detail is told by the documented shape, never by a marker (no documented
payload carries one; "source" is ignored):
- pdd.refund.list.increment.get items (refund_increment_get_response.refund_list[]):
  refund_amount is a STRING in yuan ("退款金额（元）": "45" is ¥45, "45.90" ¥45.90), the
  reason is `after_sale_reason`, the waybill `tracking_number`, and they carry
  created_time / speed_refund_status / goods_name, which the detail lacks.
- pdd.refund.information.get (flat, no wrapper): refund_amount is an INTEGER whose unit
  the doc does not state; read as fen (INFERRED: integer typing next to the list's
  explicit 元, and the refund push's integer refund_fee) — extra["amount_unit"] says so.
  It carries after_sales_reason, express_no, expire_time, recreated_at, join_or_not,
  shipping_status, which the list lacks. Without any of those marks, a string amount
  means a list item and an integer one a detail.

THE TRAP: `after_sales_type` is numbered differently. The detail doc says 1 仅退款,
2 退货退款, 3 换货, 4 补寄, 5 维修; the list *filter* says 1 全部, 2 仅退款, 3 退货退款…;
which numbering the list *items* use is NOT documented (research B §1.4). So a list item's
type is not guessed: type stays None and extra["after_sales_type"] keeps the code; the
detail fetched after a list hit gives the type.

Statuses are read through the profile's status_map (profiles/pinduoduo.toml), the one
table the HTTP sync uses too. 15 换货补寄待用户处理 does not say whether the merchant
agreed or refused (research B §1.4): "15" alone is `rejected`; when the detail's
exchange_shipping_detail carries the merchant's exchange address (given when agreeing —
an inference), the status reads "15;merchant_agreed" → awaiting_return.

Why the other rules:
- Speed refunds (极速退款, speed_refund_flag=1) skip the pending states: a case can be
  seen first at 10 退款成功. That is a valid first snapshot, mapped like any other;
  extra["speed_refund"]="true" tells why, and PLATFORMS.md says a sync must pull status
  10 too or already-refunded orders get shipped.
- 8 平台处理中, dispute_refund_status=1 (纠纷退款) or join_or_not="1" (介入) → disputed
  ("N;dispute"), unless the status is terminal (the ruling is done).
- expire_time (售后逾期时间) is only sent while the merchant must act; it wins over the
  profile. The docs show both second and millisecond values: told apart by size.
- updated_time (string; seconds in the docs' example) → epoch ms, ordered with the
  state's rank and detail-over-list (base.flow_version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aftersales.adapters.platforms.base import flow_version, refunded_when_completed, state_of
from aftersales.adapters.platforms.fields import EnvelopeFields, Fields, epoch_ms
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType

_DETAIL_TYPES: dict[int, CaseType | None] = {
    1: CaseType.refund_only, 2: CaseType.return_refund, 3: CaseType.exchange,
    4: CaseType.reissue, 5: None,  # 维修 repair
}
# Fields only one of the two documented shapes carries (pdd.refund.information.get vs
# pdd.refund.list.increment.get items).
_DETAIL_ONLY = ("after_sales_reason", "express_no", "expire_time", "recreated_at",
                "join_or_not", "shipping_status", "exist_images", "exchange_shipping_detail")
_LIST_ONLY = ("after_sale_reason", "tracking_number", "created_time", "speed_refund_status",
              "goods_name", "good_image")
_WAIT_BUYER = 15  # 换货补寄待用户处理


class PinduoduoAdapter(EnvelopeFields):
    platform = "pinduoduo"
    order_field = "order_sn"

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        listed = _is_list_item(f)
        status = f.integer("after_sales_status")
        raw_status = str(status)
        if status == _WAIT_BUYER and _merchant_agreed(f):
            raw_status = f"{status};merchant_agreed"
        state = state_of(self.platform, raw_status, "after_sales_status")
        source = "list" if listed else "detail"
        extra = {"after_sales_type_source": source,
                 "amount_unit": "yuan" if listed else "fen (inferred)"}
        disputed = f.opt_int("dispute_refund_status") == 1 or f.opt_text("join_or_not") == "1"
        if disputed and state not in TERMINAL_STATES:
            raw_status = f"{raw_status};dispute"
            state = state_of(self.platform, raw_status, "after_sales_status")
        if f.opt_int("speed_refund_flag") == 1:
            extra["speed_refund"] = "true"
        if f.opt_text("speed_refund_status") == "2":  # 极速退款失败
            extra["speed_refund_failed"] = "true"

        case_type = None
        if f.has("after_sales_type"):
            code = f.integer("after_sales_type")
            extra["after_sales_type"] = str(code)
            if not listed:
                if code not in _DETAIL_TYPES:
                    raise f.unknown("after_sales_type", code)
                case_type = _DETAIL_TYPES[code]
        requested = self._amount(f, listed)
        reason = f.opt_text("after_sale_reason" if listed else "after_sales_reason")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("id"),
            platform_order_id=f.text(self.order_field),
            platform_status=raw_status,
            state=state,
            version=flow_version(self._modified(f), state, detail=not listed),
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
        return f.fen("refund_amount")  # detail: INTEGER, unit not stated: fen (inferred)

    @staticmethod
    def _modified(f: Fields) -> int:
        value = f.require("updated_time")
        if isinstance(value, str) and not value.strip().isdigit():
            return epoch_ms(f.local_time("updated_time"))  # "yyyy-MM-dd HH:mm:ss"
        return epoch_ms(f.unix("updated_time", unit="auto"))

    @staticmethod
    def _lines(f: Fields) -> tuple[SnapshotLine, ...]:
        if not (f.has("sku_id") and f.has("goods_number")):
            return ()
        return (SnapshotLine(f.text("sku_id"), f.opt_text("outer_id"), f.integer("goods_number")),)


def _is_list_item(f: Fields) -> bool:
    """By the documented shape: fields only one response has, else the amount's type."""
    if any(f.has(name) for name in _DETAIL_ONLY):
        return False
    if any(f.has(name) for name in _LIST_ONLY):
        return True
    return isinstance(f.raw("refund_amount"), str)  # the list's 元 string, "45" included


def _merchant_agreed(f: Fields) -> bool:
    """An exchange detail naming the merchant's exchange address: the merchant agreed."""
    shipping = f.opt_sub("exchange_shipping_detail")
    if shipping is None:
        return False
    return any(shipping.has(name) for name in (
        "merchant_exchange_detail_address", "merchant_exchange_detail_address_mask"))
