"""A small, fixed world for the console's tests and for trying the desk by hand.

One sandbox Taobao shop, its four staff accounts, a buyer with a link token and a
delivered order (a dress with a gift and accessories), plus a few other buyers' cases so
the queue has something to order. Everything goes through the service handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from aftersales.domain.orders import Order
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console.staff import seed_staff
from aftersales.service import cases, orders, shops
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal

PASSWORD = "desk-password-1"


@dataclass
class Sample:
    shop_id: str
    buyer_id: str
    buyer_token: str
    order_id: str
    other_case_ids: list[str] = field(default_factory=list)
    other_shop_case_id: str = ""


def sample_order(deps: Deps, admin: Principal, pid: str, buyer: str, *, price: int = 19900,
           days_ago: int = 3) -> Order:
    now = deps.clock.now()
    line = orders.NewLine(
        sku="DRESS-RED-M", name="真丝连衣裙 Silk dress", unit_price=price, quantity=1, paid_amount=price,
        link="https://shop.example.com/item/1001", attributes={"colour": "红色", "size": "M"},
        gifts=(("发圈 Hair tie", 500),), accessories=(("防尘袋 Dust bag", 0), ("吊牌 Tag", 0)))
    order, _ = orders.import_order(deps, admin, orders.NewOrder(
        platform_order_id=pid, buyer_id=buyer, paid_at=now - timedelta(days=days_ago + 2),
        payment_method="alipay", currency="CNY", freight=1000, free_shipping=False, lines=(line,),
        shipped_at=now - timedelta(days=days_ago + 1), delivered_at=now - timedelta(days=days_ago)))
    return order


def build(deps: Deps, *, platform: str = "taobao", others: int = 3) -> Sample:
    shop = shops.create_shop(deps, "演示店铺 Demo shop", platform, sandbox=True)
    sid = shop.shop.id
    seed_staff(deps, sid, PASSWORD)
    admin = Principal(sid, Role.admin, actor_id="admin")
    order = sample_order(deps, admin, "TB-1001", "buyer-li")
    token = shops.create_token(deps, sid, "buyer", "buyer-li", label="sample")
    sample = Sample(sid, "buyer-li", token, order.id)
    for i in range(others):
        buyer = f"buyer-{i + 2}"
        o = sample_order(deps, admin, f"TB-20{i}", buyer, price=2000 + 1000 * i, days_ago=2)
        kind = "refund_only" if i % 2 == 0 else "return_refund"
        loaded = cases.open_case(deps, Principal(sid, Role.buyer, buyer_id=buyer), cases.NewCase(
            o.id, kind, "quality_issue", ((o.lines[0].id, 1),), description=f"sample case {i}"))
        sample.other_case_ids.append(loaded.case.id)
    other = shops.create_shop(deps, "Other shop", platform, sandbox=True)
    o = sample_order(deps, Principal(other.shop.id, Role.admin), "X-1", "buyer-x")
    foreign = cases.open_case(deps, Principal(other.shop.id, Role.buyer, buyer_id="buyer-x"),
                              cases.NewCase(o.id, "refund_only", "not_received", ((o.lines[0].id, 1),)))
    sample.other_shop_case_id = foreign.case.id
    return sample
