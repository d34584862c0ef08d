"""Strict readers for platform payloads: each problem names the field it is in.

Why strict: a value coerced by guesswork (a float amount, "" for an id, a status we
have never seen) would silently move money or a deadline. Every accessor returns the
promised type or raises PayloadError naming the dotted path, e.g. "order_info.shop_order_id".
Absent, null and blank strings all count as "not sent": platforms use all three.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from typing import Any

from aftersales.adapters.platforms.base import PayloadError
from aftersales.domain.errors import InvalidInput
from aftersales.domain.money import Money

CHINA = timezone(timedelta(hours=8), "UTC+08:00")  # China has had no DST since 1991
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A number above this is milliseconds: 10**11 seconds would be the year 5138.
_MS_THRESHOLD = 10**11
_INT = re.compile(r"-?\d+")


def epoch_ms(moment: datetime) -> int:
    """Exact integer milliseconds since the epoch (no float rounding)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def unwrap(payload: Any, *paths: str) -> Any:
    """The object under the first envelope path present (e.g. "refund_get_response.refund"),
    else the payload itself: callers may pass either the API response or its content."""
    for path in paths:
        node = payload
        for key in _keys(path):
            node = node.get(key) if _is_mapping(node) else None
            if node is None:
                break
        if node is not None and _is_mapping(node):
            return node
    return payload


@cache
def _keys(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _is_mapping(value: Any) -> bool:
    # Decoded JSON is a dict: the exact-type test first, the ABC check (slow) only otherwise.
    return value.__class__ is dict or isinstance(value, Mapping)


class Fields:
    """One JSON object of a payload, read through typed, path-naming accessors."""

    def __init__(self, platform: str, data: Any, path: str = "") -> None:
        if not _is_mapping(data):
            where = f"field '{path}'" if path else "payload"
            raise PayloadError(f"{platform}: {where} must be a JSON object", field=path or None)
        self.platform, self.data, self.path = platform, data, path

    def name(self, field: str) -> str:
        return f"{self.path}.{field}" if self.path else field

    def error(self, field: str, problem: str) -> PayloadError:
        name = self.name(field)
        return PayloadError(f"{self.platform}: field '{name}' {problem}", field=name)

    def unknown(self, field: str, value: object) -> PayloadError:
        return self.error(field, f"has unknown value {value!r}")

    def raw(self, field: str) -> Any:
        value = self.data.get(field)
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    def has(self, field: str) -> bool:
        return self.raw(field) is not None

    def require(self, field: str) -> Any:
        value = self.raw(field)
        if value is None:
            name = self.name(field)
            raise PayloadError(f"{self.platform}: missing field '{name}'", field=name)
        return value

    def text(self, field: str) -> str:
        value = self.data.get(field)
        if value.__class__ is str:  # the usual case, read in one step
            value = value.strip()
            if value:
                return value
        return self._text(field, self.require(field))

    def _text(self, field: str, value: Any) -> str:
        if value.__class__ is str:  # the usual case first, before the general checks
            return value.strip()
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # numeric ids (tid, oid, orderId) are ids, not numbers
        raise self.error(field, f"must be a string or an integer id, got {value!r}")

    def opt_text(self, field: str) -> str | None:
        value = self.raw(field)
        return None if value is None else self._text(field, value)

    def integer(self, field: str) -> int:
        value = self.data.get(field)
        if value.__class__ is int:  # the usual case, read in one step
            return value
        return self._integer(field, self.require(field))

    def _integer(self, field: str, value: Any) -> int:
        if value.__class__ is int or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value)
        kind = "float " if isinstance(value, float) else ""
        raise self.error(field, f"must be an integer, got {kind}{value!r}")

    def opt_int(self, field: str) -> int | None:
        value = self.raw(field)
        return None if value is None else self._integer(field, value)

    def flag(self, field: str) -> bool | None:
        value = self.raw(field)
        if value is None or isinstance(value, bool):
            return value
        if value in (0, 1, "0", "1", "true", "false"):
            return value in (1, "1", "true")
        raise self.error(field, f"must be a boolean, got {value!r}")

    def fen(self, field: str, currency: str = "CNY") -> Money:
        """Integer minor units (分). Floats are refused: 12.5 could mean ¥12.50 or 12.5 fen."""
        return self._fen(field, self.require(field), currency)

    def _fen(self, field: str, value: Any, currency: str) -> Money:
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            kind = "float " if isinstance(value, float) else ""
            raise self.error(field, f"must be an integer number of fen, got {kind}{value!r}")
        return self._money(field, value, currency)

    def opt_fen(self, field: str, currency: str = "CNY") -> Money | None:
        value = self.raw(field)
        return None if value is None else self._fen(field, value, currency)

    def major(self, field: str, currency: str) -> Money:
        """A decimal string in major units ("12.50" yuan), parsed exactly by Money.parse_major."""
        value = self.require(field)
        if not isinstance(value, str):
            raise self.error(field, f"must be a decimal string like \"12.50\", got {value!r}")
        try:
            money = Money.parse_major(value, currency)
        except InvalidInput as exc:
            unsupported = exc.code == "invalid_currency"
            problem = "has an unsupported currency" if unsupported else f"is not a valid {currency} amount"
            raise self.error(field, f"{problem}: {exc.message}") from exc
        return self._money(field, money.amount, currency)

    def opt_major(self, field: str, currency: str) -> Money | None:
        return self.major(field, currency) if self.has(field) else None

    def _money(self, field: str, amount: int, currency: str) -> Money:
        if amount < 0:
            raise self.error(field, f"must not be negative, got {amount}")
        try:
            return Money(amount, currency)
        except InvalidInput as exc:
            raise self.error(field, f"has an unsupported currency: {exc.message}") from exc

    def unix(self, field: str, unit: str = "s") -> datetime:
        """A unix timestamp in seconds, milliseconds, or "auto" (told apart by size)."""
        value = self.integer(field)
        try:
            if unit == "ms" or (unit == "auto" and value >= _MS_THRESHOLD):
                return EPOCH + timedelta(milliseconds=value)
            return EPOCH + timedelta(seconds=value)
        except (OverflowError, ValueError):  # beyond the years 1–9999
            raise self.error(field, f"out of range: {value}") from None

    def opt_unix(self, field: str, unit: str = "s") -> datetime | None:
        """Like unix(); absent or 0 (platforms' "no deadline") gives None."""
        return self.unix(field, unit) if self.has(field) and self.integer(field) else None

    def local_time(self, field: str, zone: tzinfo = CHINA) -> datetime:
        """"yyyy-MM-dd HH:mm:ss" in the platform's zone (China time unless told), as UTC."""
        value = self.text(field)
        try:
            moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        except ValueError as exc:
            raise self.error(field, f"must be a time like \"2024-05-20 18:30:00\", got {value!r}") from exc
        try:
            return moment.replace(tzinfo=zone).astimezone(UTC)
        except OverflowError:  # year 1 east of UTC
            raise self.error(field, f"out of range: {value!r}") from None

    def sub(self, field: str) -> Fields:
        return Fields(self.platform, self.require(field), self.name(field))

    def opt_sub(self, field: str) -> Fields | None:
        return self.sub(field) if self.has(field) else None

    def rows(self, field: str) -> list[Fields]:
        value = self.raw(field)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(field, "must be a list")
        return [Fields(self.platform, row, f"{self.name(field)}[{i}]") for i, row in enumerate(value)]


class EnvelopeFields:
    """For an adapter whose payload may come inside the API's response envelope and names
    its order in one field: reading the fields, and the order key bulk import splits by."""

    platform: str
    envelope: tuple[str, ...] = ()  # dotted paths to the content, tried in order
    order_field: str = ""

    def _fields(self, payload: Mapping[str, Any]) -> Fields:
        return Fields(self.platform, unwrap(payload, *self.envelope))

    def order_key(self, payload: Mapping[str, Any]) -> str:
        """The platform's order id, as parse() reads it, without the rest of the parse."""
        return self._fields(payload).text(self.order_field)
