"""One status table for both sync paths: every documented status of every platform, read by
the import adapter (`aftersales import`: adapter.parse) and posted over HTTP (POST /cases
with platform_status, mapped through the profile's status_map), must land in one state.

Why: the two paths used to read two tables (the adapters' own dicts, the profiles'
status_map) and disagreed — PDD 15 awaiting_return vs rejected, PDD 33 and Douyin 3/51/53
known to one side only, AliExpress `canceled_issue` spelled `canceled`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

from aftersales.adapters.platforms import PayloadError, adapter_for

from .helpers import Desk

FIXTURES = Path(__file__).parents[1] / "fixtures" / "platforms"
Payload = dict[str, Any]


def _load(name: str) -> Payload:
    data: Payload = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def _vary(name: str, path: tuple[str, ...], values: list[Any],
          **fixed: Any) -> Iterator[Payload]:
    """The fixture with the field at `path` set to each value (and `fixed` beside it)."""
    for value in values:
        payload = copy.deepcopy(_load(name))
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        node.update(fixed)
        yield payload


TAOBAO_STATUSES = ["WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS",
                   "SELLER_REFUSE_BUYER", "CLOSED", "SUCCESS", "WAIT_SELLER_CONSIGN_GOODS",
                   "WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS", "EXCHANGE_TRANSFORM_TO_REFUND"]
TB_REFUND = ("refund_get_response", "refund", "status")
TB_CS = ("refund_get_response", "refund", "cs_status")


def _taobao() -> Iterator[Payload]:
    name = "taobao/return_refund_wait_seller_agree.json"
    yield from _vary(name, TB_REFUND, TAOBAO_STATUSES)
    yield from _vary(name, TB_CS, [1, 2, 3, 4, 5, 6, 10])


def _tmall() -> Iterator[Payload]:
    yield from _taobao()
    yield from _vary("tmall/exchange_object_to_ship.json",
                     ("tmall_exchange_get_response", "result", "exchange", "status"),
                     ["1", "2", "3", "4", "5", "6", "12", "13", "14", "待发出换货商品"])


def _douyin() -> Iterator[Payload]:
    listed = ("aftersale_info", "aftersale_status")
    yield from _vary("douyin/list_item_return_requested.json", listed,
                     [3, 6, 7, 8, 11, 12, 13, 14, 27, 28, 29])
    yield from _vary("douyin/list_item_return_requested.json", ("aftersale_info", "arbitrate_status"),
                     [0, 1, 2, 3, 4, 5, 255])
    yield from _vary("douyin/detail_return_shipped.json",
                     ("data", "process_info", "after_sale_info", "after_sale_status"),
                     [6, 11, 12, 51, 53])


def _kuaishou() -> Iterator[Payload]:
    name = "kuaishou/return_refund_requested.json"
    yield from _vary(name, ("status",), [10, 11, 12, 20, 21, 22, 23, 30, 40, 45, 50, 60, 70])
    yield from _vary(name, ("negotiateStatus",), [1, 2, 3])
    yield from _vary(name, ("negotiateStatus",), [3], status=30)


def _pinduoduo() -> Iterator[Payload]:
    every = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21, 22, 24, 25, 27,
             31, 32, 33]
    yield from _vary("pinduoduo/detail_return_refund.json", ("after_sales_status",), every)
    yield from _vary("pinduoduo/detail_return_refund.json", ("after_sales_status",), [2, 10],
                     dispute_refund_status=1)
    yield from _vary("pinduoduo/list_item_documented.json", ("after_sales_status",), every)
    yield _load("pinduoduo/detail_exchange_agreed.json")


def _wechat() -> Iterator[Payload]:
    every = ["USER_CANCELD", "MERCHANT_PROCESSING", "MERCHANT_REJECT_REFUND",
             "MERCHANT_REJECT_RETURN", "USER_WAIT_RETURN", "RETURN_CLOSED", "MERCHANT_WAIT_RECEIPT",
             "MERCHANT_OVERDUE_REFUND", "MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS",
             "PLATFORM_REFUNDING", "PLATFORM_REFUND_FAIL", "USER_WAIT_CONFIRM",
             "MERCHANT_REFUND_RETRY_FAIL", "MERCHANT_FAIL", "USER_WAIT_CONFIRM_UPDATE",
             "USER_WAIT_HANDLE_MERCHANT_AFTER_SALE", "WAIT_PACKAGE_INTERCEPT",
             "MERCHANT_REJECT_EXCHANGE", "MERCHANT_REJECT_RESHIP", "USER_WAIT_RECEIPT",
             "MERCHANT_EXCHANGE_SUCCESS"]
    yield from _vary("wechat_shop/return_processing.json", ("after_sale_order", "status"), every)
    yield from _vary("wechat_shop/rejected_with_complaint.json", ("after_sale_order", "status"),
                     ["MERCHANT_REJECT_REFUND", "MERCHANT_REJECT_RETURN", "MERCHANT_REFUND_SUCCESS"])


def _aliexpress() -> Iterator[Payload]:
    inner = ("aliexpress_issue_detail_get_response", "result_object")
    name = "aliexpress/refund_wait_seller_accept.json"
    yield from _vary(name, (*inner, "issue_status"), ["processing", "canceled_issue", "finish"])
    solution = (*inner, "buyer_solution_list", "solution_api_dto", 0, "status")
    yield from _vary(name, solution, ["wait_seller_accept", "wait_buyer_accept",
                                      "wait_buyer_and_seller_accept", "buyer_refused",
                                      "seller_accept_and_buyer_refused", "reach_cancle", "reached",
                                      "perform"])
    for fixture in ("return_reached.json", "platform_arbitration.json"):
        payload = _load(f"aliexpress/{fixture}")
        yield payload
        yield {**payload, "buyer_return_no": "LP00123456789"}
    yield _load("aliexpress/detail_timeout_summer.json")


def _alibaba_1688() -> Iterator[Payload]:
    yield from _vary("alibaba_1688/wait_seller_agree.json", ("result", "opOrderRefundModelDetail", "status"),
                     ["waitselleragree", "waitbuyermodify", "waitbuyersend", "waitsellerreceive",
                      "refundsuccess", "refundclose"])


WALKS: dict[str, Callable[[], Iterator[Payload]]] = {
    "taobao": _taobao, "tmall": _tmall, "douyin": _douyin, "kuaishou": _kuaishou,
    "pinduoduo": _pinduoduo, "wechat_shop": _wechat, "aliexpress": _aliexpress,
    "alibaba_1688": _alibaba_1688,
}


def test_every_platform_status_maps_the_same_through_import_and_http(desk: Desk) -> None:
    ids = count()
    disagreements: list[str] = []
    for platform, walk in WALKS.items():
        adapter = adapter_for(platform)
        shop = desk.shop(platform)
        order = desk.order(shop)
        for payload in walk():
            try:
                snap = adapter.parse(payload)  # the import path's reading
            except PayloadError as exc:
                disagreements.append(f"{platform}: import refused: {exc.message}")
                continue
            body = {"order_id": order["id"], "type": "refund_only", "reason": "other",
                    "platform_case_id": f"walk-{next(ids)}", "platform_status": snap.platform_status,
                    "platform_version": 1}
            res = desk.client.post("/api/v1/cases", json=body, headers=shop.auth("platform"))
            got = res.json().get("state") if res.status_code == 201 else res.text
            if got != snap.state.value:
                disagreements.append(f"{platform} {snap.platform_status}: import {snap.state.value}, "
                                     f"http {got}")
    assert disagreements == []
