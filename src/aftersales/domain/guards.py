"""Guards: the named conditions of transition-table rows (`Case.act` checks a row's guard).

Apart from case.py because two of them ask the policy (policy.py), which reads cases:
case.py -> guards.py -> policy.py, and nothing back at run time (no case <-> policy cycle)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aftersales.domain.errors import RuleRefused
from aftersales.domain.policy import escalation_blocker, refusal_blocker

if TYPE_CHECKING:
    from aftersales.domain.case import Case, CaseContext


def _guard_refusable(case: Case, ctx: CaseContext, now: datetime) -> None:
    blocker = refusal_blocker(case, ctx, now)
    if blocker:
        raise RuleRefused(blocker, code="cannot_refuse")


def _guard_offer_pending(case: Case, ctx: CaseContext, now: datetime) -> None:
    if case.offer is None:
        raise RuleRefused("there is no counter-offer to answer", code="no_offer_pending")


def _guard_no_offer_pending(case: Case, ctx: CaseContext, now: datetime) -> None:
    if case.offer is not None:
        raise RuleRefused("a counter-offer is already waiting for the buyer", code="offer_pending")


def _guard_escalation_open(case: Case, ctx: CaseContext, now: datetime) -> None:
    blocker = escalation_blocker(case, ctx, now)
    if blocker:
        raise RuleRefused(blocker[1], code=blocker[0])


def _guard_resubmission(case: Case, ctx: CaseContext, now: datetime) -> None:
    if not ctx.profile.rule("resubmission_allowed", False):
        raise RuleRefused(f"{ctx.profile.name}: the buyer cannot resubmit after a rejection",
                          code="resubmission_not_allowed")


def _guard_offline_pending(case: Case, ctx: CaseContext, now: datetime) -> None:
    if not ctx.offline_pending:
        raise RuleRefused("no offline refund is waiting for a reference", code="nothing_to_mark")


def _guard_shipping_closes(case: Case, ctx: CaseContext, now: datetime) -> None:
    if not ctx.profile.rule("shipping_closes_unshipped_refund", False):
        raise RuleRefused(f"{ctx.profile.name}: shipping the order does not close a refund "
                          "request here", code="cannot_close_by_shipping")
    if ctx.order.shipped_at is not None:
        raise RuleRefused("the order has already shipped", code="already_shipped")


GUARDS: dict[str, Callable[[Case, CaseContext, datetime], None]] = {
    "refusable": _guard_refusable,
    "offer_pending": _guard_offer_pending,
    "no_offer_pending": _guard_no_offer_pending,
    "escalation_open": _guard_escalation_open,
    "resubmission_allowed": _guard_resubmission,
    "offline_pending": _guard_offline_pending,
    "shipping_closes_request": _guard_shipping_closes,
}
