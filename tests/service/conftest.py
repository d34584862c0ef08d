"""Service tests over the in-memory unit of work (fakes.py): no database, milliseconds each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from aftersales.adapters.clock import FixedClock
from aftersales.adapters.ids import new_id
from aftersales.adapters.payments import ShopGateway
from aftersales.adapters.profiles import load_profile
from aftersales.domain.orders import Order
from aftersales.domain.vocabulary import Role
from aftersales.service import cases, orders, shops
from aftersales.service.casework import Loaded
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal, ShopRecord
from conftest import T0
from service.fake_base import Data
from service.fakes import FakeUnitOfWork


@dataclass
class World:
    """The fake database, the deps over it, and builders through the service layer."""

    data: Data
    deps: Deps
    clock: FixedClock
    units: list[FakeUnitOfWork]

    def shop(self, platform: str = "kuaishou", *, sandbox: bool = False) -> ShopRecord:
        return shops.create_shop(self.deps, "测试小店", platform, sandbox=sandbox)

    def principal(self, shop: ShopRecord, role: str = "agent") -> Principal:
        actor = None if role in ("buyer", "platform") else f"{role}1"
        return Principal(shop.shop.id, Role(role), None, actor)

    def order(self, shop: ShopRecord, *, price: int = 19900) -> Order:
        now = self.clock.now()
        line = orders.NewLine(sku="DRESS-RED-M", name="法式连衣裙", unit_price=price, quantity=1,
                              paid_amount=price, attributes={}, category="apparel")
        order, _ = orders.import_order(self.deps, self.principal(shop, "platform"), orders.NewOrder(
            platform_order_id=f"P{uuid.uuid4().hex[:16]}", buyer_id="buyer-1",
            paid_at=now - timedelta(days=7), payment_method="alipay", currency="CNY",
            freight=0, free_shipping=True, lines=(line,), shipped_at=now - timedelta(days=6),
            delivered_at=now - timedelta(days=2)))
        return order

    def case(self, shop: ShopRecord, order: Order | None = None, *,
             type: str = "refund_only", reason: str = "quality_issue") -> Loaded:
        order = order or self.order(shop)
        line = order.lines[0]
        buyer = Principal(order.shop_id, Role.buyer, order.buyer_id)
        return cases.open_case(self.deps, buyer, cases.NewCase(
            order_id=order.id, type=type, reason=reason, lines=((line.id, line.quantity),),
            description="测试"))


@pytest.fixture
def world() -> World:
    data, clock = Data(), FixedClock(T0)
    units: list[FakeUnitOfWork] = []

    def unit() -> FakeUnitOfWork:
        units.append(FakeUnitOfWork(data))
        return units[-1]

    make: Callable[[], FakeUnitOfWork] = unit
    deps = Deps(uow=make, clock=clock, new_id=new_id, payments=ShopGateway(),
                profiles=load_profile)
    return World(data, deps, clock, units)
