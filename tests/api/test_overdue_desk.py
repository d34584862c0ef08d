"""An overdue case says what it is late for, who must act, and leaves the agent a move
(issue 15): Taobao's day-5 legal alert in `inspecting` fires once; after it the state has
no deadline left, yet the case stays overdue."""

from __future__ import annotations

from typing import Any

from .helpers import Desk, Shop, assert_error


def _overdue_inspection(desk: Desk, shop: Shop) -> dict[str, Any]:
    case = desk.open_case(shop, desk.order(shop))
    desk.act(shop, case["id"], "approve", "agent")
    desk.act(shop, case["id"], "ship_return", "buyer", {"carrier": "SF", "waybill": f"SF{case['id'][-6:]}",
                                                        "prepaid": True})
    desk.act(shop, case["id"], "receive", "warehouse", {"prepaid": True})
    desk.advance(shop, "121h")  # past the day-5 alert (taobao.law_refund_alert_inspecting)
    return case


def test_overdue_inspection_shows_what_it_is_late_for_and_who_must_act(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = _overdue_inspection(desk, shop)
    view = desk.case(shop, case["id"])
    assert view["state"] == "inspecting" and view["overdue"] is True
    assert view["deadline"] is None  # nothing left to fire in this state
    passed = view["passed_deadline"]
    assert passed["rule"] == "taobao.law_refund_alert_inspecting" and passed["overdue"] is True
    assert passed["seconds_left"] < 0
    assert view["waiting_on"] == "warehouse"
    queue = desk.client.get("/api/v1/cases", params={"overdue": "true"},
                            headers=shop.auth("agent")).json()["items"]
    [item] = [c for c in queue if c["id"] == case["id"]]
    assert item["waiting_on"] == "warehouse"
    assert item["passed_deadline"]["rule"] == "taobao.law_refund_alert_inspecting"


def test_the_agent_nudges_the_warehouse_on_the_record(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = _overdue_inspection(desk, shop)
    url = f"/api/v1/cases/{case['id']}/nudge"
    res = desk.client.post(url, json={"note": "买家在催"}, headers=shop.auth("agent"))
    assert res.status_code == 200, res.text
    last = res.json()["events"][-1]
    assert last["kind"] == "nudged" and last["actor"].startswith("agent")
    assert "warehouse" in last["explanation"] and "买家在催" in last["explanation"]
    assert res.json()["state"] == "inspecting"
    assert_error(desk.client.post(url, json={}, headers=shop.auth("buyer")), 403, "forbidden")
    assert_error(desk.client.post(url, json={"note": "x" * 501}, headers=shop.auth("agent")), 422)
    fresh = desk.open_case(shop, desk.order(shop))  # waits on the agent: nobody to nudge
    assert_error(desk.client.post(f"/api/v1/cases/{fresh['id']}/nudge", json={},
                                  headers=shop.auth("agent")), 409, "cannot_nudge")
