"""Language for the console: zh-CN by default, English on request; Babel catalogs and formats.

Catalogs are the committed .po files, read directly at start-up (no compile step). UI text
uses the English sentence as its msgid; stable codes (states, reasons, actions, rule and
error codes, …) use "kind.code" msgids, so a code never leaks to the page untranslated
without a test noticing (tests/console/test_catalogs.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations

from aftersales.domain.money import EXPONENT, Money

LOCALES = ("zh_CN", "en")
DEFAULT = "zh_CN"
LANG_COOKIE = "as_lang"
HERE = Path(__file__).parent / "locales"


def po_path(locale: str) -> Path:
    return HERE / locale / "LC_MESSAGES" / "messages.po"


@cache
def translations(locale: str) -> Translations:
    with po_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def pick(query: str | None, cookie: str | None, accept: str | None) -> str:
    """?lang= wins, then the cookie; otherwise zh-CN (the desk's people read Chinese)."""
    for value in (query, cookie):
        norm = normalize(value)
        if norm:
            return norm
    return DEFAULT


def normalize(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v.startswith("en"):
        return "en"
    return None


def _as_money(value: Any) -> Money | None:
    if value is None:
        return None
    if isinstance(value, Money):
        return value
    return Money(int(value["amount"]), str(value["currency"]))


def _as_dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class Lang:
    """Everything a template needs to speak one language; built per request."""

    def __init__(self, locale: str, timezone: str = "Asia/Shanghai") -> None:
        self.locale = locale
        self.timezone = timezone
        self.t = translations(locale)
        self.html_lang = "zh-CN" if locale == "zh_CN" else "en"

    def gettext(self, msgid: str, **kw: Any) -> str:
        text = self.t.gettext(msgid)
        return text % kw if kw else text

    def label(self, kind: str, code: Any) -> str:
        """A code's words; an unknown code shows as itself rather than breaking the page."""
        if code is None or code == "":
            return ""
        key = f"{kind}.{code}"
        text = self.t.gettext(key)
        return str(code) if text == key else text

    def money(self, value: Any) -> str:
        m = _as_money(value)
        if m is None:
            return "—"
        exp = EXPONENT.get(m.currency, 2)
        return format_currency(Decimal(m.amount).scaleb(-exp), m.currency, locale=self.locale)

    def major(self, value: Any) -> str:
        """An amount as the number a form field shows (199.00), for editing."""
        m = _as_money(value)
        if m is None:
            return ""
        exp = EXPONENT.get(m.currency, 2)
        return f"{Decimal(m.amount).scaleb(-exp):.{exp}f}"

    def dt(self, value: Any, fmt: str = "medium") -> str:
        at = _as_dt(value)
        if at is None:
            return "—"
        return format_datetime(at, fmt, tzinfo=ZoneInfo(self.timezone), locale=self.locale)

    def date(self, value: Any) -> str:
        at = _as_dt(value)
        if at is None:
            return "—"
        return format_date(at.astimezone(UTC), "medium", locale=self.locale)

    def pct(self, value: float | None) -> str:
        return "—" if value is None else format_percent(value, "#,##0.0%", locale=self.locale)

    def num(self, value: float | int | None) -> str:
        return "—" if value is None else format_decimal(value, locale=self.locale)

    def span(self, seconds: int | float) -> str:
        """A duration in plain words: 2天3小时 / 2 d 3 h; minutes under an hour."""
        s = abs(int(seconds))
        days, rem = divmod(s, 86400)
        hours, rem = divmod(rem, 3600)
        minutes = rem // 60
        if days:
            return self.gettext("%(d)s d %(h)s h", d=days, h=hours)
        if hours:
            return self.gettext("%(h)s h %(m)s min", h=hours, m=minutes)
        return self.gettext("%(m)s min", m=max(minutes, 1) if s else 0)

    def left(self, seconds: int | float | None) -> str:
        """Time left before a deadline, or how late it is, in plain words."""
        if seconds is None:
            return "—"
        if seconds < 0:
            return self.gettext("%(span)s overdue", span=self.span(seconds))
        return self.gettext("%(span)s left", span=self.span(seconds))
