"""Amounts split per unit add up to the line exactly (issue 19: a fen lost per unit).

A line refunded in chunks of units, in any order of chunk sizes, gives back exactly what
the line took once every unit is back; no chunk is more than a fen above its rounded-down
share, none but the last below it where a unit is worth a fen or more (below that, money
cannot tell how many units came back: earlier chunks may take the fens, so a later one
can fall short); and a goods refund spread over lines adds up to itself.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aftersales.domain.money import Money
from aftersales.domain.refunds import line_share, refundable

from .factories import make_line, make_order


@st.composite
def chunked_lines(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    quantity = draw(st.integers(1, 40))
    paid = draw(st.integers(0, 10**9))
    chunks: list[int] = []
    left = quantity
    while left:
        chunk = draw(st.integers(1, left))
        chunks.append(chunk)
        left -= chunk
    return paid, quantity, chunks


@given(chunked_lines())
def test_unit_refunds_add_up_to_the_line(case: tuple[int, int, list[int]]) -> None:
    paid, quantity, chunks = case
    line = make_line(quantity=quantity, unit_price=max(paid // quantity, 1), paid=paid)
    order = make_order(lines=[line])
    refunded = Money.zero("CNY")
    for i, chunk in enumerate(chunks):
        amount = refundable(order, [(line.id, chunk)], {line.id: refunded}, refunded)
        floor = line_share(line, chunk)
        assert amount <= floor + Money(1, "CNY")
        if i < len(chunks) - 1 and paid >= quantity:
            # a unit worth a fen or more: only the last chunk may fall below its share
            # (below a fen a unit, earlier chunks may take the fens the later ones lack)
            assert floor <= amount
        refunded = refunded + amount
    assert refunded == line.paid_amount


def test_three_single_units_of_a_hundred_yuan() -> None:
    line = make_line(quantity=3, unit_price=3334, paid=10000)
    order = make_order(lines=[line])
    got, total = [], Money.zero("CNY")
    for _ in range(3):
        amount = refundable(order, [(line.id, 1)], {line.id: total}, total)
        got.append(amount.amount)
        total = total + amount
    assert got == [3333, 3333, 3334] and total == Money(10000, "CNY")


@given(st.integers(0, 10**12), st.lists(st.integers(0, 10**6), min_size=1, max_size=12)
       .filter(lambda ws: sum(ws) > 0))
def test_an_allocation_adds_up_and_stays_within_a_fen_of_its_share(amount: int,
                                                                   weights: list[int]) -> None:
    parts = Money(amount, "CNY").allocate(weights)
    assert sum(p.amount for p in parts) == amount
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert amount * weight // whole <= part.amount <= amount * weight // whole + 1
