"""Write-back retries: exponential with full jitter, capped, never before retry_after."""

from __future__ import annotations

from aftersales.service.writeback import MAX_DELAY, backoff


def test_backoff_doubles_up_to_its_cap_and_jitters_below_it() -> None:
    assert [backoff(n, lambda: 1.0, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(30, lambda: 1.0, None) == MAX_DELAY
    assert backoff(4, lambda: 0.5, None) == 4.0


def test_the_platforms_retry_after_is_a_floor() -> None:
    assert backoff(1, lambda: 0.0, 1.0) == 1.0
    assert backoff(5, lambda: 1.0, 1.0) == 16.0
