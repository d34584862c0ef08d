"""Upstream claims are staff-only, also where the case tells of them (found in review,
2026-12-06: the buyer read the supplier, its order and the recovery in the case's events)."""

from __future__ import annotations

from .helpers import Desk, assert_error
from .test_upstream import CLAIM, _post, _refunded_case


def test_a_buyer_does_not_see_the_merchants_upstream_claims_through_the_case(desk: Desk) -> None:
    """Upstream claims (the merchant's supplier, the supplier's order, what is claimed and
    recovered) are staff-only: every /upstream-claims route answers the buyer 403. The case
    the buyer reads must not carry the same facts in its event log."""
    shop = desk.shop("alibaba_1688")
    case = _refunded_case(desk, shop)
    claim = _post(desk, shop, case["id"]).json()
    res = desk.client.post(f"/api/v1/upstream-claims/{claim['id']}/recovery",
                           json={"amount": 1500, "currency": "CNY"}, headers=shop.auth("finance"))
    assert res.status_code == 200, res.text
    buyer = shop.auth("buyer")
    assert_error(desk.client.get(f"/api/v1/cases/{case['id']}/upstream-claims", headers=buyer), 403)
    assert_error(desk.client.get(f"/api/v1/upstream-claims/{claim['id']}", headers=buyer), 403)

    seen = desk.client.get(f"/api/v1/cases/{case['id']}", headers=buyer)
    assert seen.status_code == 200, seen.text
    rated = desk.client.post(f"/api/v1/cases/{case['id']}/rating", json={"stars": 5}, headers=buyer)
    assert rated.status_code == 200, rated.text
    for answer in (seen, rated):
        kinds = [e["kind"] for e in answer.json()["events"]]
        assert not [k for k in kinds if k.startswith("upstream_claim")], kinds
        for secret in (CLAIM["supplier"], CLAIM["supplier_order_id"], claim["id"]):
            assert secret not in answer.text, f"the buyer reads {secret!r} in the case"


def test_warehouse_staff_do_not_see_upstream_claims_but_agents_do(desk: Desk) -> None:
    shop = desk.shop("alibaba_1688")
    case = _refunded_case(desk, shop)
    _post(desk, shop, case["id"])
    kinds = {role: [e["kind"] for e in desk.case(shop, case["id"], role)["events"]]
             for role in ("warehouse", "agent", "finance", "admin")}
    assert not [k for k in kinds["warehouse"] if k.startswith("upstream_claim")]
    assert all("upstream_claim_opened" in kinds[r] for r in ("agent", "finance", "admin"))
