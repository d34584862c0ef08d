"""Money never leaves above what an order took (issue 19, "Money"), on both databases.

Each test is what the issue reproduced through the API: a platform's completed sync with
an absurd amount, two platform cases on one order, our refund plus the platform's mirror,
freight declared without bound, an approval that paid more than it showed, a live shop
whose ledger never settled, unit refunds losing a fen.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.bootstrap import bootstrap

from .helpers import Desk, Shop

HUGE = 10_000_000_000 * 100  # ¥10,000,000,000 in fen
PRICE = 15800  # a ¥158 order


@pytest.fixture(scope="module")
def money(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root: Path = tmp_path_factory.mktemp("money")
    app = bootstrap(db_url, evidence_dir=root / "evidence")
    upgrade(app.engine)
    with TestClient(create_app(app), raise_server_exceptions=False) as client:
        yield Desk(client, app)
    app.engine.dispose()


def sync(desk: Desk, shop: Shop, order: dict[str, Any], pcid: str, status: str, version: int,
         amount: int | None = None, type: str = "refund_only") -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order["id"], "type": type, "reason": "quality_issue",
        "lines": [{"line_id": ln["id"], "quantity": ln["quantity"]} for ln in order["lines"]],
        "platform_case_id": pcid, "platform_status": status, "platform_version": version}
    if amount is not None:
        body["requested_amount"] = {"amount": amount, "currency": "CNY"}
    res = desk.client.post("/api/v1/cases", json=body, headers=shop.auth("platform"))
    assert res.status_code in (200, 201), res.text
    return dict(res.json())


def ledger(desk: Desk, shop: Shop, order: dict[str, Any]) -> list[dict[str, Any]]:
    res = desk.client.get("/api/v1/refunds", params={"order_id": order["id"]},
                          headers=shop.auth("finance"))
    assert res.status_code == 200, res.text
    return list(res.json()["items"])


def booked(desk: Desk, shop: Shop, order: dict[str, Any]) -> int:
    return sum(e["amount"]["amount"] for e in ledger(desk, shop, order) if e["status"] != "failed")


def differences(desk: Desk, shop: Shop, role: str = "finance") -> list[dict[str, Any]]:
    res = desk.client.get("/api/v1/reconciliation/differences", headers=shop.auth(role))
    assert res.status_code == 200, res.text
    return list(res.json()["items"])


def test_a_completed_sync_books_no_more_than_the_order_took(money: Desk) -> None:
    shop = money.shop("kuaishou")
    order = money.order(shop, price=PRICE)
    case = sync(money, shop, order, "KS-HUGE-1", "60", 1, HUGE)
    assert case["state"] == "completed"
    assert case["requested_amount"]["amount"] <= PRICE  # the platform's figure is in history
    assert any(e["kind"] == "platform_amount_capped" for e in money.case(shop, case["id"])["events"])
    assert booked(money, shop, order) == PRICE
    [diff] = differences(money, shop)
    assert (diff["reported"]["amount"], diff["booked"]["amount"]) == (HUGE, PRICE)
    assert diff["difference"]["amount"] == HUGE - PRICE and diff["reference"] == "kuaishou:KS-HUGE-1"
    assert diff["case_id"] == case["id"] and diff["order_id"] == order["id"]
    # a replay, and a newer version saying the same, add nothing
    sync(money, shop, order, "KS-HUGE-1", "60", 1, HUGE)
    sync(money, shop, order, "KS-HUGE-1", "60", 2, HUGE)
    assert booked(money, shop, order) == PRICE and len(differences(money, shop)) == 1
    now = money.now(shop)
    report = money.client.get("/api/v1/reports/summary", headers=shop.auth("finance"), params={
        "from": "2000-01-01T00:00:00+00:00", "to": now.replace(year=now.year + 1).isoformat()})
    assert report.status_code == 200, report.text
    summary = report.json()
    assert summary["loss"]["total"] <= summary["loss"]["sales"]
    assert summary["reconciliation_differences"]["difference"] == HUGE - PRICE


def test_two_platform_cases_on_one_order_book_it_once(money: Desk) -> None:
    shop = money.shop("kuaishou")
    order = money.order(shop, price=PRICE)
    sync(money, shop, order, "KS-TWO-1", "60", 1, PRICE)
    sync(money, shop, order, "KS-TWO-2", "60", 1, PRICE)
    assert booked(money, shop, order) == PRICE
    [diff] = differences(money, shop)
    assert diff["reference"] == "kuaishou:KS-TWO-2" and diff["booked"]["amount"] == 0


def test_our_refund_and_the_platforms_mirror_book_it_once(money: Desk) -> None:
    shop = money.shop("kuaishou")
    order = money.order(shop, price=PRICE)
    case = money.open_case(shop, order, type="refund_only", reason="quality_issue")
    money.act(shop, case["id"], "approve", "agent")
    assert booked(money, shop, order) == PRICE
    sync(money, shop, order, "KS-MIRROR-1", "60", 1, PRICE)
    assert booked(money, shop, order) == PRICE
    assert [d["difference"]["amount"] for d in differences(money, shop)] == [PRICE]


def test_differences_are_for_finance_and_admins_of_the_shop(money: Desk) -> None:
    shop, other = money.shop("kuaishou"), money.shop("kuaishou")
    sync(money, shop, money.order(shop, price=PRICE), "KS-SCOPE-1", "60", 1, HUGE)
    assert len(differences(money, shop, "admin")) == 1
    assert differences(money, other) == []
    for role in ("agent", "warehouse", "platform", "buyer"):
        res = money.client.get("/api/v1/reconciliation/differences", headers=shop.auth(role))
        assert res.status_code == 403, (role, res.text)
        assert res.json()["error"]["code"]


def cny(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


def test_what_is_approved_is_what_is_paid(money: Desk) -> None:
    """Approving ¥50 on an order with ¥8 outbound freight paid ¥58 while the case showed
    ¥50 approved. An approved amount is the total the buyer receives."""
    shop = money.shop("taobao")
    order = money.order(shop, price=10000, freight=800, free_shipping=False)
    case = money.open_case(shop, order, type="refund_only", reason="quality_issue")
    preview = money.case(shop, case["id"])["refund_preview"]
    assert (preview["goods"]["amount"], preview["freight"]["amount"],
            preview["total"]["amount"]) == (10000, 800, 10800)
    done = money.act(shop, case["id"], "approve", "agent", {"amount": cny(5000)}).json()
    assert done["approved_amount"]["amount"] == 5000
    assert booked(money, shop, order) == 5000

    offered = money.order(shop, price=10000, freight=800, free_shipping=False)
    case = money.open_case(shop, offered, type="refund_only", reason="quality_issue")
    money.act(shop, case["id"], "counter_offer", "agent", {"amount": cny(5000)})
    done = money.act(shop, case["id"], "accept_offer", "buyer").json()
    assert done["approved_amount"]["amount"] == 5000 and booked(money, shop, offered) == 5000

    full = money.order(shop, price=10000, freight=800, free_shipping=False)
    case = money.open_case(shop, full, type="refund_only", reason="quality_issue")
    done = money.act(shop, case["id"], "approve", "agent").json()  # no amount: all of it
    assert done["approved_amount"]["amount"] == 10800 == booked(money, shop, full)
    over = money.open_case(shop, money.order(shop, price=10000, freight=800, free_shipping=False),
                           type="refund_only", reason="quality_issue")
    res = money.act(shop, over["id"], "approve", "agent", {"amount": cny(10801)}, expect=None)
    assert res.status_code == 422 and res.json()["error"]["code"] == "amount_exceeds_refundable"


def test_declared_return_freight_is_always_bounded(money: Desk) -> None:
    """`return_freight_cap: null` paid ¥10,000,000,000 of declared freight on a ¥158 order;
    null now means the profile's default bound (taobao: 2500 fen, unconfirmed)."""
    from .test_role_matrix import ACCEPT

    shop = money.shop("taobao")
    res = money.client.put("/api/v1/shop/policy", json={"return_freight_cap": None},
                           headers=shop.auth("admin"))
    assert res.status_code == 200 and res.json()["policy"]["return_freight_cap"] is None
    order = money.order(shop, price=PRICE)
    case = money.open_case(shop, order, reason="quality_issue")
    money.act(shop, case["id"], "approve", "agent")
    money.act(shop, case["id"], "ship_return", "buyer", {
        "carrier": "SF", "waybill": "SF-HUGE-1", "prepaid": True, "return_freight": cny(HUGE)})
    money.act(shop, case["id"], "receive", "warehouse", {"prepaid": True})
    done = money.act(shop, case["id"], "inspect", "warehouse", ACCEPT).json()
    assert done["state"] == "completed"
    freight = [e for e in ledger(money, shop, order) if e["kind"] == "freight"]
    assert [e["amount"]["amount"] for e in freight] == [2500]
    assert booked(money, shop, order) == PRICE + 2500


def test_a_live_shop_settles_from_the_platforms_report(money: Desk) -> None:
    """A live shop's refund waits `pending` (no provider confirms it): when the platform
    reports the refund succeeded, the entries settle with the platform's reference."""
    shop = money.shop("kuaishou", sandbox=False)
    order = money.order(shop, price=PRICE)
    case = sync(money, shop, order, "KS-LIVE-1", "10", 1)
    done = money.act(shop, case["id"], "approve", "agent").json()
    assert done["state"] == "refunding"
    assert [e["status"] for e in ledger(money, shop, order)] == ["pending"]
    assert sync(money, shop, order, "KS-LIVE-1", "60", 2, PRICE)["state"] == "completed"
    [entry] = ledger(money, shop, order)
    assert (entry["status"], entry["reference"]) == ("succeeded", "kuaishou:KS-LIVE-1")
    assert booked(money, shop, order) == PRICE and differences(money, shop) == []


def test_unit_refunds_add_up_to_the_line(money: Desk) -> None:
    """A line paid ¥100.00 for 3 units, refunded one unit at a time three times, gave back
    ¥99.99: the last unit now takes the fen the rounding left."""
    shop = money.shop("kuaishou")  # (Taobao allows one after-sales request per line)
    body = money.order_body(shop, price=3334, quantity=3)
    body["lines"][0]["paid_amount"] = 10000  # a discount spread over the units
    res = money.client.post("/api/v1/orders", json=body, headers=shop.auth("platform"))
    assert res.status_code == 201, res.text
    order = res.json()
    line = order["lines"][0]
    for _ in range(3):
        body = {"order_id": order["id"], "type": "refund_only", "reason": "quality_issue",
                "lines": [{"line_id": line["id"], "quantity": 1}]}
        res = money.client.post("/api/v1/cases", json=body, headers=shop.auth("buyer"))
        assert res.status_code == 201, res.text
        money.act(shop, res.json()["id"], "approve", "agent")
    assert sorted(e["amount"]["amount"] for e in ledger(money, shop, order)) == [3333, 3333, 3334]
    assert booked(money, shop, order) == 10000
