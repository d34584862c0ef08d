"""`aftersales import` books a platform's refunds within what the order took, on both the
batched and the per-payload path (issue 19: a ¥10,000,000,000 refund on a ¥158 order).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aftersales.adapters.db import tables as t
from aftersales.entrypoints.bootstrap import App
from aftersales.entrypoints.importer import import_file
from conftest import Make

HUGE = 10_000_000_000 * 100
PRICE = 15800


def _payload(order_id: str, refund_id: int, fee: int, status: int = 60) -> str:
    return json.dumps({
        "refundId": refund_id, "oid": order_id, "buyerId": 1, "skuNick": "DRESS-RED-M",
        "status": status, "negotiateStatus": 2, "handlingWay": 1, "refundType": 1,
        "refundFee": fee, "refundReason": 8, "refundReasonDesc": "商品质量问题",
        "updateTime": 1741950000000 + refund_id})


@pytest.mark.parametrize("staged", [True, False], ids=["batched", "per-payload"])
def test_an_import_books_no_more_than_the_order_took(app: App, make: Make, tmp_path: Path,
                                                     staged: bool) -> None:
    shop = make.shop("kuaishou")
    order = make.order(shop, price=PRICE)
    path = tmp_path / "refunds.jsonl"
    path.write_text("\n".join([_payload(order.platform_order_id, 1, HUGE),
                               _payload(order.platform_order_id, 2, PRICE)]) + "\n")
    report = import_file(app, shop.shop.id, "kuaishou", path, staged=staged)
    assert report.errors == [] and report.created == 2
    assert report.replayed_batches == 0
    r = t.refunds.c
    with app.engine.connect() as conn:
        total = conn.execute(select(func.sum(r.amount)).where(r.order_id == order.id)).scalar()
    assert total == PRICE
    d = t.reconciliation_differences.c
    with app.engine.connect() as conn:
        diffs = conn.execute(select(d.reported, d.booked).where(d.order_id == order.id)
                             .order_by(d.reported)).all()
    assert sorted(tuple(x) for x in diffs) == [(PRICE, 0), (HUGE, PRICE)]
    again = import_file(app, shop.shop.id, "kuaishou", path, staged=staged)  # a replay
    assert again.unchanged == 2
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.reconciliation_differences)
                            .where(d.order_id == order.id)).scalar() == 2
