"""POST /cases with platform_case_id: the platform's case mirrored, by version."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .helpers import Desk, Shop, assert_error


def sync(desk: Desk, shop: Shop, order: dict[str, Any], status: str, version: int | None,
         **extra: Any) -> Any:
    body = {"order_id": order["id"], "type": "return_refund", "reason": "quality_issue",
            "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}],
            "platform_case_id": extra.pop("pcid", "KS-R-1"), "platform_status": status, **extra}
    if version is not None:
        body["platform_version"] = version
    return desk.client.post("/api/v1/cases", json=body, headers=shop.auth("platform"))


def test_versions_decide(desk: Desk) -> None:
    shop = desk.shop("kuaishou")
    order = desk.order(shop)
    created = sync(desk, shop, order, "11", 100)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["state"] == "requested" and case["platform_case_id"] == "KS-R-1"
    same = sync(desk, shop, order, "30", 100)
    assert same.status_code == 200 and same.json()["state"] == "requested"
    older = sync(desk, shop, order, "30", 99)
    assert older.status_code == 200 and older.json()["version"] == case["version"]
    newer = sync(desk, shop, order, "30", 101)
    assert newer.status_code == 200 and newer.json()["id"] == case["id"]
    assert newer.json()["state"] == "awaiting_return"
    assert newer.json()["platform_status"] == "30"
    rejected = sync(desk, shop, order, "11;negotiateStatus=3", 102)
    assert rejected.json()["state"] == "rejected"
    events = desk.case(shop, case["id"])["events"]
    assert any(e["kind"] == "platform_sync" and e["actor"] == "platform" for e in events)


def test_a_platform_deadline_wins(desk: Desk) -> None:
    shop = desk.shop("kuaishou")
    order = desk.order(shop)
    due = (desk.now(shop) + timedelta(hours=30)).replace(microsecond=0)
    res = sync(desk, shop, order, "40", 5, platform_deadline=due.isoformat(), pcid="KS-D-1")
    assert res.status_code == 201, res.text
    deadline = res.json()["deadline"]
    assert deadline["source"] == "platform"
    assert datetime.fromisoformat(deadline["at"]) == due


def test_status_codes_map_through_the_profile(desk: Desk) -> None:
    shop = desk.shop("taobao")
    order = desk.order(shop)
    res = sync(desk, shop, order, "cs_status=2", 1, pcid="TB-1")
    assert res.status_code == 201 and res.json()["state"] == "disputed"
    res = sync(desk, shop, desk.order(shop), "WAIT_BUYER_RETURN_GOODS", 1, pcid="TB-2")
    assert res.json()["state"] == "awaiting_return"


def test_bad_sync_input(desk: Desk) -> None:
    shop = desk.shop("kuaishou")
    order = desk.order(shop)
    assert_error(sync(desk, shop, order, "999", 1, pcid="KS-X"), 422, "unknown_platform_status")
    body = {"order_id": order["id"], "type": "refund_only", "reason": "other", "platform_case_id": "KS-Y"}
    res = desk.client.post("/api/v1/cases", json=body, headers=shop.auth("platform"))
    assert_error(res, 422, "platform_status_required")
    body.update(platform_status="10", order_id="0196a3e4-0000-7000-8000-000000000000")
    assert_error(desk.client.post("/api/v1/cases", json=body, headers=shop.auth("platform")), 404)
