"""Concurrent refund-causing tries against a served API, and the money checks after them.

Issue 19's figure: however refunds race — one idempotency key sent many times, many keys,
approve against reject, approve against a deadline firing, sync replays, sibling cases on
one order — no order's ledger goes above what the order took (0 over-refunds) and no case
is paid twice for the same kind (0 double entries). Used by tests/api/test_money_race.py
(a bounded count, in CI) and bench/money_race.py (full size).

The server is `aftersales serve --workers 2` as a real process; the tries go out together
from a thread pool, each group's requests next to each other so they overlap; the checks
read the database afterwards.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from aftersales.adapters.db import tables as t
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service.shops import create_shop, create_token
from servers import serving

ROLES = ("admin", "agent", "finance", "platform")
PRICE = 15800
HUGE = 10_000_000_000 * 100
REJECT = {"reason_code": "used", "explanation": "吊牌已剪 / tags cut off"}
SCENARIOS = ("same_key", "different_keys", "approve_vs_reject", "approve_vs_deadline",
             "sync_replays", "sibling_cases")
_seq = itertools.count(1)

Try = Callable[[], httpx.Response]


def _command(port: int) -> list[str]:
    cli = Path(sys.executable).parent / "aftersales"
    return [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]


@contextmanager
def served(database: str, data_dir: Path) -> Iterator[str]:
    env = {"AFTERSALES_DATABASE_URL": database, "AFTERSALES_DATA_DIR": str(data_dir)}
    # (a loaded machine starts two workers slowly: uvicorn restarts one that misses a ping)
    with serving(_command, env, log=data_dir / "server.log", seconds=180) as url:
        yield url


@dataclass
class RaceShop:
    id: str
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_shops(database: str, count: int) -> list[RaceShop]:
    app = bootstrap(database)
    try:
        out = []
        for _ in range(count):
            record = create_shop(app.deps, f"race {next(_seq)}", "kuaishou", sandbox=True)
            tokens = {role: create_token(app.deps, record.shop.id, role) for role in ROLES}
            tokens["buyer"] = create_token(app.deps, record.shop.id, "buyer", "buyer-1")
            out.append(RaceShop(record.shop.id, tokens))
        return out
    finally:
        app.engine.dispose()


@dataclass
class Race:
    http: httpx.Client
    database: str
    groups: list[tuple[str, list[Try]]] = field(default_factory=list)

    # --- setup (not counted) ---------------------------------------------------------------
    def _ok(self, res: httpx.Response) -> dict[str, Any]:
        assert res.status_code in (200, 201), res.text
        return dict(res.json())

    def order(self, shop: RaceShop) -> dict[str, Any]:
        now = datetime.fromisoformat(self._ok(self.http.get("/clock", headers=shop.auth("admin")))["now"])

        def ago(days: float) -> str:
            return (now - timedelta(days=days)).isoformat()

        body = {"platform_order_id": f"R-{next(_seq)}", "buyer_id": "buyer-1", "paid_at": ago(5),
                "shipped_at": ago(4), "delivered_at": ago(2), "payment_method": "alipay",
                "currency": "CNY", "freight": 0, "free_shipping": True,
                "lines": [{"sku": "SKU-1", "name": "商品", "unit_price": PRICE, "quantity": 1,
                           "paid_amount": PRICE}]}
        return self._ok(self.http.post("/orders", json=body, headers=shop.auth("platform")))

    def case(self, shop: RaceShop, order: dict[str, Any], reason: str = "quality_issue") -> str:
        body = {"order_id": order["id"], "type": "refund_only", "reason": reason,
                "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}]}
        return str(self._ok(self.http.post("/cases", json=body, headers=shop.auth("buyer")))["id"])

    # --- tries -------------------------------------------------------------------------------
    def act(self, shop: RaceShop, case_id: str, action: str, body: dict[str, Any] | None = None,
            key: str | None = None) -> Try:
        headers = {**shop.auth("agent"), **({"Idempotency-Key": key} if key else {})}
        return lambda: self.http.post(f"/cases/{case_id}/actions/{action}", json=body or {},
                                      headers=headers)

    def sync(self, shop: RaceShop, order: dict[str, Any], pcid: str, version: int,
             amount: int) -> Try:
        body = {"order_id": order["id"], "type": "refund_only", "reason": "quality_issue",
                "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}],
                "platform_case_id": pcid, "platform_status": "60", "platform_version": version,
                "requested_amount": {"amount": amount, "currency": "CNY"}}
        return lambda: self.http.post("/cases", json=body, headers=shop.auth("platform"))

    def advance(self, shop: RaceShop, by: str) -> Try:
        return lambda: self.http.post("/clock/advance", json={"by": by}, headers=shop.auth("admin"))

    def group(self, scenario: str, shop: RaceShop, deadline_shop: RaceShop | None) -> None:
        order = self.order(deadline_shop if scenario == "approve_vs_deadline" and deadline_shop
                           else shop)
        n = next(_seq)
        if scenario == "same_key":
            case = self.case(shop, order)
            tries = [self.act(shop, case, "approve", key=f"race-{n}") for _ in range(6)]
        elif scenario == "different_keys":
            case = self.case(shop, order)
            tries = [self.act(shop, case, "approve", key=f"race-{n}-{i}") for i in range(6)]
        elif scenario == "approve_vs_reject":
            case = self.case(shop, order)
            tries = [self.act(shop, case, a, b) for a, b in [("approve", {}), ("reject", REJECT)] * 3]
        elif scenario == "approve_vs_deadline":
            assert deadline_shop is not None
            case = self.case(deadline_shop, order, reason="not_received")  # 48 h review
            tries = [self.act(deadline_shop, case, "approve"), self.advance(deadline_shop, "49h"),
                     self.act(deadline_shop, case, "approve"), self.act(deadline_shop, case, "approve")]
        elif scenario == "sync_replays":
            pcid = f"KS-RACE-{n}"
            tries = [self.sync(shop, order, pcid, 1, PRICE) for _ in range(3)]
            tries += [self.sync(shop, order, pcid, v, HUGE) for v in (2, 3, 4)]
        else:  # sibling_cases: our own case and the platform's cases on one order
            case = self.case(shop, order)
            tries = [self.act(shop, case, "approve") for _ in range(2)]
            tries += [self.sync(shop, order, f"KS-SIB-{n}-{i}", 1, PRICE) for i in range(4)]
        self.groups.append((scenario, tries))


def prepare(http: httpx.Client, database: str, tries: int) -> Race:
    """Groups of each scenario in turn until `tries` requests are planned; each
    approve-vs-deadline group gets its own sandbox shop (a clock advance fires the shop's
    every deadline)."""
    race = Race(http, database)
    per_round = 6 * 5 + 4
    rounds = max(1, -(-tries // per_round))
    main, *clocks = make_shops(database, 1 + rounds)
    planned = 0
    for r in range(rounds):
        for scenario in SCENARIOS:
            if planned >= tries:
                break
            race.group(scenario, main, clocks[r])
            planned += len(race.groups[-1][1])
    return race


@dataclass
class Outcome:
    tries: int
    seconds: float
    codes: Counter[int]
    by_scenario: dict[str, Counter[int]]
    orders: int
    over_refunds: int
    double_entries: int
    booked: int
    took: int
    differences: int

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.codes.items() if code >= 500)


def run(race: Race, threads: int = 16) -> Outcome:
    flat = [(scenario, call) for scenario, calls in race.groups for call in calls]

    def fire(item: tuple[str, Try]) -> tuple[str, int]:
        try:
            return item[0], item[1]().status_code
        except httpx.HTTPError:
            return item[0], 599  # no answer at all: counted with the server errors
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(fire, flat))
    seconds = time.perf_counter() - start
    by: dict[str, Counter[int]] = {}
    for scenario, code in results:
        by.setdefault(scenario, Counter())[code] += 1
    return check(race.database, len(flat), seconds, Counter(c for _, c in results), by)


def check(database: str, tries: int, seconds: float, codes: Counter[int],
          by: dict[str, Counter[int]]) -> Outcome:
    """Read the ledger back: per order, what left against what it took; per case and kind,
    how many live entries."""
    app = bootstrap(database)
    r, ln, o = t.refunds.c, t.order_lines.c, t.orders.c
    try:
        with app.engine.connect() as conn:
            took = dict(conn.execute(select(ln.order_id, func.sum(ln.paid_amount))
                                     .group_by(ln.order_id)).all())
            freight = dict(conn.execute(select(o.id, o.freight)).all())
            left = dict(conn.execute(select(r.order_id, func.sum(r.amount))
                                     .where(r.status != "failed").group_by(r.order_id)).all())
            doubles = conn.execute(select(r.case_id, r.kind, func.count()).where(
                r.status != "failed").group_by(r.case_id, r.kind).having(func.count() > 1)).all()
            diffs = conn.execute(select(func.count()).select_from(
                t.reconciliation_differences)).scalar_one()
    finally:
        app.engine.dispose()
    over = [oid for oid, amount in left.items()
            if int(amount) > int(took.get(oid, 0)) + int(freight.get(oid) or 0)]
    return Outcome(tries, seconds, codes, by, len(took), len(over), len(doubles),
                   sum(int(a) for a in left.values()), sum(int(a) for a in took.values()),
                   int(diffs))
