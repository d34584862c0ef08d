"""The merchant policy is data per shop, set by the shop's admin and used at once."""

from __future__ import annotations

from .helpers import Desk, assert_error

POLICY = {"auto_approve": [{"max_amount": 30000, "types": ["refund_only"]}],
          "extra": {"alert_email": "ops@example.com"}}


def test_an_admin_sets_the_policy_and_it_decides_the_next_request(desk: Desk) -> None:
    """DOMAIN.md: "auto-approval rules the merchant sets (e.g. refund-only under ¥30 …) is
    approved at once" — set through the API, the next refund-only request is approved."""
    shop = desk.shop("taobao")
    res = desk.client.put("/api/v1/shop/policy", json=POLICY, headers=shop.auth("admin"))
    assert res.status_code == 200, res.text
    assert res.json()["policy"]["auto_approve"][0]["max_amount"] == 30000
    got = desk.client.get("/api/v1/shop", headers=shop.auth("agent")).json()
    assert got["policy"]["extra"]["alert_email"] == "ops@example.com"
    case = desk.open_case(shop, desk.order(shop), type="refund_only", reason="no_reason")
    assert case["state"] in ("refunding", "completed")
    assert any(e["reason_code"] == "auto_approval_rule" for e in case["events"])


def test_only_the_admin_sets_it_and_bad_policies_change_nothing(desk: Desk) -> None:
    shop = desk.shop("taobao")
    for role in ("agent", "warehouse", "finance", "buyer", "platform"):
        res = desk.client.put("/api/v1/shop/policy", json=POLICY, headers=shop.auth(role))
        assert_error(res, 403)
    for bad in ({"auto_approve": [{"max_amount": 29.99}]}, {"auto_approve": [{"types": ["x"]}]},
                {"return_freight_cap": -1}, {"no_reason_days": "seven"}):
        res = desk.client.put("/api/v1/shop/policy", json=bad, headers=shop.auth("admin"))
        assert_error(res, 422, "invalid_policy")
    res = desk.client.put("/api/v1/shop/policy", json=[1, 2], headers=shop.auth("admin"))
    assert res.status_code == 422
    assert desk.client.get("/api/v1/shop", headers=shop.auth("admin")).json()["policy"][
        "auto_approve"] == []
    assert_error(desk.client.get("/api/v1/shop", headers=shop.auth("buyer")), 403)
    assert_error(desk.client.get("/api/v1/shop"), 401)


def test_shipping_the_order_closes_an_unshipped_taobao_refund(desk: Desk) -> None:
    """PLATFORMS.md Taobao: the seller cannot refuse an unshipped refund-only request, but
    shipping in time closes it; the order then counts as shipped."""
    shop = desk.shop("taobao")
    order = desk.order(shop, shipped_at=None, delivered_days_ago=None)
    case = desk.open_case(shop, order, type="refund_only", reason="no_reason")
    refused = desk.act(shop, case["id"], "reject", "agent",
                       {"reason_code": "other", "explanation": "已发货"}, expect=None)
    assert_error(refused, 422, "cannot_refuse")
    closed = desk.act(shop, case["id"], "ship_order", "warehouse",
                      {"carrier": "SF", "waybill": "SF100200300"}).json()
    assert closed["state"] == "closed" and closed["events"][-1]["kind"] == "ship_order"
    got = desk.client.get(f"/api/v1/orders/{order['id']}", headers=shop.auth("agent")).json()
    assert got["shipped_at"] is not None
