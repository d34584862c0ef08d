"""What a platform tells us about one after-sales case, in the domain's terms.

Platform adapters (adapters/platforms/<name>.py) parse each platform's payload into a
PlatformSnapshot; the service applies it as a versioned sync (a newer
`platform_version` updates the case, an older or equal one changes nothing) and always
keeps the raw platform status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aftersales.domain.money import Money
from aftersales.domain.vocabulary import CaseType, Reason, State


@dataclass(frozen=True, slots=True)
class SnapshotLine:
    platform_line_id: str  # the platform's sub-order / sku line id
    sku: str | None
    quantity: int


@dataclass(frozen=True, slots=True)
class PlatformSnapshot:
    platform: str
    platform_case_id: str
    platform_order_id: str
    platform_status: str  # raw, always kept: e.g. "WAIT_SELLER_AGREE" or "cs_status=3"
    state: State  # mapped
    version: int  # monotonic per case: refund_version, update_time, modified time…
    type: CaseType | None = None
    reason: Reason | None = None
    requested_amount: Money | None = None
    refunded_amount: Money | None = None
    deadline_at: datetime | None = None  # a deadline the platform sent wins
    buyer_id: str | None = None
    description: str | None = None
    lines: tuple[SnapshotLine, ...] = ()
    return_carrier: str | None = None
    return_waybill: str | None = None
    raw_reason: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
