"""Each route of API.md: status codes, shapes and the fields it promises."""

from __future__ import annotations

from datetime import datetime, timedelta

from .helpers import Desk, assert_error


def test_orders_201_then_200_and_readable(desk: Desk) -> None:
    shop = desk.shop()
    body = desk.order_body(shop, lines=2)
    body["lines"][0]["gifts"] = [{"name": "hair clip", "listed_price": {"amount": 990, "currency": "CNY"}}]
    body["lines"][1]["accessories"] = [{"name": "dust bag", "listed_price": 500}]
    first = desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform"))
    assert first.status_code == 201, first.text
    order = first.json()
    assert order["id"] and all(ln["id"] for ln in order["lines"])
    assert order["lines"][0]["gifts"][0]["listed_price"] == {"amount": 990, "currency": "CNY"}
    again = desk.client.post("/api/v1/orders", json=body, headers=shop.auth("admin"))
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    got = desk.client.get(f"/api/v1/orders/{order['id']}", headers=shop.auth("agent"))
    assert got.json() == order
    assert datetime.fromisoformat(got.json()["paid_at"]).utcoffset() is not None


def test_order_money_in_another_currency_is_refused(desk: Desk) -> None:
    shop = desk.shop()
    body = desk.order_body(shop)
    body["freight"] = {"amount": 500, "currency": "USD"}
    res = desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform"))
    assert_error(res, 422, "currency_mismatch")


def test_unknown_order_is_404(desk: Desk) -> None:
    shop = desk.shop()
    assert_error(desk.client.get("/api/v1/orders/0196a3e4-0000-7000-8000-000000000000",
                                 headers=shop.auth("agent")), 404, "order_not_found")


def test_case_has_the_fields_api_md_names(desk: Desk) -> None:
    shop = desk.shop("kuaishou")
    case = desk.open_case(shop, desk.order(shop), type="refund_only", reason="not_received",
                          requested_amount={"amount": 8000, "currency": "CNY"},
                          refund_method="balance", description="没收到 / never arrived")
    for key in ("id", "order_id", "type", "reason", "state", "lines", "requested_amount",
                "approved_amount", "refund_method", "deadline", "overdue", "recommendation",
                "version", "events"):
        assert key in case, key
    assert case["requested_amount"] == {"amount": 8000, "currency": "CNY"}
    assert case["refund_method"] == "balance"
    assert set(case["deadline"]) >= {"at", "outcome", "source", "rule"}
    assert case["deadline"]["source"] == "profile"
    assert datetime.fromisoformat(case["deadline"]["at"]).utcoffset() is not None
    assert set(case["recommendation"]) >= {"decision", "rules"}
    assert all(set(r) >= {"code", "explanation"} for r in case["recommendation"]["rules"])
    assert all(set(e) >= {"at", "actor", "kind", "from_state", "to_state", "explanation"}
               for e in case["events"])


def test_requested_amount_as_minor_units_or_money(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop), requested_amount=5000)
    assert case["requested_amount"] == {"amount": 5000, "currency": "CNY"}
    order = desk.order(shop)
    res = desk.client.post("/api/v1/cases", headers=shop.auth("buyer"), json={
        "order_id": order["id"], "type": "refund_only", "reason": "no_reason",
        "requested_amount": {"amount": 5000, "currency": "USD"}})
    assert_error(res, 422, "currency_mismatch")


def test_rule_refusals_answer_422_with_the_rules_code(desk: Desk) -> None:
    shop = desk.shop("taobao")
    order = desk.order(shop)
    res = desk.client.post("/api/v1/cases", headers=shop.auth("buyer"), json={
        "order_id": order["id"], "type": "refund_only", "reason": "not_as_described",
        "requested_amount": 10**6})
    assert_error(res, 422, "amount_exceeds_refundable")


def test_case_queue_filters_and_cursor(desk: Desk) -> None:
    shop = desk.shop("kuaishou")
    ids = [desk.open_case(shop, desk.order(shop), type="refund_only", reason="not_received")["id"]
           for _ in range(5)]
    other = desk.open_case(shop, desk.order(shop), type="return_refund", reason="no_reason")
    desk.act(shop, other["id"], "approve", "agent")
    page = desk.client.get("/api/v1/cases", params={"limit": 2, "state": "requested"},
                           headers=shop.auth("agent")).json()
    seen = [c["id"] for c in page["items"]]
    while page["next_cursor"]:
        page = desk.client.get("/api/v1/cases", params={"limit": 2, "state": "requested",
                                                        "cursor": page["next_cursor"]},
                               headers=shop.auth("agent")).json()
        seen += [c["id"] for c in page["items"]]
    assert sorted(seen) == sorted(ids)
    every = desk.client.get("/api/v1/cases", headers=shop.auth("agent")).json()["items"]
    dues = [c["deadline"]["at"] for c in every if c["deadline"]]
    assert dues == sorted(dues, key=datetime.fromisoformat), "soonest deadline first"
    assert all("near_timeout" in c for c in every)
    by_type = desk.client.get("/api/v1/cases", params={"type": "return_refund"},
                              headers=shop.auth("agent")).json()["items"]
    assert [c["id"] for c in by_type] == [other["id"]]
    soon = (desk.now(shop) + timedelta(hours=49)).isoformat()
    due = desk.client.get("/api/v1/cases", params={"due_before": soon, "platform": "kuaishou"},
                          headers=shop.auth("agent")).json()["items"]
    assert sorted(c["id"] for c in due) == sorted(ids)
    assert desk.client.get("/api/v1/cases", params={"q": other["order_id"]},
                           headers=shop.auth("agent")).json()["items"][0]["id"] == other["id"]
    for bad in ({"state": "nope"}, {"limit": 0}, {"limit": 1000}, {"cursor": "!!"},
                {"overdue": "perhaps"}, {"due_before": "tomorrow"}):
        assert_error(desk.client.get("/api/v1/cases", params=bad, headers=shop.auth("agent")),
                     422, "validation_error")
    assert_error(desk.client.get("/api/v1/cases", params={"cursor": "bm90IGpzb24"},
                                 headers=shop.auth("agent")), 422)


def test_unknown_action_is_404(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    for action in ("frobnicate", "auto_refund", "confirm_receipt", "refund_succeeded"):
        res = desk.act(shop, case["id"], action, "admin", expect=None)
        assert_error(res, 404, "unknown_action")


def test_action_bodies_are_validated(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    for action, body in (("reject", {"reason_code": "used"}), ("ship_return", {"carrier": "SF"}),
                         ("inspect", {"verdict": "maybe"}), ("rule", {"in_favor_of": "nobody"}),
                         ("counter_offer", {"amount": 100}), ("approve", {"amount": {"amount": -1,
                                                                                      "currency": "CNY"}}),
                         ("receive", {"prepaid": "yes"}), ("cancel", {"why": "x"})):
        res = desk.act(shop, case["id"], action, "admin", body, expect=None)
        assert_error(res, 422, "validation_error")
    res = desk.client.post(f"/api/v1/cases/{case['id']}/actions/cancel", headers=shop.auth("buyer"))
    assert res.status_code == 200 and res.json()["state"] == "closed"


def test_cod_return_is_refused_at_the_warehouse(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop))
    desk.act(shop, case["id"], "approve", "agent")
    desk.act(shop, case["id"], "ship_return", "buyer", {"carrier": "SF", "waybill": "SFC1", "prepaid": False})
    back = desk.act(shop, case["id"], "receive", "warehouse", {"prepaid": False}).json()
    assert back["state"] == "awaiting_return"
    assert back["events"][-1]["kind"] == "parcel_refused_cod"


def test_inspect_refuse_and_extra_inspection_fields(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop), reason="quality_issue")
    desk.act(shop, case["id"], "approve", "agent")
    desk.act(shop, case["id"], "ship_return", "buyer", {
        "carrier": "SF", "waybill": "SFI1", "prepaid": True,
        "return_freight": {"amount": 1200, "currency": "CNY"}})
    desk.act(shop, case["id"], "receive", "warehouse", {"carrier": "SF", "waybill": "SFI1", "prepaid": True})
    line = case["lines"][0]["line_id"]
    done = desk.act(shop, case["id"], "inspect", "warehouse", {
        "verdict": "refuse", "condition": "used", "sku_matches": True, "accessories_complete": True,
        "gifts_returned": True, "tags_intact": False, "seal_intact": False,
        "packaging_only_flaw": False, "quality_problem_found": False,
        "dispositions": {line: "return_to_buyer"}, "note": "吊牌已剪 / tags cut"}).json()
    assert done["state"] == "rejected"
    assert done["inspection"]["dispositions"] == {line: "return_to_buyer"}
    assert done["events"][-1]["explanation"] == "吊牌已剪 / tags cut"


def test_messages_and_rating(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop), type="refund_only", reason="not_as_described")
    url = f"/api/v1/cases/{case['id']}/messages"
    posted = desk.client.post(url, json={"body": "  请看照片 "}, headers=shop.auth("buyer"))
    assert posted.status_code == 201 and posted.json()["body"] == "请看照片"
    desk.client.post(url, json={"body": "收到"}, headers=shop.auth("agent"))
    thread = desk.client.get(url, headers=shop.auth("buyer")).json()["items"]
    assert [m["body"] for m in thread] == ["请看照片", "收到"]
    assert_error(desk.client.post(url, json={"body": ""}, headers=shop.auth("buyer")), 422)
    rating = f"/api/v1/cases/{case['id']}/rating"
    assert_error(desk.client.post(rating, json={"stars": 5}, headers=shop.auth("buyer")), 422,
                 "cannot_rate")
    desk.act(shop, case["id"], "approve", "agent")
    assert_error(desk.client.post(rating, json={"stars": 6}, headers=shop.auth("buyer")), 422,
                 "validation_error")
    assert_error(desk.client.post(rating, json={"stars": 5}, headers=shop.auth("agent")), 403)
    rated = desk.client.post(rating, json={"stars": 2}, headers=shop.auth("buyer"))
    assert rated.status_code == 200 and rated.json()["rating"] == 2


def test_parcels_scan_match_unmatched_and_attach(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop))
    desk.act(shop, case["id"], "approve", "agent")
    desk.act(shop, case["id"], "ship_return", "buyer", {"carrier": "SF", "waybill": "SF777", "prepaid": True})
    found = desk.client.post("/api/v1/parcels/scan", json={"carrier": "SF", "waybill": "SF777"},
                             headers=shop.auth("warehouse"))
    assert found.status_code == 200 and found.json()["id"] == case["id"]
    lost = desk.client.post("/api/v1/parcels/scan", json={"waybill": "YT0000"},
                            headers=shop.auth("warehouse"))
    assert_error(lost, 404, "unmatched_parcel")
    waiting = desk.client.get("/api/v1/parcels", params={"status": "unmatched"},
                              headers=shop.auth("warehouse")).json()["items"]
    assert [p["waybill"] for p in waiting] == ["YT0000"]
    attached = desk.client.post(f"/api/v1/parcels/{waiting[0]['id']}/attach",
                                json={"case_id": case["id"]}, headers=shop.auth("warehouse"))
    assert attached.status_code == 200, attached.text
    assert attached.json()["events"][-1]["kind"] == "parcel_attached"
    again = desk.client.post(f"/api/v1/parcels/{waiting[0]['id']}/attach",
                             json={"case_id": case["id"]}, headers=shop.auth("warehouse"))
    assert_error(again, 404, "parcel_not_found")
    assert_error(desk.client.get("/api/v1/parcels", params={"status": "lost"},
                                 headers=shop.auth("warehouse")), 422)


def test_refunds_ledger_entries(desk: Desk) -> None:
    shop = desk.shop("taobao")
    order = desk.order(shop)
    case = desk.open_case(shop, order, type="refund_only", reason="not_as_described")
    assert desk.act(shop, case["id"], "approve", "agent").json()["state"] == "completed"
    for params in ({"case_id": case["id"]}, {"order_id": order["id"]}, {}):
        res = desk.client.get("/api/v1/refunds", params=params, headers=shop.auth("finance"))
        items = res.json()["items"]
        assert len(items) == 1
        entry = items[0]
        assert set(entry) >= {"id", "case_id", "kind", "amount", "method", "status", "reference", "at"}
        assert entry["kind"] == "goods" and entry["status"] == "succeeded"
        assert entry["amount"] == {"amount": 10000, "currency": "CNY"}


def test_offline_refund_waits_for_finance(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop), type="refund_only", reason="not_as_described",
                          refund_method="offline")
    assert desk.act(shop, case["id"], "approve", "agent").json()["state"] == "refunding"
    done = desk.act(shop, case["id"], "mark_refunded", "finance", {"reference": "BANK-42"}).json()
    assert done["state"] == "completed"
    items = desk.client.get("/api/v1/refunds", params={"case_id": case["id"]},
                            headers=shop.auth("finance")).json()["items"]
    assert items[0]["reference"] == "BANK-42"


def test_clock(desk: Desk) -> None:
    shop = desk.shop()
    start = desk.now(shop)
    moved = desk.advance(shop, "30m")
    assert datetime.fromisoformat(moved["now"]) == start + timedelta(minutes=30)
    assert moved["fired"] == []
    target = (start + timedelta(days=1)).isoformat()
    res = desk.client.post("/api/v1/clock/advance", json={"to": target}, headers=shop.auth("admin"))
    assert datetime.fromisoformat(res.json()["now"]) == start + timedelta(days=1)
    assert datetime.fromisoformat(desk.client.get("/api/v1/clock", headers=shop.auth("buyer"))
                                  .json()["now"]) == start + timedelta(days=1)
    for bad in ({}, {"by": "1h", "to": target}, {"by": "soon"}, {"to": start.isoformat()}):
        res = desk.client.post("/api/v1/clock/advance", json=bad, headers=shop.auth("admin"))
        assert_error(res, 422)
    live = desk.shop(sandbox=False)
    res = desk.client.post("/api/v1/clock/advance", json={"by": "1h"}, headers=live.auth("admin"))
    assert_error(res, 409, "not_a_sandbox")
    assert desk.client.get("/api/v1/clock", headers=live.auth("admin")).status_code == 200


def test_reports_summary(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = desk.open_case(shop, desk.order(shop), type="refund_only", reason="not_as_described")
    desk.act(shop, case["id"], "approve", "agent")
    now = desk.now(shop)
    params = {"from": (now - timedelta(days=30)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
    report = desk.client.get("/api/v1/reports/summary", params=params, headers=shop.auth("admin"))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["cases"] == 1 and "refund_rate" in body and "loss" in body
    assert_error(desk.client.get("/api/v1/reports/summary", params=params, headers=shop.auth("buyer")), 403)
    assert_error(desk.client.get("/api/v1/reports/summary", params={"from": params["from"]},
                                 headers=shop.auth("admin")), 422, "validation_error")
    backwards = {"from": params["to"], "to": params["from"]}
    assert_error(desk.client.get("/api/v1/reports/summary", params=backwards,
                                 headers=shop.auth("admin")), 422)


def test_openapi_document(desk: Desk) -> None:
    doc = desk.client.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    for path in ("/api/v1/orders", "/api/v1/cases", "/api/v1/cases/{case_id}",
                 "/api/v1/cases/{case_id}/actions/approve", "/api/v1/cases/{case_id}/evidence",
                 "/api/v1/parcels/scan", "/api/v1/refunds", "/api/v1/clock/advance",
                 "/api/v1/reports/summary", "/api/v1/health"):
        assert path in paths, path
    schemas = doc["components"]["schemas"]
    assert schemas["OrderIn"].get("examples") and schemas["CaseIn"].get("examples")
    assert schemas["Inspect"].get("examples")
    post_params = [p["name"] for p in paths["/api/v1/orders"]["post"]["parameters"]]
    assert "Idempotency-Key" in post_params
    assert desk.client.get("/api/v1/docs").status_code == 200
