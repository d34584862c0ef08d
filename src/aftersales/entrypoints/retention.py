"""How long Idempotency-Keys are kept, for the API (which treats older keys as new) and
the worker (which deletes them). Its own module so the worker and every CLI command do not
import the HTTP API to read one setting."""

from __future__ import annotations

import os

TTL_ENV = "AFTERSALES_IDEMPOTENCY_TTL_HOURS"


def idempotency_ttl_seconds() -> float:
    """AFTERSALES_IDEMPOTENCY_TTL_HOURS (24 by default, like Stripe's), in seconds."""
    raw = os.environ.get(TTL_ENV, "")
    try:
        hours = float(raw) if raw.strip() else 24.0
    except ValueError:
        raise ValueError(f"{TTL_ENV} must be a number, got {raw!r}") from None
    return hours * 3600.0
