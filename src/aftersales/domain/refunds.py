"""What may be refunded, and the ledger entries a refund is made of (DOMAIN.md "Money rules").

The plan is computed before anything is paid, so the desk can show it as a preview
(goods, freight, deductions, total, method) and the ledger can record one entry per kind:
the loss report tells goods, freight and goodwill apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aftersales.domain.errors import InvalidInput
from aftersales.domain.money import Money
from aftersales.domain.orders import Extra, Order, OrderLine
from aftersales.domain.profile import FreightRule, Profile
from aftersales.domain.vocabulary import (
    REASONS,
    RETURNING_TYPES,
    CaseType,
    LedgerKind,
    Reason,
    RefundMethod,
    Responsibility,
)

# DOMAIN.md: merchant-responsible reasons → merchant bears return freight; buyer reasons →
# buyer bears both ways; carrier faults are the merchant's to pay and claim back.
DEFAULT_FREIGHT: dict[Responsibility, FreightRule] = {
    Responsibility.merchant: FreightRule(outbound_refunded=True, return_paid_by="merchant"),
    Responsibility.carrier: FreightRule(outbound_refunded=True, return_paid_by="merchant"),
    Responsibility.buyer: FreightRule(outbound_refunded=False, return_paid_by="buyer"),
}
UNCLEAR = FreightRule(outbound_refunded=True, return_paid_by="buyer")
# Return freight reimbursed at most, in minor units, where neither the shop's policy nor the
# profile (rules.return_freight_cap_default) says: reimbursement always has a bound.
FALLBACK_RETURN_FREIGHT_CAP = 2500


def return_freight_bound(profile: Profile, shop_cap: int | None, currency: str) -> Money:
    """The shop's cap, or (null: "no cap of my own") the profile's sane default."""
    if shop_cap is not None:
        return Money(int(shop_cap), currency)
    value = profile.rule("return_freight_cap_default", FALLBACK_RETURN_FREIGHT_CAP)
    return Money(int(value), currency)


def line_share(line: OrderLine, quantity: int) -> Money:
    """What `quantity` units of a line were paid, discounts spread evenly, rounded down."""
    if quantity <= 0 or quantity > line.quantity:
        raise InvalidInput(f"line {line.sku}: quantity {quantity} is not between 1 and "
                           f"{line.quantity}", code="invalid_quantity")
    if quantity == line.quantity:
        return line.paid_amount
    return line.paid_amount.share(quantity, line.quantity)


def unit_share(line: OrderLine, quantity: int, refunded: Money) -> Money:
    """What `quantity` more units of a line are worth, given what the line got back so far.

    Unit refunds add up to the line exactly: units refunded one by one are valued on the
    cumulative grid floor(paid × k / n), so the k-th unit takes the fen the rounding of the
    earlier ones left (three units of ¥100.00: 33.33 + 33.33 + 33.34). Never less than the
    rounded-down share nor more than one fen above it; `refundable` then keeps it within
    what the line has left, so the last units take exactly the rest."""
    share = line_share(line, quantity)
    paid, n = line.paid_amount.amount, line.quantity
    # the units already refunded: the largest k with floor(paid × k / n) <= refunded
    done = n if paid <= 0 else max(0, min(n, (n * (refunded.amount + 1) - 1) // paid))
    grid = Money(paid * min(done + quantity, n) // n - refunded.amount, line.paid_amount.currency)
    return share if grid < share else grid


def refundable(order: Order, lines: Iterable[tuple[str, int]],
               refunded_by_line: Mapping[str, Money], order_refunded: Money) -> Money:
    """Never more than paid for these lines and quantities minus what they already got back,
    and never more than the order took minus all its refunds."""
    total = Money.zero(order.currency)
    for line_id, quantity in lines:
        line = order.line(line_id)
        refunded = refunded_by_line.get(line_id, Money.zero(order.currency))
        left = line.paid_amount - refunded
        total = total + unit_share(line, quantity, refunded).min(left).clamp_zero()
    return total.min((order.total_paid - order_refunded).clamp_zero())


def order_left(order: Order, order_refunded: Money) -> Money:
    return (order.total_paid - order_refunded).clamp_zero()


def freight_terms(reason: Reason, profile: Profile, buyer_pays_no_reason: bool = True) -> FreightRule:
    """Who pays which freight for this reason on this platform (Taobao dispute rules 2025)."""
    responsibility = REASONS[reason].responsibility
    rule = profile.freight.get(responsibility) or DEFAULT_FREIGHT.get(responsibility, UNCLEAR)
    if responsibility is Responsibility.buyer and not buyer_pays_no_reason:
        return FreightRule(outbound_refunded=rule.outbound_refunded, return_paid_by="merchant")
    return rule


def outbound_due(order: Order, profile: Profile, case_type: CaseType, reason: Reason,
                 lines: Iterable[tuple[str, int]], buyer_pays_no_reason: bool = True) -> Money:
    """The outbound freight a full refund of these lines pays back: the whole order's lines
    refunded (or returned) for a reason that refunds it."""
    terms = freight_terms(reason, profile, buyer_pays_no_reason)
    money_back = case_type in (CaseType.refund_only, CaseType.return_refund)
    if terms.outbound_refunded and money_back and _whole_order(order, lines):
        return order.freight
    return Money.zero(order.currency)


def extras_value(extras: Iterable[Extra], currency: str, names: Iterable[str] | None = None) -> Money:
    """Listed price of gifts/accessories (all of them, or those named)."""
    wanted = None if names is None else set(names)
    total = Money.zero(currency)
    for extra in extras:
        if wanted is None or extra.name in wanted:
            total = total + extra.listed_price
    return total


def missing_piece_value(line: OrderLine, *, units: int = 0, accessories: Iterable[str] = (),
                        gifts: Iterable[str] = ()) -> Money:
    """A missing piece refunded instead of reissued: accessories and gifts at their listed
    price, goods at the amount actually paid for them (DOMAIN.md)."""
    currency = line.paid_amount.currency
    value = extras_value(line.accessories, currency, accessories)
    value = value + extras_value(line.gifts, currency, gifts)
    if units:
        value = value + line_share(line, units)
    return value


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    kind: LedgerKind
    amount: Money
    method: RefundMethod


@dataclass(frozen=True, slots=True)
class RefundPlan:
    goods: Money
    freight: Money
    compensation: Money
    gift_deduction: Money
    method: RefundMethod
    notes: tuple[str, ...] = ()
    entries: tuple[PlannedEntry, ...] = field(default=())
    return_freight: Money | None = None  # the part of `freight` outside the order's total

    @property
    def total(self) -> Money:
        return self.goods + self.freight + self.compensation


@dataclass(frozen=True, slots=True)
class RefundInput:
    """The facts a refund plan needs, gathered from the case and its order."""

    case_type: CaseType
    reason: Reason
    approved: Money
    method: RefundMethod
    lines: tuple[tuple[str, int], ...]
    refundable_goods: Money
    order_left: Money
    gifts_returned: bool | None = None  # None: nothing came back to check
    return_freight: Money | None = None
    return_freight_cap: Money | None = None
    buyer_pays_no_reason: bool = True


def _whole_order(order: Order, lines: Iterable[tuple[str, int]]) -> bool:
    asked = dict(lines)
    return all(asked.get(line.id, 0) >= line.quantity for line in order.lines)


def plan_refund(order: Order, profile: Profile, facts: RefundInput) -> RefundPlan:
    """Goods and outbound freight stay within what the order took and within the approved
    amount, which is their total (an approval of ¥50 pays ¥50: goods first, then the
    outbound freight). The return freight the buyer paid a carrier on the merchant's
    account is reimbursed on top (up to the freight bound), shown as its own part: it was
    never part of the order, is declared after the approval, and DOMAIN.md makes it the
    merchant's."""
    zero = Money.zero(order.currency)
    if facts.case_type is CaseType.compensation:
        amount = facts.approved.min(facts.order_left)
        entries: tuple[PlannedEntry, ...] = (
            (PlannedEntry(LedgerKind.compensation, amount, facts.method),) if amount.amount else ())
        return RefundPlan(zero, zero, amount, zero, facts.method, entries=entries)
    notes: list[str] = []
    deduction = _gift_deduction(order, facts, notes)
    allowed = facts.approved.min(facts.refundable_goods)
    goods = (allowed - deduction).clamp_zero()
    outbound, back = _freight(order, profile, facts, notes)
    outbound = outbound.min((facts.approved - allowed).clamp_zero())
    outbound = outbound.min((facts.order_left - goods).clamp_zero())
    if outbound.amount:
        notes.insert(0, f"outbound freight {outbound.format()} refunded")
    freight = outbound + back
    entries = tuple(
        PlannedEntry(kind, amount, facts.method)
        for kind, amount in ((LedgerKind.goods, goods), (LedgerKind.freight, freight))
        if amount.amount > 0
    )
    return RefundPlan(goods, freight, zero, deduction, facts.method, tuple(notes), entries, back)


def gift_deduction(order: Order, lines: Iterable[tuple[str, int]], gifts_returned: bool | None) -> Money:
    """A gift not returned is charged at its listed price — for lines that come back whole;
    when only some units come back, the gift stays with the units the buyer keeps. The one
    place that decides: the recommendation shows what this returns."""
    deduction = Money.zero(order.currency)
    if gifts_returned is not False:
        return deduction
    for line_id, quantity in lines:
        line = order.line(line_id)
        if quantity >= line.quantity:
            deduction = deduction + extras_value(line.gifts, order.currency)
    return deduction


def _gift_deduction(order: Order, facts: RefundInput, notes: list[str]) -> Money:
    deduction = gift_deduction(order, facts.lines, facts.gifts_returned)
    if deduction.amount:
        notes.append(f"gifts not returned: {deduction.format()} deducted at listed price")
    return deduction


def _freight(order: Order, profile: Profile, facts: RefundInput,
             notes: list[str]) -> tuple[Money, Money]:
    """(outbound freight refunded, return freight reimbursed)."""
    terms = freight_terms(facts.reason, profile, facts.buyer_pays_no_reason)
    back = Money.zero(order.currency)
    outbound = outbound_due(order, profile, facts.case_type, facts.reason, facts.lines,
                            facts.buyer_pays_no_reason)
    if (terms.return_paid_by == "merchant" and facts.case_type in RETURNING_TYPES
            and facts.return_freight is not None):
        bound = facts.return_freight_cap or return_freight_bound(profile, None, order.currency)
        back = facts.return_freight.clamp_zero().min(bound)
        notes.append(f"return freight {back.format()} reimbursed (merchant-responsible reason)")
    return outbound, back
