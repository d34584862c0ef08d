"""Orders come from the platform (or an admin); posting one twice returns the first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aftersales.domain.clock import require_aware
from aftersales.domain.errors import InvalidInput
from aftersales.domain.money import Money
from aftersales.domain.orders import Extra, Order, OrderLine
from aftersales.domain.vocabulary import PaymentMethod, Role
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal
from aftersales.service.repositories import UnitOfWork

ORDER_ROLES = frozenset({Role.platform, Role.admin})


@dataclass(frozen=True)
class NewLine:
    sku: str
    name: str
    unit_price: int
    quantity: int
    paid_amount: int
    link: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    category: str | None = None
    no_reason_excluded: bool = False
    gifts: tuple[tuple[str, int], ...] = ()
    accessories: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class NewOrder:
    platform_order_id: str
    buyer_id: str
    paid_at: datetime
    payment_method: str
    currency: str
    freight: int
    free_shipping: bool
    lines: tuple[NewLine, ...]
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    completed_at: datetime | None = None


def _build(deps: Deps, shop_id: str, data: NewOrder) -> Order:
    if not data.lines:
        raise InvalidInput("an order needs at least one line", code="no_lines")
    try:
        method = PaymentMethod(data.payment_method)
    except ValueError:
        raise InvalidInput(f"unknown payment_method {data.payment_method!r}",
                           code="invalid_payment_method") from None
    cur = data.currency

    def money(v: int) -> Money:
        return Money(v, cur)

    lines = tuple(
        OrderLine(
            id=deps.new_id(), sku=ln.sku, name=ln.name, unit_price=money(ln.unit_price),
            quantity=ln.quantity, paid_amount=money(ln.paid_amount), link=ln.link,
            attributes=dict(ln.attributes), category=ln.category,
            no_reason_excluded=ln.no_reason_excluded,
            gifts=tuple(Extra(n, money(p)) for n, p in ln.gifts),
            accessories=tuple(Extra(n, money(p)) for n, p in ln.accessories),
        )
        for ln in data.lines
    )
    for ln in lines:
        if ln.paid_amount > money(ln.unit_price.amount * ln.quantity):
            raise InvalidInput(f"line {ln.sku}: paid_amount exceeds unit_price × quantity",
                               code="invalid_amount")
    dates = [require_aware(d, n) for d, n in ((data.paid_at, "paid_at"),)]
    for value, name in ((data.shipped_at, "shipped_at"), (data.delivered_at, "delivered_at"),
                        (data.completed_at, "completed_at")):
        if value is not None:
            require_aware(value, name)
    return Order(
        id=deps.new_id(), shop_id=shop_id, platform_order_id=data.platform_order_id,
        buyer_id=data.buyer_id, paid_at=dates[0], payment_method=method, currency=cur,
        freight=money(data.freight), free_shipping=data.free_shipping, lines=lines,
        shipped_at=data.shipped_at, delivered_at=data.delivered_at, completed_at=data.completed_at,
    )


def import_order(deps: Deps, principal: Principal, data: NewOrder) -> tuple[Order, bool]:
    """(order, created): the same platform_order_id again returns the existing order."""
    order = _build(deps, principal.shop_id, data)
    with deps.uow() as uow:
        existing = uow.orders.find_order(principal.shop_id, data.platform_order_id)
        if existing is not None:
            return existing, False
        if not uow.orders.add_order(order, deps.clock.now()):
            # posted at the same moment by another request, which got there first
            existing = uow.orders.find_order(principal.shop_id, data.platform_order_id)
            assert existing is not None
            return existing, False
        uow.commit()
    return order, True


def get_order(uow: UnitOfWork, principal: Principal, order_id: str) -> Order:
    order = uow.orders.get_order(principal.shop_id, order_id)
    if order is None or (principal.role is Role.buyer and order.buyer_id != principal.buyer_id):
        raise NotFound(f"no order {order_id}", code="order_not_found")
    return order
