"""Money as integer minor units (分/cents) with a currency: never floats.

Mixing currencies is an error, not a conversion: AliExpress sends both local currency and
USD, and the ledger must never add them up by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from aftersales.domain.errors import InvalidInput

# Currencies the stores here sell in (AliExpress pays out in the buyer's local currency).
CURRENCIES = frozenset({
    "CNY", "HKD", "TWD", "USD", "EUR", "GBP", "RUB", "BRL", "MXN", "CLP", "COP", "PEN", "ARS",
    "PLN", "CZK", "HUF", "RON", "SEK", "NOK", "DKK", "CHF", "UAH", "TRY", "ILS", "SAR", "AED",
    "KRW", "JPY", "AUD", "NZD", "CAD", "SGD", "MYR", "THB", "VND", "IDR", "PHP", "INR", "ZAR",
    "KZT",
})
# What an amount column holds (64-bit): a larger amount is a typing error, refused on input
MAX_MINOR = 2**63 - 1

# Minor units per major unit, for parsing "12.50"-style strings platforms send (ISO 4217).
EXPONENT = {"JPY": 0, "KRW": 0, "CLP": 0, "VND": 0}


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise InvalidInput(f"money amount must be an integer number of minor units: {self.amount!r}")
        if not -MAX_MINOR <= self.amount <= MAX_MINOR:
            raise InvalidInput(f"money amount out of range: {self.amount}", code="invalid_amount")
        if self.currency not in CURRENCIES:
            raise InvalidInput(f"unknown currency {self.currency!r}", code="invalid_currency")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse_major(cls, text: str, currency: str) -> Money:
        """Parse a decimal string in major units ("12.50" yuan) exactly, without floats."""
        digits = EXPONENT.get(currency, 2)
        raw = text.strip()
        negative = raw.startswith("-")
        raw = raw[1:] if raw[:1] in ("+", "-") else raw  # one sign at most
        whole, _, frac = raw.partition(".")

        def digits_only(part: str) -> bool:  # ASCII only: "²" or "１" are digits to str.isdigit
            return part.isascii() and part.isdigit()

        if not digits_only(whole) and not (whole == "" and digits_only(frac)):
            raise InvalidInput(f"not a decimal amount: {text!r}")
        if frac and not digits_only(frac):
            raise InvalidInput(f"not a decimal amount: {text!r}")
        if len(frac) > digits and frac[digits:].strip("0"):
            raise InvalidInput(f"more than {digits} decimals in {text!r}")
        frac = (frac + "0" * digits)[:digits]
        minor = int(whole or "0") * 10**digits + int(frac or "0")
        return cls(-minor if negative else minor, currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise InvalidInput(
                f"cannot combine {self.currency} and {other.currency}", code="currency_mismatch"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def clamp_zero(self) -> Money:
        return self if self.amount >= 0 else Money(0, self.currency)

    def share(self, numerator: int, denominator: int) -> Money:
        """This amount × numerator / denominator, rounded down to the minor unit.

        Rounding down means a partial quantity never refunds a fen more than was paid;
        the last unit of a line gets the remainder (see refunds.line_refundable).
        """
        if denominator <= 0:
            raise InvalidInput("share of a zero quantity")
        return Money(self.amount * numerator // denominator, self.currency)

    def allocate(self, weights: list[int]) -> list[Money]:
        """This amount split in proportion to `weights`, the parts adding up to it exactly:
        each part rounded down, the fen left over going to the largest remainders."""
        whole = sum(weights)
        if whole <= 0 or any(w < 0 for w in weights):
            raise InvalidInput("allocation needs non-negative weights with a positive sum")
        parts = [self.amount * w // whole for w in weights]
        order = sorted(range(len(weights)), key=lambda i: (-(self.amount * weights[i] % whole), i))
        for i in order[:self.amount - sum(parts)]:
            parts[i] += 1
        return [Money(p, self.currency) for p in parts]

    def format(self) -> str:
        digits = EXPONENT.get(self.currency, 2)
        sign = "-" if self.amount < 0 else ""
        value = abs(self.amount)
        if digits == 0:
            return f"{sign}{value} {self.currency}"
        return f"{sign}{value // 10**digits}.{value % 10**digits:0{digits}d} {self.currency}"

    def to_dict(self) -> dict[str, object]:
        return {"amount": self.amount, "currency": self.currency}
