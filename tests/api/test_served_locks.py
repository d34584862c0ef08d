"""The served API on PostgreSQL, one uvicorn process: an approval stuck behind a row lock
held elsewhere does not hold up the process's other requests (each runs on a thread of
the server's pool), and is answered once the lock is let go."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from aftersales.adapters.db.migrate import upgrade
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service import cases, orders, shops
from aftersales.service.ports import Principal

from .helpers import served_api

pytestmark = pytest.mark.postgres


def _seed(url: str) -> tuple[str, list[str]]:
    """A Kuaishou shop with three requested returns; the agent's token and the case ids."""
    app = bootstrap(url)
    upgrade(app.engine)
    shop = shops.create_shop(app.deps, "锁测试店", "kuaishou", sandbox=True)
    sid, now = shop.shop.id, shop.clock_at
    assert now is not None
    token = shops.create_token(app.deps, sid, "agent")
    ids = []
    for i in range(3):
        line = orders.NewLine(sku="SKU", name="商品", unit_price=10000, quantity=1, paid_amount=10000)
        order, _ = orders.import_order(app.deps, Principal(sid, Role.platform), orders.NewOrder(
            platform_order_id=f"L-{i}", buyer_id="b1", paid_at=now - timedelta(days=5),
            payment_method="alipay", currency="CNY", freight=0, free_shipping=True, lines=(line,),
            shipped_at=now - timedelta(days=4), delivered_at=now - timedelta(days=1)))
        ids.append(cases.open_case(app.deps, Principal(sid, Role.buyer, "b1"), cases.NewCase(
            order_id=order.id, type="return_refund", reason="no_reason",
            lines=((order.lines[0].id, 1),))).case.id)
    app.engine.dispose()
    return token, ids


@pytest.fixture
def served(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    token, ids = _seed(pg_url)
    with served_api(pg_url, tmp_path) as base:
        yield base, token, ids


def _approve(base: str, token: str, case_id: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/cases/{case_id}/actions/approve", json={}, timeout=30,
                      headers={"Authorization": f"Bearer {token}"})


@pytest.mark.slow
def test_a_request_waiting_for_a_lock_does_not_hold_up_the_others(
        served: tuple[str, str, list[str]], pg_url: str) -> None:
    base, token, (stuck, free, later) = served
    assert _approve(base, token, later).status_code == 200  # warm: the token cached
    holder = psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"))
    holder.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (stuck,))
    released = threading.Event()
    timer = threading.Timer(5.0, lambda: (holder.rollback(), released.set()))
    timer.start()
    answers: dict[str, Any] = {}
    waiting = threading.Thread(target=lambda: answers.update(stuck=_approve(base, token, stuck)))
    try:
        waiting.start()
        time.sleep(0.3)
        assert "stuck" not in answers  # waiting for the lock
        started = time.monotonic()
        other = _approve(base, token, free)
        took = time.monotonic() - started
        assert other.status_code == 200 and not released.is_set(), f"answered after {took:.1f} s"
        assert "stuck" not in answers
    finally:
        timer.cancel()
        if not released.is_set():
            holder.rollback()
        waiting.join(timeout=30)
        holder.close()
    assert answers["stuck"].status_code == 200, answers["stuck"].text
    assert answers["stuck"].json()["state"] == "awaiting_return"
