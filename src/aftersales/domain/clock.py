"""Calendar arithmetic in a shop's timezone; "now" is always passed in, never read."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aftersales.domain.errors import InvalidInput

# The years a time given to this system may fall in: room left on both sides for the
# deadlines and windows added to it (Python's datetimes end at the year 9999).
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


def require_aware(at: datetime, name: str = "time") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{name} must carry a UTC offset: {at.isoformat()}", code="naive_datetime")
    try:
        return at.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise InvalidInput(f"{name} is out of range: {at.isoformat()}", code="invalid_time") from None


def window_end(start: datetime, days: int, timezone: str) -> datetime:
    """End of a window of `days` calendar days counted from the day after `start`.

    "7 days from the day after signing" (网络购买商品七日无理由退货暂行办法 第六条): signed on
    the 1st at 15:00 → days 2..8 count → the window closes at 00:00 on the 9th, shop time.
    """
    zone = ZoneInfo(timezone)
    local_day = require_aware(start).astimezone(zone).date()
    closes = datetime.combine(local_day + timedelta(days=days + 1), time(0), tzinfo=zone)
    return closes.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """"49h", "10d", "30m" (sandbox clock advances)."""
    raw = text.strip().lower()
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if len(raw) < 2 or raw[-1] not in units or not (raw[:-1].isascii() and raw[:-1].isdigit()):
        raise InvalidInput(f"duration must look like 30m, 49h or 10d: {text!r}", code="invalid_duration")
    try:
        return timedelta(**{units[raw[-1]]: int(raw[:-1])})
    except OverflowError:
        raise InvalidInput(f"duration too long: {text!r}", code="invalid_duration") from None
