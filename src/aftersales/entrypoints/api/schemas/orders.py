"""POST /orders: an order as the platform (or an admin) imports it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool

from aftersales.domain.errors import InvalidInput
from aftersales.entrypoints.api.schemas.common import (
    Amount,
    Currency,
    Model,
    Money,
    OpenModel,
    Quantity,
    ShortText,
    Text,
    TextOrEmpty,
    Timestamp,
)
from aftersales.service.orders import NewLine, NewOrder

# Prices may be given as minor units in the order's currency, or as money objects.
Price = Amount | Money
AttributeName = Annotated[Text, Field(max_length=50)]
AttributeValue = Annotated[TextOrEmpty, Field(max_length=200)]
PaymentMethod = Literal["alipay", "wechat_pay", "bank_transfer", "credit_card", "balance", "other"]


def minor(value: int | Money, currency: str, field: str) -> int:
    if isinstance(value, Money):
        if value.currency != currency:
            raise InvalidInput(f"{field} is in {value.currency}, the order in {currency}",
                               code="currency_mismatch")
        return value.amount
    return value


class ExtraIn(Model):
    name: ShortText
    listed_price: Price


class LineIn(Model):
    sku: Annotated[Text, Field(max_length=100)]
    name: Annotated[Text, Field(max_length=300)]  # (the columns' widths: tables.py)
    link: Annotated[Text, Field(max_length=1000)] | None = None
    unit_price: Price
    quantity: Quantity
    paid_amount: Price
    attributes: dict[AttributeName, AttributeValue] = Field(
        default_factory=dict, max_length=50, examples=[{"colour": "black", "size": "M"}])
    category: Annotated[Text, Field(max_length=60)] | None = None
    no_reason_excluded: StrictBool = False
    gifts: list[ExtraIn] = Field(default_factory=list, max_length=50)
    accessories: list[ExtraIn] = Field(default_factory=list, max_length=50)


class OrderIn(Model):
    platform_order_id: Annotated[Text, Field(max_length=100)]
    buyer_id: Annotated[Text, Field(max_length=100)]
    paid_at: Timestamp
    shipped_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    payment_method: PaymentMethod
    currency: Currency
    freight: Price
    free_shipping: StrictBool
    lines: list[LineIn] = Field(min_length=1, max_length=500)

    model_config = Model.model_config | {"json_schema_extra": {"examples": [{
        "platform_order_id": "TB-20260301-0001", "buyer_id": "buyer-42",
        "paid_at": "2026-03-01T10:00:00+08:00", "shipped_at": "2026-03-01T18:00:00+08:00",
        "delivered_at": "2026-03-03T12:00:00+08:00", "payment_method": "alipay",
        "currency": "CNY", "freight": 0, "free_shipping": True,
        "lines": [{"sku": "DRESS-BLK-M", "name": "连衣裙 black M", "unit_price": 19900,
                   "quantity": 1, "paid_amount": 17900,
                   "attributes": {"colour": "black", "size": "M"},
                   "gifts": [{"name": "hair clip", "listed_price": 990}]}],
    }]}}

    def to_command(self) -> NewOrder:
        cur = self.currency

        def extras(items: list[ExtraIn], what: str) -> tuple[tuple[str, int], ...]:
            return tuple((x.name, minor(x.listed_price, cur, what)) for x in items)

        return NewOrder(
            platform_order_id=self.platform_order_id, buyer_id=self.buyer_id,
            paid_at=self.paid_at, payment_method=self.payment_method, currency=cur,
            freight=minor(self.freight, cur, "freight"), free_shipping=self.free_shipping,
            shipped_at=self.shipped_at, delivered_at=self.delivered_at,
            completed_at=self.completed_at,
            lines=tuple(NewLine(
                sku=ln.sku, name=ln.name, link=ln.link,
                unit_price=minor(ln.unit_price, cur, "unit_price"), quantity=ln.quantity,
                paid_amount=minor(ln.paid_amount, cur, "paid_amount"),
                attributes=dict(ln.attributes), category=ln.category,
                no_reason_excluded=ln.no_reason_excluded,
                gifts=extras(ln.gifts, "gifts.listed_price"),
                accessories=extras(ln.accessories, "accessories.listed_price"),
            ) for ln in self.lines),
        )


class OrderLineOut(OpenModel):
    id: str
    sku: str
    name: str
    quantity: int
    unit_price: Money
    paid_amount: Money


class OrderOut(OpenModel):
    id: str
    platform_order_id: str
    buyer_id: str
    currency: str
    lines: list[OrderLineOut]
