"""Money: integer minor units with a currency, never floats (DOMAIN.md "Orders")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales.domain.errors import InvalidInput
from aftersales.domain.money import Money


def test_amount_must_be_an_integer_never_a_float() -> None:
    """DOMAIN.md Orders: money is an integer number of minor units (分/cents). Never floats."""
    with pytest.raises(InvalidInput):
        Money(12.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Money(True, "CNY")  # a bool is an int to Python, never money


def test_unknown_currency_is_refused() -> None:
    """DOMAIN.md Orders: money carries a currency code."""
    with pytest.raises(InvalidInput) as err:
        Money(100, "XXX")
    assert err.value.code == "invalid_currency"


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("12.50", "CNY", 1250),
    ("12.5", "CNY", 1250),
    ("12", "CNY", 1200),
    ("0.01", "CNY", 1),
    (".5", "CNY", 50),
    ("  7.00 ", "CNY", 700),
    ("-3.20", "CNY", -320),
    ("0.30", "USD", 30),  # 0.1 + 0.2 style float traps do not exist here
    ("19.990", "CNY", 1999),  # trailing zeros beyond the minor unit are exact
    ("1500", "JPY", 1500),  # no minor unit
    ("92233720368547758.07", "CNY", 2**63 - 1),  # the most a 64-bit amount column holds
])
def test_parse_major_is_exact(text: str, currency: str, minor: int) -> None:
    """PLATFORMS.md Taobao: amounts arrive as yuan strings; DOMAIN.md: never floats — the
    parse is exact decimal arithmetic."""
    assert Money.parse_major(text, currency) == Money(minor, currency)


def test_an_amount_no_column_holds_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Money.parse_major("92233720368547758.08", "CNY")
    with pytest.raises(InvalidInput):
        Money(-(2**63), "CNY")


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "1,50", "12.345", "1e3", "¥12", "1.5", "--1", "+-1",
                                  "-+-5", "²", "1.²", "１２.５", "-", "."])
def test_parse_major_refuses_what_is_not_an_exact_amount(text: str) -> None:
    """DOMAIN.md Orders: money is exact; a string that does not name an exact amount in minor
    units (too many decimals, not a number) is an error, not a rounding."""
    currency = "JPY" if text == "1.5" else "CNY"
    with pytest.raises(InvalidInput):
        Money.parse_major(text, currency)


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_format_and_parse_round_trip(minor: int) -> None:
    """DOMAIN.md Orders: an amount shown in major units parses back to the same minor units."""
    money = Money(minor, "CNY")
    shown, _, currency = money.format().partition(" ")
    assert Money.parse_major(shown, currency) == money


def test_currency_mismatch_is_an_error_not_a_conversion() -> None:
    """PLATFORMS.md AliExpress: amounts come in local currency and USD — the ledger must never
    add them up by accident."""
    cny, usd = Money(100, "CNY"), Money(100, "USD")
    for op in (lambda: cny + usd, lambda: cny - usd, lambda: cny < usd, lambda: cny <= usd,
               lambda: cny > usd, lambda: cny >= usd, lambda: cny.min(usd)):
        with pytest.raises(InvalidInput) as err:
            op()
        assert err.value.code == "currency_mismatch"


def test_arithmetic_and_comparison_stay_integer() -> None:
    """DOMAIN.md Orders: integer minor units."""
    a, b = Money(1999, "CNY"), Money(1, "CNY")
    assert a + b == Money(2000, "CNY")
    assert (a - b).amount == 1998 and isinstance((a - b).amount, int)
    assert b < a and a > b and a >= a and b <= b
    assert a.min(b) == b and b.min(a) == b
    assert Money(-5, "CNY").clamp_zero() == Money.zero("CNY")
    assert a.clamp_zero() == a
    assert a.to_dict() == {"amount": 1999, "currency": "CNY"}


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=1000),
       st.data())
def test_share_rounds_down_and_never_exceeds_the_whole(amount: int, denominator: int,
                                                     data: st.DataObject) -> None:
    """DOMAIN.md Money rules: never refund more than was paid — a share rounds down to the fen."""
    numerator = data.draw(st.integers(min_value=0, max_value=denominator))
    part = Money(amount, "CNY").share(numerator, denominator)
    assert isinstance(part.amount, int)
    assert part.amount * denominator <= amount * numerator < (part.amount + 1) * denominator
    assert part.amount <= amount


def test_share_of_zero_quantity_is_invalid() -> None:
    """DOMAIN.md Money rules: a share is of the quantities concerned; zero units is no share."""
    with pytest.raises(InvalidInput):
        Money(100, "CNY").share(1, 0)


def test_format_shows_major_units() -> None:
    """DOMAIN.md Orders: minor units stored, shown in major units."""
    assert Money(12500, "CNY").format() == "125.00 CNY"
    assert Money(-5, "USD").format() == "-0.05 USD"
    assert Money(1500, "JPY").format() == "1500 JPY"
