"""The concurrency-sensitive API paths on both databases (the rest runs on SQLite).

On PostgreSQL the case row lock is SELECT … FOR UPDATE and the idempotency claim a
unique-key INSERT racing across connections, so the "one winner" properties are checked
there too. `db_url` (tests/conftest.py) is one database per module and kind.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.bootstrap import bootstrap

from .helpers import Desk
from .test_concurrency import REJECT
from .test_role_matrix import ACCEPT


@pytest.fixture(scope="module")
def both(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root: Path = tmp_path_factory.mktemp("both")
    app = bootstrap(db_url, evidence_dir=root / "evidence")
    upgrade(app.engine)
    with TestClient(create_app(app), raise_server_exceptions=False) as client:
        yield Desk(client, app)
    app.engine.dispose()


def test_full_return_flow(both: Desk) -> None:
    shop = both.shop("taobao")
    case = both.open_case(shop, both.order(shop))
    both.act(shop, case["id"], "approve", "agent")
    both.act(shop, case["id"], "ship_return", "buyer", {"carrier": "SF", "waybill": "SFB1", "prepaid": True})
    both.act(shop, case["id"], "receive", "warehouse", {"prepaid": True})
    done = both.act(shop, case["id"], "inspect", "warehouse", ACCEPT).json()
    assert done["state"] == "completed"


def test_parallel_approve_and_reject(both: Desk) -> None:
    shop = both.shop("taobao")
    case = both.open_case(shop, both.order(shop), reason="quality_issue")
    plan = [("approve", {}), ("reject", REJECT)] * 4

    def go(step: tuple[str, dict[str, Any]]) -> Any:
        return both.act(shop, case["id"], step[0], "agent", step[1], expect=None)

    with ThreadPoolExecutor(len(plan)) as pool:
        codes = sorted(r.status_code for r in pool.map(go, plan))
    assert codes.count(200) == 1 and set(codes) == {200, 409}, codes
    moves = [e for e in both.case(shop, case["id"])["events"]
             if e["from_state"] == "requested" and e["to_state"] != "requested"]
    assert len(moves) == 1


def test_parallel_posts_with_one_key(both: Desk) -> None:
    shop = both.shop()
    order = both.order(shop)
    body = {"order_id": order["id"], "type": "refund_only", "reason": "not_as_described",
            "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}]}
    headers = {**shop.auth("buyer"), "Idempotency-Key": "both-1"}

    def post(_: int) -> Any:
        return both.client.post("/api/v1/cases", json=body, headers=headers)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))
    assert {r.status_code for r in results} == {201}, [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    listed = both.client.get("/api/v1/cases", params={"q": order["id"]}, headers=shop.auth("agent"))
    assert len(listed.json()["items"]) == 1


def test_sandbox_clock_fires(both: Desk) -> None:
    shop = both.shop("kuaishou")
    case = both.open_case(shop, both.order(shop), type="refund_only", reason="not_received")
    fired = both.advance(shop, "49h")["fired"]
    assert [f["case_id"] for f in fired] == [case["id"]]
    assert both.case(shop, case["id"])["state"] == "completed"


def test_parallel_openings_on_one_line_open_one_case(both: Desk) -> None:
    """Taobao allows one after-sales request per order line: eight buyers' taps at once on
    the same line leave one case, and the others get the rule's 422."""
    shop = both.shop("taobao")
    order = both.order(shop)

    def go(_: int) -> Any:
        return both.open_case(shop, order, type="refund_only", reason="not_as_described",
                              expect=None)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(go, range(8)))
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1, [r.text for r in results]
    assert {r.json()["error"]["code"] for r in results if r.status_code != 201} \
        <= {"after_sales_already_used", "amount_exceeds_refundable"}, [r.text for r in results]
    listed = both.client.get("/api/v1/cases", params={"limit": 50},
                             headers=shop.auth("agent")).json()["items"]
    assert [c["order_id"] for c in listed].count(order["id"]) == 1


def test_parallel_refunds_on_one_order_stay_within_what_was_paid(both: Desk) -> None:
    """Kuaishou lets a line be asked about again while nothing is refunded; when two such
    cases are approved at once, the second refund sees the first (the order is held while
    a refund is planned): the order's refunds never pass what the buyer paid."""
    shop = both.shop("kuaishou")
    order = both.order(shop)  # one line, 100.00 paid
    first, second = (both.open_case(shop, order, type="refund_only", reason="not_as_described")
                     for _ in range(2))

    def approve(case_id: str) -> Any:
        return both.act(shop, case_id, "approve", "agent", expect=None)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(approve, [first["id"], second["id"]]))
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    refunds = both.client.get("/api/v1/refunds", params={"order_id": order["id"]},
                              headers=shop.auth("finance")).json()["items"]
    assert sum(r["amount"]["amount"] for r in refunds) <= 10000, refunds

