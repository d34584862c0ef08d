"""What a parsed snapshot may hold so that both databases store it alike.

PostgreSQL refuses a NUL character in text, a string longer than its column and text
that is not valid UTF-8 (a lone surrogate from a JSON `\\ud800` escape); SQLite stores
all three silently. An import then lost every line of a batch on PostgreSQL and kept the
bad values on SQLite. A snapshot is checked here, before any write, so a bad payload is
refused the same way on both: no control characters (tabs and line breaks allowed in
free text only), valid UTF-8, every value within the width tables.py gives its column,
every number within its column's integer range.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aftersales.adapters.db import tables as t
from aftersales.domain.sync import PlatformSnapshot

_C, _O, _L = t.cases.c, t.orders.c, t.order_lines.c


def _width(column: Any) -> int:
    length = getattr(column.type, "length", None)
    assert isinstance(length, int), column
    return length


# snapshot field → the column it lands in (its width is the limit)
WIDTHS: dict[str, int] = {
    "platform_case_id": _width(_C.platform_case_id),
    "platform_order_id": _width(_O.platform_order_id),
    "platform_status": _width(_C.platform_status),
    "buyer_id": _width(_C.buyer_id),
    "return_carrier": _width(_C.return_carrier),
    "return_waybill": _width(_C.return_waybill),
    "lines.platform_line_id": _width(_L.sku),  # the line's sku when it has none
    "lines.sku": _width(_L.sku),
}
FREE_TEXT = {"description", "raw_reason"}
BIGINT = 2**63 - 1
INT = 2**31 - 1


class Refused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_snapshot(snap: PlatformSnapshot) -> None:
    """Raise Refused (`invalid_text`, `value_too_long`, `number_out_of_range`) for a
    snapshot that one of the databases would refuse or store differently."""
    for name, value in _texts(snap):
        _text(name, value, free=name in FREE_TEXT)
        width = WIDTHS.get(name)
        if width is not None and len(value) > width:
            raise Refused("value_too_long",
                          f"{name} is {len(value)} characters long; at most {width}")
    numbers = [("version", snap.version, BIGINT)]
    numbers += [(f"{name}", m.amount, BIGINT) for name, m in
                (("requested_amount", snap.requested_amount),
                 ("refunded_amount", snap.refunded_amount)) if m is not None]
    numbers += [("lines.quantity", ln.quantity, INT) for ln in snap.lines]
    for name, number, bound in numbers:
        if not -bound - 1 <= number <= bound:
            raise Refused("number_out_of_range", f"{name} {number} is out of range")


def _texts(snap: PlatformSnapshot) -> Iterator[tuple[str, str]]:
    for name in ("platform_case_id", "platform_order_id", "platform_status", "buyer_id",
                 "description", "return_carrier", "return_waybill", "raw_reason"):
        value = getattr(snap, name)
        if value is not None:
            yield name, value
    for line in snap.lines:
        yield "lines.platform_line_id", line.platform_line_id
        if line.sku is not None:
            yield "lines.sku", line.sku
    for key, value in snap.extra.items():
        yield "extra", key
        yield f"extra.{key[:40]}", value


# control characters (and lone surrogates, which are not UTF-8); free text keeps \t \n \r
_BAD = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_BAD_FREE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _text(name: str, value: str, *, free: bool) -> None:
    found = (_BAD_FREE if free else _BAD).search(value)
    if found is None:
        return
    ch = found.group()
    if "\ud800" <= ch <= "\udfff":
        raise Refused("invalid_text", f"{name} is not valid Unicode text (a lone surrogate)")
    raise Refused("invalid_text", f"{name} holds the control character U+{ord(ch):04X}")
