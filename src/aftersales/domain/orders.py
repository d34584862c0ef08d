"""Shops, orders and order lines (DOMAIN.md "Orders", "Shops and time")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aftersales.domain.errors import InvalidInput
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import PaymentMethod


@dataclass(frozen=True, slots=True)
class Shop:
    id: str
    name: str
    platform: str  # the profile id
    timezone: str = "Asia/Shanghai"
    sandbox: bool = False


@dataclass(frozen=True, slots=True)
class Extra:
    """A gift (赠品) or accessory (配件/吊牌/防尘袋/包装) shipped with a line."""

    name: str
    listed_price: Money


@dataclass(frozen=True, slots=True)
class OrderLine:
    id: str
    sku: str
    name: str
    unit_price: Money
    quantity: int
    paid_amount: Money  # for the whole line, after discounts
    link: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    category: str | None = None
    no_reason_excluded: bool = False  # marked at sale with the buyer's consent
    gifts: tuple[Extra, ...] = ()
    accessories: tuple[Extra, ...] = ()

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise InvalidInput(f"line {self.sku}: quantity must be positive")
        if self.paid_amount.amount < 0 or self.unit_price.amount < 0:
            raise InvalidInput(f"line {self.sku}: amounts cannot be negative")


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    shop_id: str
    platform_order_id: str
    buyer_id: str
    paid_at: datetime
    payment_method: PaymentMethod
    currency: str
    freight: Money  # paid by the buyer
    free_shipping: bool
    lines: tuple[OrderLine, ...]
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None  # 签收
    completed_at: datetime | None = None  # 交易成功

    def line(self, line_id: str) -> OrderLine:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise InvalidInput(f"order {self.platform_order_id} has no line {line_id}",
                           code="unknown_line")

    @property
    def total_paid(self) -> Money:
        """What the order took: lines after discounts plus the buyer's freight."""
        total = self.freight
        for line in self.lines:
            total = total + line.paid_amount
        return total
