"""Upstream claims: the merchant, as the *buyer* upstream, claims a refund from the supplier.

PLATFORMS.md, "1688 dropshipping (alibaba_1688)": "each downstream refund for a
dropshipped line should open or link an upstream claim with the supplier (createRefund:
amount ≤ paid, 2–150 character description, 1–5 evidence images) and track what was
recovered. Reported: 1688 no longer offers refund-only, so a downstream auto-refund can
become an unrecovered loss unless it is tracked."

The bounds are data: the profile's `upstream_claim` rule (alibaba_1688.toml) names them
(`description_min_chars`, `description_max_chars`, `evidence_images_min`,
`evidence_images_max`, `amount_max = "paid"`). A profile without the rule sets no bound,
so nothing here knows 1688's numbers. Time is always passed in.

    open ──record_recovery (all)──→ recovered
     │  ╲──record_recovery (part)──→ partially_recovered ──(more)──→ recovered
     ├──refuse──→ refused            (partially_recovered may also be refused or withdrawn)
     └──withdraw──→ withdrawn
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aftersales.domain.errors import InvalidInput, InvalidTransition, RuleRefused
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import Role

# Who reads upstream claims — and so the case events that tell of them (kinds starting
# with EVENT_PREFIX): the merchant's supplier, its order and what is recovered from it are
# the shop's business, not the buyer's nor the warehouse's.
READERS = frozenset({Role.agent, Role.finance, Role.admin})
EVENT_PREFIX = "upstream_claim_"

STATUSES = ("open", "partially_recovered", "recovered", "refused", "withdrawn")
# A claim still waiting for the supplier: money may still come back.
ACTIVE = frozenset({"open", "partially_recovered"})


@dataclass(frozen=True, slots=True)
class UpstreamClaim:
    id: str
    shop_id: str
    case_id: str
    supplier: str
    supplier_order_id: str
    amount: Money
    recovered: Money
    status: str
    description: str
    evidence_count: int
    opened_at: datetime
    settled_at: datetime | None = None
    supplier_paid: Money | None = None  # what the merchant paid the supplier, when known

    @property
    def outstanding(self) -> Money:
        """What the supplier still owes on an active claim; nothing once it is settled."""
        if self.status not in ACTIVE:
            return Money.zero(self.amount.currency)
        return (self.amount - self.recovered).clamp_zero()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


def _bound(rule: Mapping[str, Any] | None, key: str) -> int | None:
    if not rule:
        return None
    value = rule.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def validate_claim(rule: Mapping[str, Any] | None, *, amount: Money, paid: Money | None,
                   description: str, evidence_count: int) -> str:
    """Check a claim before it is opened; returns the cleaned description.

    `rule` is the profile's `upstream_claim` value (None: no platform bounds). 1688's
    createRefund refuses a claim above what was paid, a description outside its length
    bounds and too few or too many voucher images (PLATFORMS.md / 1688); checking here
    saves a round trip that the supplier's platform would refuse anyway.
    """
    text = description.strip()
    if amount.amount <= 0:
        raise InvalidInput("a claim needs a positive amount", code="invalid_amount")
    if paid is not None and paid.currency != amount.currency:
        raise InvalidInput(f"supplier_paid must be in {amount.currency}", code="currency_mismatch")
    if paid is not None and paid.amount < 0:
        raise InvalidInput("supplier_paid cannot be negative", code="invalid_amount")
    if rule and rule.get("amount_max") == "paid" and paid is not None and amount > paid:
        raise RuleRefused(f"the claim ({amount.format()}) exceeds what was paid to the supplier "
                          f"({paid.format()})", code="claim_amount_exceeds_paid")
    low, high = _bound(rule, "description_min_chars"), _bound(rule, "description_max_chars")
    if (low is not None and len(text) < low) or (high is not None and len(text) > high):
        raise InvalidInput(f"the description must be {low or 0}–{high or '∞'} characters "
                           f"(got {len(text)})", code="claim_description_length")
    if evidence_count < 0:
        raise InvalidInput("evidence_count cannot be negative", code="claim_evidence_count")
    low, high = _bound(rule, "evidence_images_min"), _bound(rule, "evidence_images_max")
    if (low is not None and evidence_count < low) or (high is not None and evidence_count > high):
        raise InvalidInput(f"a claim takes {low or 0}–{high or '∞'} evidence images "
                           f"(got {evidence_count})", code="claim_evidence_count")
    return text


def _require_active(claim: UpstreamClaim, action: str) -> None:
    if not claim.is_active:
        raise InvalidTransition(f"cannot {action} a claim that is {claim.status}",
                                code="invalid_transition")


def record_recovery(claim: UpstreamClaim, amount: Money, now: datetime) -> UpstreamClaim:
    """Money the supplier paid back. Never more than the claim: the ledger must stay right,
    so an amount above what is outstanding is refused rather than silently cut."""
    _require_active(claim, "record a recovery on")
    if amount.currency != claim.amount.currency:
        raise InvalidInput(f"amount must be in {claim.amount.currency}", code="currency_mismatch")
    if amount.amount <= 0:
        raise InvalidInput("a recovery needs a positive amount", code="invalid_amount")
    if amount > claim.outstanding:
        raise RuleRefused(f"{amount.format()} exceeds what is outstanding on the claim "
                          f"({claim.outstanding.format()})", code="recovery_exceeds_claim")
    recovered = claim.recovered + amount
    if recovered >= claim.amount:
        return replace(claim, recovered=recovered, status="recovered", settled_at=now)
    return replace(claim, recovered=recovered, status="partially_recovered")


def refuse(claim: UpstreamClaim, now: datetime) -> UpstreamClaim:
    """The supplier refused (1688 waitbuyermodify): what is outstanding becomes a loss."""
    _require_active(claim, "refuse")
    return replace(claim, status="refused", settled_at=now)


def withdraw(claim: UpstreamClaim, now: datetime) -> UpstreamClaim:
    """The merchant gave the claim up (opened by mistake, or settled another way)."""
    _require_active(claim, "withdraw")
    return replace(claim, status="withdrawn", settled_at=now)
