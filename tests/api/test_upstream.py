"""Upstream claims over HTTP (PLATFORMS.md "1688 dropshipping": open or link a claim with
the supplier for each downstream refund, track what was recovered, show what is not)."""

from __future__ import annotations

from typing import Any

from aftersales.adapters.profiles import load_profile

from .helpers import Desk, Shop, assert_error

RULE: dict[str, Any] = load_profile("alibaba_1688").rule("upstream_claim")
CLAIM = {"supplier": "义乌市某某服饰有限公司", "supplier_order_id": "2384756109283746",
         "amount": 4500, "supplier_paid": 5200, "description": "买家收到商品破损，已退款给买家",
         "evidence_count": 2}


def _refunded_case(desk: Desk, shop: Shop) -> dict[str, Any]:
    case = desk.open_case(shop, desk.order(shop), type="refund_only", reason="quality_issue")
    return desk.act(shop, case["id"], "approve", "agent").json()


def _post(desk: Desk, shop: Shop, case_id: str, role: str = "agent", **kw: Any) -> Any:
    return desk.client.post(f"/api/v1/cases/{case_id}/upstream-claims", json={**CLAIM, **kw},
                            headers=shop.auth(role))


def test_open_recover_and_read_back(desk: Desk) -> None:
    shop = desk.shop("alibaba_1688")
    case = _refunded_case(desk, shop)
    res = _post(desk, shop, case["id"])
    assert res.status_code == 201, res.text
    claim = res.json()
    assert claim["status"] == "open" and claim["outstanding"] == {"amount": 4500, "currency": "CNY"}
    url = f"/api/v1/upstream-claims/{claim['id']}"
    part = desk.client.post(f"{url}/recovery", json={"amount": 1500, "currency": "CNY"},
                            headers=shop.auth("finance"))
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "partially_recovered"
    over = desk.client.post(f"{url}/recovery", json={"amount": 3001, "currency": "CNY"},
                            headers=shop.auth("finance"))
    assert_error(over, 422, "recovery_exceeds_claim")
    done = desk.client.post(f"{url}/recovery", json={"amount": 3000, "currency": "CNY"},
                            headers=shop.auth("admin")).json()
    assert done["status"] == "recovered" and done["recovered"]["amount"] == 4500
    assert_error(desk.client.post(f"{url}/recovery", json={"amount": 1, "currency": "CNY"},
                                  headers=shop.auth("finance")), 409, "invalid_transition")
    listed = desk.client.get(f"/api/v1/cases/{case['id']}/upstream-claims",
                             headers=shop.auth("agent")).json()["items"]
    assert [c["id"] for c in listed] == [claim["id"]]
    by_status = desk.client.get("/api/v1/upstream-claims", params={"status": "recovered"},
                                headers=shop.auth("agent")).json()["items"]
    assert [c["id"] for c in by_status] == [claim["id"]]
    assert desk.client.get(url, headers=shop.auth("finance")).json()["status"] == "recovered"
    kinds = [e["kind"] for e in desk.case(shop, case["id"])["events"]]
    assert "upstream_claim_opened" in kinds and kinds.count("upstream_claim_recovered") == 2


def test_the_profile_bounds_the_claim(desk: Desk) -> None:
    """createRefund: description 2–150 characters, 1–5 images, amount ≤ paid — as the
    profile states them, not as numbers written into the code."""
    shop = desk.shop("alibaba_1688")
    case_id = _refunded_case(desk, shop)["id"]
    low, high = RULE["description_min_chars"], RULE["description_max_chars"]
    for kw, code in (({"description": "x" * (low - 1)}, "claim_description_length"),
                     ({"description": "x" * (high + 1)}, "claim_description_length"),
                     ({"evidence_count": RULE["evidence_images_min"] - 1}, "claim_evidence_count"),
                     ({"evidence_count": RULE["evidence_images_max"] + 1}, "claim_evidence_count"),
                     ({"amount": 5201}, "claim_amount_exceeds_paid"),
                     ({"amount": 0}, "invalid_amount")):
        assert_error(_post(desk, shop, case_id, **kw), 422, code)
    assert_error(_post(desk, shop, case_id, amount=12.5), 422, "validation_error")
    assert_error(_post(desk, shop, case_id, color="red"), 422, "validation_error")
    ok = _post(desk, shop, case_id, description="x" * high,
               evidence_count=RULE["evidence_images_max"])
    assert ok.status_code == 201, ok.text
    assert_error(_post(desk, shop, case_id), 409, "claim_already_open")


def test_no_claim_before_money_goes_to_the_buyer(desk: Desk) -> None:
    shop = desk.shop("alibaba_1688")
    case = desk.open_case(shop, desk.order(shop), type="return_refund", reason="quality_issue")
    assert_error(_post(desk, shop, case["id"]), 422, "no_downstream_refund")


def test_roles_and_other_shops(desk: Desk) -> None:
    shop, other = desk.shop("alibaba_1688"), desk.shop("alibaba_1688")
    case_id = _refunded_case(desk, shop)["id"]
    for role in ("buyer", "warehouse", "finance", "platform"):
        assert_error(_post(desk, shop, case_id, role), 403)
    assert_error(_post(desk, other, case_id), 404, "case_not_found")
    claim = _post(desk, shop, case_id).json()
    url = f"/api/v1/upstream-claims/{claim['id']}"
    body = {"amount": 100, "currency": "CNY"}
    for role in ("buyer", "agent", "warehouse", "platform"):
        assert_error(desk.client.post(f"{url}/recovery", json=body, headers=shop.auth(role)), 403)
    assert_error(desk.client.post(f"{url}/recovery", json=body, headers=other.auth("finance")),
                 404, "claim_not_found")
    assert_error(desk.client.get(url, headers=other.auth("admin")), 404)
    assert_error(desk.client.get(url, headers=shop.auth("buyer")), 403)
    assert_error(desk.client.get(f"/api/v1/cases/{case_id}/upstream-claims",
                                 headers=shop.auth("buyer")), 403)
    assert_error(desk.client.get("/api/v1/upstream-claims/unrecovered",
                                 headers=shop.auth("buyer")), 403)
    assert_error(desk.client.get("/api/v1/upstream-claims", params={"status": "lost"},
                                 headers=shop.auth("agent")), 422)
    assert desk.client.get("/api/v1/upstream-claims",
                           headers=other.auth("agent")).json()["items"] == []
    assert_error(desk.client.post(f"{url}/recovery", json={"amount": 100, "currency": "USD"},
                                  headers=shop.auth("finance")), 422, "currency_mismatch")
    assert_error(desk.client.post("/api/v1/upstream-claims/nope%00/refuse", json={},
                                  headers=shop.auth("finance")), 404)
    refused = desk.client.post(f"{url}/refuse", json={"note": "供应商拒绝"},
                               headers=shop.auth("finance"))
    assert refused.status_code == 200 and refused.json()["status"] == "refused"


def test_unrecovered_report(desk: Desk) -> None:
    shop = desk.shop("alibaba_1688")
    bare = _refunded_case(desk, shop)
    claimed = _refunded_case(desk, shop)
    claim = _post(desk, shop, claimed["id"]).json()
    desk.client.post(f"/api/v1/upstream-claims/{claim['id']}/recovery",
                     json={"amount": 500, "currency": "CNY"}, headers=shop.auth("finance"))
    res = desk.client.get("/api/v1/upstream-claims/unrecovered", headers=shop.auth("finance"))
    assert res.status_code == 200, res.text
    report = res.json()
    assert [c["case_id"] for c in report["unclaimed_cases"]] == [bare["id"]]
    unclaimed = report["unclaimed_cases"][0]["refunded"]["amount"]
    assert unclaimed == 10000  # the helper's order: one line paid ¥100
    assert [c["outstanding"]["amount"] for c in report["open_claims"]] == [4000]
    total = report["totals"][0]
    assert total["currency"] == "CNY" and total["at_risk"] == unclaimed + 4000
