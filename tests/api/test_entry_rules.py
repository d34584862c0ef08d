"""Who may open a case at all (issue 15): Taobao's after-sales entry after trade success is
used once, a cancelled request included; a money-back case needs something left to pay."""

from __future__ import annotations

import pytest

from .helpers import Desk, assert_error


@pytest.mark.parametrize("platform", ["taobao", "tmall"])
def test_after_trade_success_a_cancelled_case_used_the_entry(desk: Desk, platform: str) -> None:
    """"一旦售後成功、失敗、撤消之後無法再次申請": after 交易成功 the entry is used once."""
    shop = desk.shop(platform)
    order = desk.order(shop, completed_days_ago=2)
    case = desk.open_case(shop, order, type="refund_only", reason="not_as_described")
    assert desk.act(shop, case["id"], "cancel", "buyer").json()["state"] == "closed"
    again = desk.open_case(shop, order, type="refund_only", reason="not_as_described", expect=None)
    error = assert_error(again, 422, "after_sales_already_used")
    assert "商品 0" in error["message"]


def test_before_trade_success_a_cancelled_refund_may_be_asked_again(desk: Desk) -> None:
    shop = desk.shop("taobao")
    order = desk.order(shop)  # delivered, the trade not yet successful
    case = desk.open_case(shop, order, type="refund_only", reason="not_as_described")
    desk.act(shop, case["id"], "cancel", "buyer")
    again = desk.open_case(shop, order, type="refund_only", reason="not_as_described")
    assert again["state"] == "requested"
    # the second one was not cancelled: it counts, before trade success as after
    third = desk.open_case(shop, order, type="refund_only", reason="not_as_described", expect=None)
    assert_error(third, 422, "after_sales_already_used")


@pytest.mark.parametrize("ctype", ["refund_only", "return_refund", "compensation"])
def test_nothing_left_to_refund_is_refused_naming_the_line(desk: Desk, ctype: str) -> None:
    shop = desk.shop("own_store")  # no once-per-line rule: only the money stops it
    order = desk.order(shop, lines=2)
    first_line = [{"line_id": order["lines"][0]["id"], "quantity": 1}]
    paid = desk.open_case(shop, order, type="refund_only", reason="not_as_described",
                          lines=first_line)
    assert desk.act(shop, paid["id"], "approve", "agent").json()["state"] == "completed"
    res = desk.open_case(shop, order, type=ctype, reason="not_as_described", lines=first_line,
                         expect=None)
    error = assert_error(res, 422, "nothing_to_refund")
    assert "SKU-0" in error["message"] and "SKU-1" not in error["message"]
    # the other line still has its money: a case on it opens as before
    other = [{"line_id": order["lines"][1]["id"], "quantity": 1}]
    opened = desk.open_case(shop, order, type=ctype, reason="not_as_described", lines=other)
    assert opened["requested_amount"]["amount"] == 10000
