"""Calendar arithmetic in the shop's timezone (DOMAIN.md "Shops and time")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aftersales.domain.clock import parse_duration, require_aware, window_end
from aftersales.domain.errors import InvalidInput

SH = ZoneInfo("Asia/Shanghai")


def test_seven_days_count_from_the_day_after_signing() -> None:
    """PLATFORMS.md Chinese law: 7 days counted from the day after signing — signed on the 1st
    at 15:00, days 2..8 count, the window closes at 00:00 on the 9th, shop time."""
    signed = datetime(2026, 3, 1, 15, 0, tzinfo=SH)
    assert window_end(signed, 7, "Asia/Shanghai") == datetime(2026, 3, 9, 0, 0, tzinfo=SH)


def test_signing_late_in_the_evening_counts_the_local_day() -> None:
    """DOMAIN.md Shops and time: days are calendar days in the shop's timezone — signing at
    23:30 Shanghai (15:30 UTC) on the 1st still starts counting on the 2nd."""
    signed_utc = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    assert signed_utc.astimezone(SH).hour == 23
    end = window_end(signed_utc, 7, "Asia/Shanghai")
    assert end == datetime(2026, 3, 9, 0, 0, tzinfo=SH)
    assert end == datetime(2026, 3, 8, 16, 0, tzinfo=UTC)


def test_signing_after_local_midnight_is_the_next_day_although_utc_says_the_day_before() -> None:
    """DOMAIN.md Shops and time: 00:30 on the 2nd in Shanghai is 16:30 UTC on the 1st; the
    window counts from the 3rd (the day after the *local* signing day), not from the 2nd."""
    signed_utc = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert signed_utc.astimezone(SH).date().day == 2
    assert window_end(signed_utc, 7, "Asia/Shanghai") == datetime(2026, 3, 10, 0, 0, tzinfo=SH)


def test_window_end_is_returned_in_utc() -> None:
    """DOMAIN.md Shops and time: all times are stored in UTC."""
    end = window_end(datetime(2026, 3, 1, 12, tzinfo=UTC), 7, "Asia/Shanghai")
    assert end.utcoffset() == timedelta(0)


def test_calendar_days_survive_a_daylight_saving_change() -> None:
    """DOMAIN.md Shops and time: windows counted in days count calendar days in the shop's
    timezone — across a DST change the window still closes at local midnight."""
    berlin = ZoneInfo("Europe/Berlin")
    signed = datetime(2026, 3, 27, 12, 0, tzinfo=berlin)  # DST starts on 29 March 2026
    end = window_end(signed, 7, "Europe/Berlin")
    assert end.astimezone(berlin) == datetime(2026, 4, 4, 0, 0, tzinfo=berlin)
    assert end - signed != timedelta(days=7, hours=12)  # one hour fewer: calendar, not hours


def test_naive_datetimes_are_refused() -> None:
    """DOMAIN.md Shops and time: all times are stored in UTC with the offset — a time without
    an offset is ambiguous and refused."""
    with pytest.raises(InvalidInput) as err:
        window_end(datetime(2026, 3, 1, 12, 0), 7, "Asia/Shanghai")
    assert err.value.code == "naive_datetime"
    with pytest.raises(InvalidInput):
        require_aware(datetime(2026, 3, 1))
    assert require_aware(datetime(2026, 3, 1, 8, tzinfo=SH)) == datetime(2026, 3, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "delta"), [
    ("49h", timedelta(hours=49)), ("10d", timedelta(days=10)), ("30m", timedelta(minutes=30)),
    (" 2D ", timedelta(days=2)),
])
def test_parse_duration(text: str, delta: timedelta) -> None:
    """API.md Sandbox clocks: `{by: "49h" | "10d" | "30m"}`."""
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "h", "10", "10s", "-5h", "1.5h", "ten d", "10 d", "²d", "１h",
                                  "9999999999d"])
def test_parse_duration_refuses_bad_input(text: str) -> None:
    """API.md: every bad input is a clean error (sandbox clock `by`)."""
    with pytest.raises(InvalidInput) as err:
        parse_duration(text)
    assert err.value.code == "invalid_duration"
