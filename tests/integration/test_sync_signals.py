"""`aftersales import` on both databases: the adapters' extra signals reach the case.

Why: adapters computed refund_failed, speed_refund and AliExpress's USD amount, and the
sync service never read them — a failed platform refund looked like one in progress.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aftersales.adapters.db import tables as t
from aftersales.entrypoints.bootstrap import App
from aftersales.entrypoints.importer import import_file
from conftest import Make

FIXTURES = Path(__file__).parents[1] / "fixtures" / "platforms"


def _import(app: App, make: Make, tmp_path: Path, platform: str, *names: str) -> list[Any]:
    """The events of the one case the fixtures make, in order."""
    path = tmp_path / "payloads.jsonl"
    lines = [json.dumps(json.loads((FIXTURES / platform / n).read_text("utf-8")), ensure_ascii=False)
             for n in names]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    shop = make.shop(platform)
    report = import_file(app, shop.shop.id, platform, path)
    assert not report.errors, report.errors
    e = t.case_events.c
    with app.engine.connect() as conn:
        return list(conn.execute(select(e.kind, e.explanation, e.data).where(
            e.shop_id == shop.shop.id).order_by(e.seq)).all())


def test_a_failed_platform_refund_shows_as_an_event(app: App, make: Make, tmp_path: Path) -> None:
    events = _import(app, make, tmp_path, "kuaishou", "refund_failed.json")
    failed = [ev for ev in events if ev.kind == "platform_refund_failed"]
    assert len(failed) == 1
    assert "has not been paid" in failed[0].explanation and failed[0].data["platform_status"] == "70"


def test_a_speed_refund_is_noted_in_the_sync_event(app: App, make: Make, tmp_path: Path) -> None:
    events = _import(app, make, tmp_path, "pinduoduo", "speed_refund_first_seen.json")
    sync = [ev for ev in events if ev.kind == "platform_sync"]
    assert sync and "speed refund: the platform approved it itself" in sync[-1].explanation


def test_aliexpress_keeps_the_usd_amount_beside_the_local_one(app: App, make: Make,
                                                             tmp_path: Path) -> None:
    events = _import(app, make, tmp_path, "aliexpress", "refund_wait_seller_accept.json")
    amounts = [ev for ev in events if ev.kind == "platform_amount"]
    assert len(amounts) == 1
    assert amounts[0].data["amount"] == {"amount": 6665, "currency": "USD"}
    assert "66.65 USD" in amounts[0].explanation
