"""`aftersales import` on both databases: two changes within one platform second both count.

Why: versions built from second-granularity times tied, and an equal version changes
nothing (service/sync.py), so the second change was dropped for good — Douyin 6 → 12 in
one second stayed at 6, and a Taobao detail read after its list item lost the deadline
only the detail carries. Versions now order (modified, rank of the state, detail).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aftersales.adapters.db import tables as t
from aftersales.entrypoints.bootstrap import App
from aftersales.entrypoints.importer import import_file
from conftest import Make

FIXTURES = Path(__file__).parents[1] / "fixtures" / "platforms"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def _write(tmp_path: Path, payloads: list[dict[str, Any]]) -> Path:
    path = tmp_path / "payloads.jsonl"
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in payloads), "utf-8")
    return path


def _case(app: App, shop_id: str) -> Any:
    with app.engine.connect() as conn:
        return conn.execute(select(t.cases).where(t.cases.c.shop_id == shop_id)).one()


@pytest.mark.parametrize("staged", [True, False])
def test_douyin_6_then_12_in_the_same_second_ends_completed(app: App, make: Make, tmp_path: Path,
                                                             staged: bool) -> None:
    requested = _load("douyin/list_item_return_requested.json")
    done = copy.deepcopy(requested)
    done["aftersale_info"]["aftersale_status"] = 12  # 售后成功, same update_time
    shop = make.shop("douyin")
    report = import_file(app, shop.shop.id, "douyin", _write(tmp_path, [requested, done]),
                         staged=staged)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    row = _case(app, shop.shop.id)
    assert (row.state, row.platform_status) == ("completed", "12")


@pytest.mark.parametrize("staged", [True, False])
def test_a_taobao_detail_after_its_list_item_brings_the_deadline(app: App, make: Make,
                                                                  tmp_path: Path, staged: bool) -> None:
    detail = _load("taobao/return_refund_wait_seller_agree.json")["refund_get_response"]["refund"]
    # taobao.refunds.receive.get items: the list's field set, no refund_remind_timeout/cs_status
    listed = {k: v for k, v in detail.items() if k not in ("refund_remind_timeout", "cs_status")}
    shop = make.shop("taobao")
    report = import_file(app, shop.shop.id, "taobao", _write(tmp_path, [listed, detail]),
                         staged=staged)
    assert (report.created, report.updated) == (1, 1)
    row = _case(app, shop.shop.id)
    timeout = detail["refund_remind_timeout"]["timeout"]  # China time
    due = datetime.strptime(timeout, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert row.platform_deadline_at is not None
    got = row.platform_deadline_at.replace(tzinfo=UTC) if row.platform_deadline_at.tzinfo is None \
        else row.platform_deadline_at
    assert (due - got).total_seconds() == 8 * 3600
    again = import_file(app, shop.shop.id, "taobao", _write(tmp_path, [listed]), staged=staged)
    assert again.unchanged == 1  # the list item of the same change carries less: no change
