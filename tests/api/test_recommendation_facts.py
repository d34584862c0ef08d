"""The recommendation tells what the refund does and judges windows when the buyer applied
(issue 15): the gift rule has one home (refunds.gift_deduction), eligibility windows count
to the application, deadlines to now."""

from __future__ import annotations

from typing import Any

from .helpers import Desk, Shop

GIFT = {"name": "hair clip", "listed_price": {"amount": 990, "currency": "CNY"}}
PASSED = {"verdict": "accept", "condition": "new", "sku_matches": True,
          "accessories_complete": True, "tags_intact": True, "seal_intact": True}


def _order_with_gift(desk: Desk, shop: Shop) -> dict[str, Any]:
    body = desk.order_body(shop, quantity=2, price=5000)
    body["lines"][0]["gifts"] = [GIFT]
    res = desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform"))
    assert res.status_code == 201, res.text
    return res.json()


def _returned(desk: Desk, shop: Shop, case: dict[str, Any], inspection: dict[str, Any]) -> Any:
    desk.act(shop, case["id"], "approve", "agent")
    desk.act(shop, case["id"], "ship_return", "buyer", {"carrier": "SF", "waybill": f"SF{case['id'][-6:]}",
                                                        "prepaid": True})
    desk.act(shop, case["id"], "receive", "warehouse", {"prepaid": True})
    return desk.act(shop, case["id"], "inspect", "warehouse", inspection).json()


def _gift_rules(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in view["recommendation"]["rules"] if r["code"].startswith("gift_")]


def _goods_refunded(desk: Desk, shop: Shop, case_id: str) -> int:
    items = desk.client.get("/api/v1/refunds", params={"case_id": case_id},
                            headers=shop.auth("finance")).json()["items"]
    return sum(e["amount"]["amount"] for e in items if e["kind"] == "goods")


def test_partial_return_gift_kept_nothing_deducted_and_the_recommendation_says_so(desk: Desk) -> None:
    shop = desk.shop("taobao")
    order = _order_with_gift(desk, shop)
    one = [{"line_id": order["lines"][0]["id"], "quantity": 1}]
    case = desk.open_case(shop, order, lines=one)
    done = _returned(desk, shop, case, {**PASSED, "gifts_returned": False})
    assert _goods_refunded(desk, shop, case["id"]) == 5000  # the plan deducts nothing
    [rule] = _gift_rules(done)
    assert rule["code"] == "gift_kept_with_units", rule
    assert "deducted at its listed price" not in rule["en"]


def test_whole_line_back_without_its_gift_the_recommendation_names_the_deduction(desk: Desk) -> None:
    shop = desk.shop("taobao")
    order = _order_with_gift(desk, shop)
    case = desk.open_case(shop, order)
    done = _returned(desk, shop, case, {**PASSED, "gifts_returned": False})
    assert _goods_refunded(desk, shop, case["id"]) == 10000 - 990
    [rule] = _gift_rules(done)
    assert rule["code"] == "gift_deducted" and "9.90 CNY" in rule["en"], rule


def test_no_reason_window_is_judged_when_the_buyer_applied(desk: Desk) -> None:
    """Applied on day 3 after signing, approved, returned and received; a week later the
    recommendation still says the request was in time."""
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop, delivered_days_ago=3))
    desk.act(shop, case["id"], "approve", "agent")
    desk.act(shop, case["id"], "ship_return", "buyer", {"carrier": "SF", "waybill": "SFW1", "prepaid": True})
    desk.act(shop, case["id"], "receive", "warehouse", {"prepaid": True})
    desk.advance(shop, "7d")
    view = desk.case(shop, case["id"])
    assert view["state"] == "inspecting"
    codes = [r["code"] for r in view["recommendation"]["rules"]]
    assert "no_reason_window_passed" not in codes and "within_no_reason_window" in codes, codes
    assert not any("已超过" in r["zh"] for r in view["recommendation"]["rules"])
    assert view["recommendation"]["decision"] != "reject"
