"""The fake 抖店's after-sales book: its own clock, timers, versions and review decisions.

DOC marks what follows the documented API (research A §2.2–2.7), INVENTED what the docs
do not say and the fake had to decide. Amounts are fen, times unix seconds.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

REVIEW_SECONDS = 48 * 3600  # INVENTED for the fake: 48 h merchant review (profile fallback)
RETURN_SECONDS = 7 * 24 * 3600  # INVENTED: the buyer's time to send the return
REFUND_ONLY = frozenset({1, 2})  # DOC aftersale_type 1 已发货仅退款, 2 未发货仅退款


class OperateError(Exception):
    """DOC: /afterSale/operate answers code 50002 / 40004 with these sub_codes."""

    def __init__(self, code: int, sub_code: str, sub_msg: str) -> None:
        super().__init__(sub_msg)
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg


@dataclass
class AfterSale:
    aftersale_id: str
    aftersale_type: int
    refund_amount: int
    shop_order_id: str
    sku_order_id: str
    apply_time: int
    update_time: int
    status: int = 6  # DOC 6 待商家同意
    status_deadline: int = 0
    refund_status: int = 1  # DOC 1 待退款
    reason: str = "不想要了"
    product_name: str = "纯棉T恤"
    seq: int = 0  # INVENTED: orders same-second changes in the fake's own List


@dataclass
class Book:
    offset: float = 0.0  # the fake's clock: wall time + offset (POST /fake/clock moves it)
    review_seconds: int = REVIEW_SECONDS
    cases: dict[str, AfterSale] = field(default_factory=dict)
    pushes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)  # pushes not sent yet
    applied: list[dict[str, Any]] = field(default_factory=list)  # each operate that acted
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotent_id
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def now(self) -> int:
        return int(time.time() + self.offset)

    def create(self, aftersale_type: int, refund_amount: int, **extra: Any) -> AfterSale:
        now = self.now()
        n = next(self.ids)
        case = AfterSale(aftersale_id=extra.pop("aftersale_id", f"73{now}{n:05d}"),
                         aftersale_type=aftersale_type, refund_amount=refund_amount,
                         shop_order_id=extra.pop("shop_order_id", f"69{now}{n:05d}"),
                         sku_order_id=extra.pop("sku_order_id", f"69{now}{n:05d}1"),
                         apply_time=now, update_time=now,
                         status_deadline=now + self.review_seconds, **extra)
        self.cases[case.aftersale_id] = case
        self._changed(case, "200", now)  # DOC tag 200 买家发起售后申请
        return case

    def tick(self) -> None:
        """INVENTED timing, DOC outcome: a passed merchant-review deadline auto-agrees."""
        now = self.now()
        for case in self.cases.values():
            if case.status == 6 and case.status_deadline and case.status_deadline <= now:
                self._agree(case, case.status_deadline)

    def _agree(self, case: AfterSale, at: int) -> None:
        if case.aftersale_type in REFUND_ONLY:
            case.status, case.refund_status, case.status_deadline = 12, 3, 0  # 售后成功, 退款成功
            self._changed(case, "201", at)  # DOC 201 同意退款 (fires for timeout agree too)
            self._changed(case, "206", at)  # DOC 206 退款成功
        else:
            case.status, case.status_deadline = 7, at + RETURN_SECONDS  # DOC 7 待买家退货
            self._changed(case, "202", at)  # DOC 202 同意退货申请

    def _changed(self, case: AfterSale, tag: str, at: int) -> None:
        case.update_time = max(case.update_time, at)
        case.seq += 1
        data = {"aftersale_id": case.aftersale_id, "aftersale_status": case.status,
                "aftersale_type": case.aftersale_type, "p_id": case.shop_order_id,
                "s_id": case.sku_order_id, "refund_amount": case.refund_amount,
                "apply_time": case.apply_time, "update_time": case.update_time,
                "status_deadline": case.status_deadline}
        # DOC push item: {"tag", "msg_id", "data": "<JSON text>"}
        message = {"tag": tag, "msg_id": secrets.token_hex(8),
                   "data": json.dumps(data, ensure_ascii=False)}
        self.pushes.setdefault(case.aftersale_id, []).append(message)
        self.outbox.append(message)

    def operate(self, op_type: int, item: dict[str, Any], key: str | None) -> dict[str, Any]:
        """One /afterSale/operate item. INVENTED: `idempotent_id` (our key) replays the first
        answer; the docs name the error isv.idempotent-id-existed but no operate field."""
        if key is not None and key in self.answers:
            return self.answers[key]
        case = self.cases.get(str(item.get("aftersale_id", "")))
        if case is None:  # DOC isp.service-error:10000 invalid aftersale
            raise OperateError(20000, "isp.service-error:10000", "售后单不存在")
        self.tick()
        version = item.get("update_time")
        if case.status != 6 or (version is not None and int(version) != case.update_time):
            # DOC 50002 isv.business-failed:20309541 aftersale status wrong — re-sync
            raise OperateError(50002, "isv.business-failed:20309541", "售后单状态已变更，请刷新")
        now = self.now()
        if op_type == 201 and case.aftersale_type in REFUND_ONLY:  # DOC 201 agree refund
            self._agree(case, now)
        elif op_type == 101 and case.aftersale_type == 0:  # DOC-inferred 101 agree return
            if not (item.get("logistics") or {}).get("receiver_address_id"):
                raise OperateError(40004, "isv.parameter-invalid", "缺少退货地址")
            self._agree(case, now)
        elif op_type == 202:  # DOC 202 refuse refund-only
            if not all(item.get(k) for k in ("reject_reason_code", "reason", "remark")):
                raise OperateError(40004, "isv.parameter-invalid", "拒绝需要原因")
            case.status, case.status_deadline = 27, 0  # DOC 27 商家一次拒绝
            self._changed(case, "204", now)  # DOC 204 拒绝退款
        else:  # DOC 50002 isv.business-failed:11001: not via OPEN, use the back office
            raise OperateError(50002, "isv.business-failed:11001", "该操作不支持开放平台处理")
        answer = {"aftersale_id": case.aftersale_id, "status_code": 0, "status_msg": "success"}
        self.applied.append({"type": op_type, "aftersale_id": case.aftersale_id, "key": key})
        if key is not None:
            self.answers[key] = answer
        return answer
