"""Conflicting actions at once on one case: exactly one wins, the others get 409."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .helpers import Desk

REJECT = {"reason_code": "used", "explanation": "吊牌已剪 / tags cut off"}


def test_parallel_approve_and_reject_leave_one_winner(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop), reason="quality_issue")
    plan = [("approve", {}), ("reject", REJECT)] * 4

    def go(step: tuple[str, dict[str, Any]]) -> Any:
        action, body = step
        return desk.act(shop, case["id"], action, "agent", body, expect=None)

    with ThreadPoolExecutor(len(plan)) as pool:
        results = list(pool.map(go, plan))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1, [r.text for r in results]
    assert all(r.json()["error"]["code"] in ("invalid_transition", "version_conflict")
               for r in results if r.status_code != 200)
    assert set(codes) == {200, 409}
    events = desk.case(shop, case["id"])["events"]
    moves = [e for e in events if e["from_state"] == "requested" and e["to_state"] != "requested"]
    assert len(moves) == 1


def test_parallel_refunds_pay_once(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop), type="refund_only", reason="not_as_described")

    def approve(_: int) -> Any:
        return desk.act(shop, case["id"], "approve", "agent", expect=None)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(approve, range(6)))
    assert sorted(r.status_code for r in results).count(200) == 1
    refunds = desk.client.get("/api/v1/refunds", params={"case_id": case["id"]},
                              headers=shop.auth("finance")).json()["items"]
    assert sum(r["amount"]["amount"] for r in refunds if r["kind"] == "goods") == 10000
