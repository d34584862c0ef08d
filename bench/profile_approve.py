"""Where an approve's CPU goes, through the whole FastAPI app in one thread (the thread-pool
hop replaced by a direct call so cProfile sees everything): own CPU time by package.

    .venv/bin/python bench/profile_approve.py postgresql+psycopg://postgres@127.0.0.1/DB 300
    .venv/bin/python bench/profile_approve.py sqlite:////tmp/prof.db 300

The database must exist (empty or migrated); the shop, orders and cases are made here.
The in-process HTTP client (httpx) shows in the figures; a real request does not pay it.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx

from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.migrate import upgrade
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service import cases, orders, shops
from aftersales.service.ports import Principal

GROUPS = ("aftersales/adapters", "aftersales/domain", "aftersales/service",
          "aftersales/entrypoints", "sqlalchemy", "psycopg", "fastapi", "starlette", "pydantic",
          "httpx", "anyio", "asyncio", "json")


async def _direct(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _group(filename: str, name: str) -> str:
    for key in GROUPS:
        if f"/{key}/" in filename:
            return key
    if filename == "~":
        return "psycopg/sqlite3 C" if ("pq" in name or "sqlite3" in name) else "builtins (C)"
    return "other python"


def _seed(url: str, n: int) -> tuple[Any, str, list[str]]:
    engine = make_engine(url)
    upgrade(engine)
    app = bootstrap(engine=engine)
    shop = shops.create_shop(app.deps, "prof", "kuaishou", sandbox=True)
    sid, now = shop.shop.id, shop.clock_at
    assert now is not None
    token = shops.create_token(app.deps, sid, "agent")
    ids = []
    for i in range(n):
        line = orders.NewLine(sku="S", name="n", unit_price=10000, quantity=1, paid_amount=10000)
        order, _ = orders.import_order(app.deps, Principal(sid, Role.platform), orders.NewOrder(
            platform_order_id=f"P-{i}-{os.getpid()}", buyer_id="b1",
            paid_at=now - timedelta(days=5), payment_method="alipay", currency="CNY", freight=0,
            free_shipping=True, lines=(line,), shipped_at=now - timedelta(days=4),
            delivered_at=now - timedelta(days=1)))
        ids.append(cases.open_case(app.deps, Principal(sid, Role.buyer, "b1"), cases.NewCase(
            order_id=order.id, type="return_refund", reason="no_reason",
            lines=((order.lines[0].id, 1),))).case.id)
    return app, token, ids


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    fastapi.routing.run_in_threadpool = _direct  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = _direct  # type: ignore[assignment]
    app, token, ids = _seed(url, n + 20)
    web = create_app(app, console=False)

    async def run(todo: list[str]) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(web), base_url="http://t") as c:
            for cid in todo:
                r = await c.post(f"/api/v1/cases/{cid}/actions/approve", json={},
                                 headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text

    asyncio.run(run(ids[:20]))  # warm: the token cached, statements compiled
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    asyncio.run(run(ids[20:]))
    prof.disable()
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    groups: dict[str, float] = defaultdict(float)
    for (filename, _line, name), v in raw.items():
        groups[_group(filename, name)] += v[2]
    print(f"{n} approves, {1000 * total / n:.2f} ms CPU each under cProfile")
    for key, value in sorted(groups.items(), key=lambda x: -x[1]):
        print(f"  {key:24s} {100 * value / total:5.1f}%")
    app.engine.dispose()


if __name__ == "__main__":
    main()
