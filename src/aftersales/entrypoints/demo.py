"""`aftersales demo`: one realistic sandbox shop per platform, from demo_data.toml.

Why through the handlers and not by writing rows: the demo is also the product's smoke
test — every case reaches its state the way a real one would (open_case, act,
advance_clock), so its events, deadlines, ledger entries and recommendations are exactly
what the desk would show, and a change that breaks a flow breaks the demo loudly.

Sandbox shops keep their own clocks, so the demo can move time: "past" cases see their
platform timers fire, "near" cases are left a few hours before their deadline (即将超时).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from aftersales.adapters.profiles import PLATFORMS
from aftersales.domain.case import ActionRequest, Inspection
from aftersales.domain.deadlines import current_deadline, is_near_timeout
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.vocabulary import Condition, Role
from aftersales.entrypoints.console.staff import STAFF_ROLES as CONSOLE_ROLES
from aftersales.entrypoints.console.staff import seed_staff
from aftersales.service import cases, orders, shops, timers
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal, ShopRecord

STAFF_ROLES = ("agent", "warehouse", "finance")


def load_data() -> dict[str, Any]:
    text = resources.files("aftersales.entrypoints").joinpath("demo_data.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass
class ShopResult:
    record: ShopRecord
    tokens: dict[str, str] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    near: int = 0
    overdue: int = 0
    case_ids: list[str] = field(default_factory=list)
    buyers: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    shops: list[ShopResult] = field(default_factory=list)
    staff_password: str = ""

    def tokens_json(self) -> dict[str, Any]:
        return {"staff_sign_in": {"usernames": list(CONSOLE_ROLES),
                                  "password": self.staff_password},
                "shops": [{"id": s.record.shop.id, "name": s.record.shop.name,
                           "platform": s.record.shop.platform, "tokens": s.tokens}
                          for s in self.shops]}


def _owner_only(path: Path, flags: int) -> int:
    """An open descriptor on `path`, the file made or kept readable by its owner only
    (0600): it holds the demo's tokens and staff password. fchmod too, since a file that
    existed keeps its old mode through os.open."""
    fd = os.open(path, flags | os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def prepare_tokens_file(path: Path) -> None:
    """Check, before the demo is written, that its tokens file can be written (an OSError
    if not); it is left empty-or-as-it-was, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(_owner_only(path, os.O_APPEND))


def write_tokens(path: Path, result: DemoResult) -> None:
    """The demo's tokens and staff password, as JSON, in a file only its owner can read."""
    text = json.dumps(result.tokens_json(), ensure_ascii=False, indent=2) + "\n"
    with os.fdopen(_owner_only(path, os.O_TRUNC), "w", encoding="utf-8") as f:
        f.write(text)


def _step_request(step: str, builder: ShopDemo) -> tuple[str, str, ActionRequest | None]:
    """(action, role, body) for a scenario step name."""
    waybill = f"SF{builder.rng.randrange(10**11, 10**12)}"
    if step in ("approve", "give_up_goods"):
        return step, "agent", None
    if step == "reject":
        return "reject", "agent", ActionRequest(
            reason_code="no_quality_problem",
            explanation="经质检部门检测，商品无质量问题，属正常使用痕迹 / inspection found no defect")
    if step == "counter_offer":
        return "counter_offer", "agent", ActionRequest(
            amount=Money(builder.current_amount * 3 // 10, builder.currency),
            note="商品不影响使用，给您补偿30%，无需退货可以吗？")
    if step in ("ship_return", "ship_return_cod"):
        return "ship_return", "buyer", ActionRequest(carrier="顺丰速运", waybill=waybill,
                                                     prepaid=step == "ship_return")
    if step in ("receive", "receive_cod"):
        return "receive", "warehouse", ActionRequest(prepaid=step == "receive")
    if step in ("inspect_accept", "inspect_refuse"):
        ok = step == "inspect_accept"
        return "inspect", "warehouse", ActionRequest(inspection=Inspection(
            verdict="accept" if ok else "refuse", condition=Condition.new if ok else Condition.used,
            sku_matches=True, accessories_complete=ok, gifts_returned=True, tags_intact=ok,
            note=None if ok else "商品有明显穿着痕迹，吊牌已剪，影响二次销售"))
    if step == "reship":
        return "reship", "warehouse", ActionRequest(carrier="中通快递", waybill=f"ZT{waybill[2:]}")
    if step == "escalate":
        return "escalate", "buyer", ActionRequest(statement="商家拒绝退货，申请平台介入处理")
    if step == "cancel":
        return "cancel", "buyer", None
    raise ValueError(f"demo_data.toml: unknown step {step!r}")


class ShopDemo:
    """Builds one shop's orders and cases, phase by phase, on the shop's own clock."""

    def __init__(self, deps: Deps, record: ShopRecord, data: dict[str, Any], rng: random.Random):
        self.deps, self.record, self.data, self.rng = deps, record, data, rng
        self.platform = record.shop.platform
        self.currency = data["currencies"].get(self.platform, "CNY")
        self.products: list[dict[str, Any]] = data["products"]
        self.next_product = rng.randrange(len(self.products))
        self.result = ShopResult(record)
        self.near_ids: list[str] = []
        self.current_amount = 0
        shop_id = record.shop.id
        staff = data["staff"]
        self.principals = {role: Principal(shop_id, Role(role), actor_id=staff[role]) for role in STAFF_ROLES}
        self.principals["platform"] = Principal(shop_id, Role.platform)
        self.admin = Principal(shop_id, Role.admin, actor_id="demo")

    def now(self) -> datetime:
        return timers.shop_now(self.deps, self.admin)

    def _order(self, kind: str) -> Order:
        product = self.products[self.next_product % len(self.products)]
        self.next_product += 1
        now = self.now()
        qty = 2 if self.rng.random() < 0.25 else 1
        price = product["price"] if self.currency == "CNY" else max(199, product["price"] // 7)
        discount = self.rng.choice((0, 500, 1000)) if price > 5000 else 0
        dates: dict[str, datetime | None] = {
            "shipped_at": None if kind == "paid" else now - timedelta(days=15),
            "delivered_at": {"delivered": now - timedelta(days=3),
                             "completed": now - timedelta(days=5)}.get(kind),
            "completed_at": now - timedelta(days=1) if kind == "completed" else None,
        }
        line = orders.NewLine(
            sku=product["sku"], name=product["name"], unit_price=price, quantity=qty,
            paid_amount=price * qty - discount, link=f"https://shop.example/item/{product['sku']}",
            attributes=dict(product.get("attributes", {})), category=product.get("category"),
            gifts=tuple((g["name"], g["price"]) for g in product.get("gifts", [])),
            accessories=tuple((a["name"], a["price"]) for a in product.get("accessories", [])))
        prefix = self.data["order_prefixes"].get(self.platform, "")
        order, _ = orders.import_order(self.deps, self.principals["platform"], orders.NewOrder(
            platform_order_id=f"{prefix}{self.rng.randrange(10**14, 10**15)}",
            buyer_id=self.rng.choice(self.data["buyers"]["names"]),
            paid_at=now - timedelta(days=16, hours=self.rng.randrange(12)),
            payment_method="wechat_pay" if self.platform == "wechat_shop" else "alipay",
            currency=self.currency, freight=0 if price > 9900 else 800,
            free_shipping=price > 9900, lines=(line,), **dates))
        return order

    def run(self, scenario: dict[str, Any]) -> str | None:
        if self.platform in scenario.get("skip", []):
            return None
        order = self._order(scenario["order"])
        buyer = Principal(self.record.shop.id, Role.buyer, buyer_id=order.buyer_id)
        opened = cases.open_case(self.deps, buyer, cases.NewCase(
            order_id=order.id, type=scenario["type"], reason=scenario["reason"],
            lines=((order.lines[0].id, order.lines[0].quantity),),
            refund_method=scenario.get("refund_method"), description=scenario.get("description", "")))
        case_id = opened.case.id
        self.result.buyers.append(order.buyer_id)
        self.current_amount = opened.case.requested_amount.amount
        for body in scenario.get("messages", []):
            cases.add_message(self.deps, buyer, case_id, body)
        for step in scenario["steps"]:
            action, role, request = _step_request(step, self)
            who = buyer if role == "buyer" else self.principals[role]
            cases.act(self.deps, who, case_id, action, request)
        self.result.case_ids.append(case_id)
        return case_id

    def phase(self, name: str) -> list[str]:
        ids = [self.run(s) for s in self.data["scenarios"] if s["phase"] == name]
        return [i for i in ids if i is not None]

    def advance_to_near(self, ids: list[str]) -> None:
        """Move the clock to 5 h before the earliest deadline among `ids` (即将超时)."""
        due = [d.at for d in (self.deadline(i) for i in ids) if d is not None]
        if due:
            target = min(due) - timedelta(hours=5)
            if target > self.now():
                timers.advance_clock(self.deps, self.admin, to=target)

    def deadline(self, case_id: str) -> Any:
        loaded = cases.get(self.deps, self.principals["agent"], case_id)
        return current_deadline(loaded.case, loaded.order, loaded.profile)

    def summarise(self) -> None:
        now = self.now()
        for case_id in self.result.case_ids:
            loaded = cases.get(self.deps, self.principals["agent"], case_id)
            state = loaded.case.state.value
            self.result.states[state] = self.result.states.get(state, 0) + 1
            deadline = current_deadline(loaded.case, loaded.order, loaded.profile)
            self.result.overdue += loaded.case.overdue
            self.result.near += is_near_timeout(deadline, now, loaded.profile)


def run_demo(deps: Deps, *, seed: int = 20260302) -> DemoResult:
    """Create the demo shops, orders, cases and tokens; returns them for printing."""
    data = load_data()
    # A fresh password per demo database, printed once and kept in the tokens file:
    # a demo that anyone could sign in to with a well-known password is a bad habit.
    result = DemoResult(staff_password=secrets.token_urlsafe(9))
    for index, platform in enumerate(PLATFORMS):
        record = shops.create_shop(deps, data["shops"][platform], platform, sandbox=True)
        builder = ShopDemo(deps, record, data, random.Random(f"{seed}-{platform}"))
        builder.phase("past")
        timers.advance_clock(deps, builder.admin, by="6d")
        builder.advance_to_near(builder.phase("near"))
        builder.phase("now")
        builder.summarise()
        seed_staff(deps, record.shop.id, result.staff_password)
        tokens = builder.result.tokens
        tokens["admin"] = shops.create_token(deps, record.shop.id, "admin", label="demo admin")
        if index == 0:
            for role in (*STAFF_ROLES, "platform"):
                tokens[role] = shops.create_token(deps, record.shop.id, role, label=f"demo {role}")
            buyer_id = builder.result.buyers[0]
            tokens[f"buyer:{buyer_id}"] = shops.create_token(deps, record.shop.id, "buyer", buyer_id,
                                                             label="demo buyer")
        result.shops.append(builder.result)
    return result


def print_summary(console: Console, result: DemoResult, seconds: float, tokens_file: Path) -> None:
    table = Table(title=f"Demo shops (sandbox clocks), built in {seconds:.1f}s")
    for col in ("platform", "shop", "cases", "即将超时", "overdue"):
        table.add_column(col)
    for s in result.shops:
        table.add_row(s.record.shop.platform, s.record.shop.name, str(sum(s.states.values())),
                      str(s.near), str(s.overdue))
    console.print(table)
    console.print("Shop ids and API tokens (shown once; also in the tokens file):")
    for s in result.shops:
        console.print(f"{s.record.shop.platform}  {s.record.shop.id}", markup=False)
        for role, token in s.tokens.items():
            console.print(f"    {role:<22} {token}", soft_wrap=True, markup=False)
    console.print(f"tokens written to {tokens_file}")
    console.print(f"Desk sign-in (every shop): usernames {', '.join(CONSOLE_ROLES)}; "
                  f"password {result.staff_password}", markup=False, soft_wrap=True)
    first = result.shops[0]
    buyer = next((t for r, t in first.tokens.items() if r.startswith("buyer:")), None)
    if buyer:
        console.print(f"Buyer portal: /portal/login?token={buyer}", markup=False, soft_wrap=True)
