"""The facts a platform adapter reports beside the state (PlatformSnapshot.extra), put
where the case shows them.

Why a module of its own: adapters computed these signals and nothing read them, so a
failed platform refund looked like any refund in progress and AliExpress's USD amount
was lost. What each becomes:
- refund_failed (Kuaishou 70, WeChat PLATFORM_REFUND_FAIL / MERCHANT_OVERDUE_REFUND /
  MERCHANT_REFUND_RETRY_FAIL, Douyin refund_status 4): a `platform_refund_failed` event —
  the buyer has no money and someone must act. No ledger entry exists to mark failed: a
  platform's refund is booked only when it completes (service/sync.py _platform_refund).
- speed_refund (PDD speed_refund_flag, WeChat fast_refund, Douyin refund_type 1/3): said
  in the sync event's explanation — the platform approved it itself, nobody here did.
- amount_usd_minor / amount_usd_currency (AliExpress): a `platform_amount` event with the
  USD figure in its data, whenever the case is created or its amount changes; the local
  amount stays the case's amount (two currencies are never added).
- upstream (1688) and speed_refund_failed (PDD) have no place yet: see docs/decisions.md.
"""

from __future__ import annotations

from datetime import datetime

from aftersales.domain.case import Case
from aftersales.domain.events import Actor
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot


def sync_note(snap: PlatformSnapshot) -> str:
    """What the sync event adds to "status X (version N)"."""
    if snap.extra.get("speed_refund") == "true":
        return "; speed refund: the platform approved it itself"
    return ""


def record_signals(case: Case, snap: PlatformSnapshot, actor: Actor, now: datetime, *,
                   first: bool, before: tuple[str | None, Money]) -> None:
    """Events for the signals of a snapshot just applied; `before` is the case's platform
    status and amount before it, so a signal repeated by a later version is not re-told."""
    status_changed = first or before[0] != snap.platform_status
    if snap.extra.get("refund_failed") == "true" and status_changed:
        case.record("platform_refund_failed", actor, now,
                    f"{snap.platform} reports the refund to the buyer failed (status "
                    f"{snap.platform_status}): the buyer has not been paid",
                    data={"platform_status": snap.platform_status})
    usd = _usd(snap)
    if usd is not None and (first or before[1] != case.requested_amount):
        case.record("platform_amount", actor, now,
                    f"{snap.platform} also states the amount as {usd.format()} "
                    "(kept beside the case's own currency, never added to it)",
                    data={"amount": {"amount": usd.amount, "currency": usd.currency}})


def _usd(snap: PlatformSnapshot) -> Money | None:
    minor, currency = snap.extra.get("amount_usd_minor"), snap.extra.get("amount_usd_currency")
    if minor is None or currency is None or not minor.isdigit():
        return None
    return Money(int(minor), currency)
