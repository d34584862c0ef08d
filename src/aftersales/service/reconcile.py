"""A refund the platform reports, matched to our ledger and never above what the order took.

Why: the platform is the authority on its own cases, but not on our money. A completed
sync used to book whatever amount it carried (¥10,000,000,000 on a ¥158 order), and two
platform cases on one order, or our refund plus the platform's mirror of it, booked twice
what the order took. Now, under the order's lock (as refunding.start_refund):

- matched (the case already has entries, or an entry carries the platform's reference):
  nothing more is booked; our pending entries are settled from the report (live shops
  have no other confirmation); a reported figure that differs from ours is a difference;
- unmatched: booked up to what the order has left (`order_left`); the rest is a
  difference.

A difference is a stored row (shop, case, order, reference, reported, booked, at) and an
event on the case, shown to finance (GET /reconciliation/differences, reports summary).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aftersales.domain.case import CaseContext
from aftersales.domain.errors import Forbidden
from aftersales.domain.events import Actor
from aftersales.domain.money import Money
from aftersales.domain.refunds import order_left
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import CaseType, Role, State
from aftersales.service.casework import Loaded, build_context, refunded_amounts
from aftersales.service.deps import Deps
from aftersales.service.ports import Difference, LedgerEntry, Principal
from aftersales.service.refunding import line_split
from aftersales.service.repositories import UnitOfWork

PLATFORM = Actor(Role.platform)


def reference_of(snap: PlatformSnapshot) -> str:
    return f"{snap.platform}:{snap.platform_case_id}"


def reported_refund(loaded: Loaded, snap: PlatformSnapshot) -> Money | None:
    """What the platform says it refunded on a completed case, as it said it."""
    case = loaded.case
    if case.state is not State.completed:
        return None
    amount = snap.refunded_amount
    if amount is None and case.type is not CaseType.reissue:
        amount = snap.requested_amount or case.requested_amount
    if amount is None or amount.amount <= 0 or amount.currency != loaded.order.currency:
        return None
    return amount


def others_context(loaded: Loaded) -> CaseContext:
    """The case's context counting only the other cases' refunds: what a platform's
    request on this case may still ask for."""
    others = [e for e in loaded.ledger if e.case_id != loaded.case.id]
    return build_context(loaded.shop, loaded.case, loaded.order, loaded.profile, others)


def platform_refund(deps: Deps, uow: UnitOfWork, loaded: Loaded, snap: PlatformSnapshot,
                    now: datetime) -> None:
    reported = reported_refund(loaded, snap)
    if reported is None:
        return
    case, reference = loaded.case, reference_of(snap)
    fresh = uow.orders.lock_order(case.shop_id, case.order_id)
    if fresh is not None:
        loaded.ledger = fresh
    ours = [e for e in loaded.ledger if e.status != "failed"
            and (e.case_id == case.id or e.reference == reference)]
    if ours:
        _settle_from_report(uow, loaded, ours, reference, now)
        booked = Money(sum(e.amount.amount for e in ours), reported.currency)
    else:
        _, total = refunded_amounts(loaded.order, loaded.ledger)
        booked = reported.min(order_left(loaded.order, total))
        if booked.amount > 0:
            _book(deps, uow, loaded, booked, reference, now)
    if booked != reported:
        _difference(deps, uow, loaded, reference, reported, booked, now)


def _book(deps: Deps, uow: UnitOfWork, loaded: Loaded, amount: Money, reference: str,
          now: datetime) -> None:
    case = loaded.case
    case.approved_amount = amount
    entry = LedgerEntry(id=deps.new_id(), shop_id=case.shop_id, case_id=case.id,
                        order_id=case.order_id, round=case.state_seq, kind="goods", amount=amount,
                        method="original", status="succeeded", created_at=now,
                        reference=reference, settled_at=now, lines=line_split(loaded, amount))
    if uow.ledger.add_refund(entry):
        loaded.ledger.append(entry)


def _settle_from_report(uow: UnitOfWork, loaded: Loaded, ours: list[LedgerEntry], reference: str,
                        now: datetime) -> None:
    """The platform says the refund succeeded: our pending entries of the case did."""
    for entry in ours:
        if entry.status != "pending" or entry.case_id != loaded.case.id:
            continue
        uow.ledger.settle_refund(entry.shop_id, entry.id, "succeeded", reference, now)
        at = loaded.ledger.index(entry)
        loaded.ledger[at] = replace(entry, status="succeeded", reference=reference,
                                    settled_at=now)
        loaded.case.record("refund_settled", PLATFORM, now,
                           f"{entry.kind} {entry.amount.format()} confirmed by the platform "
                           f"({reference})", data={"entry_id": entry.id})


def _difference(deps: Deps, uow: UnitOfWork, loaded: Loaded, reference: str, reported: Money,
                booked: Money, now: datetime) -> None:
    case = loaded.case
    diff = Difference(deps.new_id(), case.shop_id, case.id, case.order_id, reference,
                      reported, booked, now)
    if uow.ledger.add_difference(diff):
        case.record("reconciliation_difference", PLATFORM, now,
                    f"the platform reported {reported.format()} refunded ({reference}); "
                    f"{booked.format()} booked, {diff.difference.format()} left to reconcile",
                    data={"reported": reported.to_dict(), "booked": booked.to_dict()})


def cap_requested(loaded: Loaded, snap: PlatformSnapshot, now: datetime) -> None:
    """A sync's requested amount, kept within what the case may still be refunded; the
    platform's own figure stays in the case's history."""
    case, asked = loaded.case, snap.requested_amount
    if asked is None or asked.currency != case.currency:
        return
    cap = others_context(loaded).refundable
    kept = asked.min(cap)
    if kept != asked and case.requested_amount != kept:
        case.record("platform_amount_capped", PLATFORM, now,
                    f"the platform asked {asked.format()}; {kept.format()} is what is refundable",
                    data={"reported": asked.to_dict(), "kept": kept.to_dict()})
    case.requested_amount = kept


DIFFERENCE_ROLES = frozenset({Role.finance, Role.admin})


def difference_view(diff: Difference) -> dict[str, object]:
    return {"id": diff.id, "case_id": diff.case_id, "order_id": diff.order_id,
            "reference": diff.reference, "reported": diff.reported.to_dict(),
            "booked": diff.booked.to_dict(), "difference": diff.difference.to_dict(),
            "at": diff.at.isoformat()}


def list_differences(deps: Deps, principal: Principal) -> list[dict[str, object]]:
    if principal.role not in DIFFERENCE_ROLES:
        raise Forbidden("only finance and admins see reconciliation differences")
    with deps.uow() as uow:
        return [difference_view(d) for d in uow.ledger.differences(principal.shop_id)]


def differences_summary(diffs: list[Difference]) -> dict[str, int]:
    """What the reports summary shows: how many, and the money reported but not booked."""
    return {"count": len(diffs), "reported": sum(d.reported.amount for d in diffs),
            "booked": sum(d.booked.amount for d in diffs),
            "difference": sum(d.difference.amount for d in diffs)}
