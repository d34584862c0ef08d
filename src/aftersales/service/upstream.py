"""Upstream claims on suppliers: open, record what came back, refuse, withdraw, report.

PLATFORMS.md, "1688 dropshipping (alibaba_1688)": the merchant is the buyer upstream, and
each downstream refund for a dropshipped line should open or link an upstream claim with
the supplier and track what was recovered — "1688 no longer offers refund-only, so a
downstream auto-refund can become an unrecovered loss unless it is tracked". `unrecovered`
is that tracking: refunds with no claim, and what open claims still wait for.

Every change appends an event on the case, so the case's history (the audit trail, and
the evidence in a dispute) shows the claim next to the refund it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aftersales.domain import upstream as domain
from aftersales.domain.errors import Forbidden, InvalidInput, RuleRefused
from aftersales.domain.money import Money
from aftersales.domain.upstream import STATUSES, UpstreamClaim
from aftersales.domain.vocabulary import Role
from aftersales.service.casework import Loaded, load, save
from aftersales.service.deps import Deps
from aftersales.service.errors import Conflict, NotFound
from aftersales.service.ports import Principal
from aftersales.service.repositories import UnitOfWork
from aftersales.service.views import iso, money

OPENERS = frozenset({Role.agent, Role.admin})
FINANCE = frozenset({Role.finance, Role.admin})
SETTLERS = frozenset({Role.agent, Role.finance, Role.admin})
READERS = domain.READERS


def _allow(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(f"{what} needs one of the roles: {names}")


def claim_view(claim: UpstreamClaim) -> dict[str, Any]:
    return {"id": claim.id, "case_id": claim.case_id, "supplier": claim.supplier,
            "supplier_order_id": claim.supplier_order_id, "amount": money(claim.amount),
            "recovered": money(claim.recovered), "outstanding": money(claim.outstanding),
            "supplier_paid": money(claim.supplier_paid), "status": claim.status,
            "description": claim.description, "evidence_count": claim.evidence_count,
            "opened_at": iso(claim.opened_at), "settled_at": iso(claim.settled_at)}


def _refunded(loaded: Loaded) -> Money:
    """Money sent (or on its way) to the buyer on this case; failed entries never paid."""
    total = Money.zero(loaded.case.currency)
    for entry in loaded.ledger:
        if entry.case_id == loaded.case.id and entry.status != "failed":
            total = total + entry.amount
    return total


def open_claim(deps: Deps, principal: Principal, case_id: str, supplier: str,
               supplier_order_id: str, amount_minor: int, description: str,
               evidence_count: int, supplier_paid_minor: int | None = None) -> dict[str, Any]:
    """Open a claim on the supplier for a case whose buyer got (or will get) money back."""
    _allow(principal, OPENERS, "opening an upstream claim")
    supplier, supplier_order_id = supplier.strip(), supplier_order_id.strip()
    if not supplier or not supplier_order_id:
        raise InvalidInput("a claim names the supplier and the supplier's order",
                           code="supplier_required")
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id, lock=True)
        case = loaded.case
        approved = case.approved_amount is not None and case.approved_amount.amount > 0
        if not approved and _refunded(loaded).amount <= 0:
            raise RuleRefused("nothing was refunded or approved to the buyer on this case, "
                              "so there is nothing to claim upstream", code="no_downstream_refund")
        amount = Money(amount_minor, case.currency)
        paid = None if supplier_paid_minor is None else Money(supplier_paid_minor, case.currency)
        text = domain.validate_claim(loaded.profile.rule("upstream_claim"), amount=amount,
                                     paid=paid, description=description,
                                     evidence_count=evidence_count)
        for other in uow.claims.claims(principal.shop_id, case_id=case.id):
            if other.is_active and other.supplier_order_id == supplier_order_id:
                raise Conflict(f"claim {other.id} on supplier order {supplier_order_id} is "
                               "still open", code="claim_already_open")
        now = deps.now_for(loaded.shop)
        claim = UpstreamClaim(
            id=deps.new_id(), shop_id=principal.shop_id, case_id=case.id, supplier=supplier,
            supplier_order_id=supplier_order_id, amount=amount,
            recovered=Money.zero(case.currency), status="open", description=text,
            evidence_count=evidence_count, opened_at=now, supplier_paid=paid)
        uow.claims.add_claim(claim)
        case.record("upstream_claim_opened", principal.actor, now,
                    f"upstream claim of {amount.format()} opened with {supplier} "
                    f"(supplier order {supplier_order_id})",
                    data={"claim_id": claim.id, "amount": amount.to_dict()})
        save(uow, loaded, now)
        uow.commit()
    return claim_view(claim)


def _change(deps: Deps, principal: Principal, claim_id: str, kind: str,
            apply: Callable[[UpstreamClaim, datetime], UpstreamClaim],
            explain: Callable[[UpstreamClaim], str]) -> dict[str, Any]:
    """Load the case (locked) before the claim, change the claim, record it on the case."""
    with deps.uow() as uow:
        found = _claim(uow, principal, claim_id)
        loaded = load(deps, uow, principal, found.case_id, lock=True)
        now = deps.now_for(loaded.shop)
        before = _claim(uow, principal, claim_id)  # read again under the case's lock
        after = apply(before, now)
        uow.claims.save_claim(after)
        loaded.case.record(kind, principal.actor, now, explain(after),
                           data={"claim_id": after.id, "status": after.status,
                                 "recovered": after.recovered.to_dict()})
        save(uow, loaded, now)
        uow.commit()
    return claim_view(after)


def record_recovery(deps: Deps, principal: Principal, claim_id: str, amount_minor: int,
                    currency: str) -> dict[str, Any]:
    """Finance records money the supplier paid back (never above what the claim asked)."""
    _allow(principal, FINANCE, "recording a recovery")
    amount = Money(amount_minor, currency)

    def explain(c: UpstreamClaim) -> str:
        return (f"{amount.format()} recovered from {c.supplier}: {c.recovered.format()} of "
                f"{c.amount.format()} ({c.status})")

    return _change(deps, principal, claim_id, "upstream_claim_recovered",
                   lambda c, now: domain.record_recovery(c, amount, now), explain)


def refuse(deps: Deps, principal: Principal, claim_id: str, note: str | None = None) -> dict[str, Any]:
    """The supplier refused the claim: its outstanding amount becomes a loss."""
    _allow(principal, SETTLERS, "recording a refused claim")
    return _change(deps, principal, claim_id, "upstream_claim_refused", domain.refuse,
                   lambda c: f"{c.supplier} refused the upstream claim" + (f": {note}" if note else ""))


def withdraw(deps: Deps, principal: Principal, claim_id: str, note: str | None = None) -> dict[str, Any]:
    _allow(principal, OPENERS, "withdrawing a claim")
    return _change(deps, principal, claim_id, "upstream_claim_withdrawn", domain.withdraw,
                   lambda c: "upstream claim withdrawn" + (f": {note}" if note else ""))


def _claim(uow: UnitOfWork, principal: Principal, claim_id: str) -> UpstreamClaim:
    claim = uow.claims.get_claim(principal.shop_id, claim_id)
    if claim is None:
        raise NotFound(f"no upstream claim {claim_id}", code="claim_not_found")
    return claim


def get_claim(deps: Deps, principal: Principal, claim_id: str) -> dict[str, Any]:
    _allow(principal, READERS, "reading upstream claims")
    with deps.uow() as uow:
        return claim_view(_claim(uow, principal, claim_id))


def list_claims(deps: Deps, principal: Principal, case_id: str | None = None,
                status: str | None = None) -> list[dict[str, Any]]:
    _allow(principal, READERS, "reading upstream claims")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown claim status {status!r}", code="invalid_status")
    with deps.uow() as uow:
        if case_id is not None:
            load(deps, uow, principal, case_id)
        return [claim_view(c) for c in uow.claims.claims(principal.shop_id, case_id, status)]


def unrecovered(deps: Deps, principal: Principal) -> dict[str, Any]:
    """What the merchant risks losing upstream (PLATFORMS.md / 1688).

    Refunds to buyers on cases with no claim (a withdrawn claim counts as none), plus what
    active claims still wait for; refused claims' remainders are shown as already lost.
    Totals are per currency: amounts in different currencies are never added up.
    """
    _allow(principal, READERS, "the unrecovered report")
    with deps.uow() as uow:
        claims = uow.claims.claims(principal.shop_id)
        refunds = uow.ledger.refunds(principal.shop_id)
    claimed = {c.case_id for c in claims if c.status != "withdrawn"}
    by_case: dict[str, Money] = {}
    for entry in refunds:
        if entry.status != "failed" and entry.case_id not in claimed:
            prior = by_case.get(entry.case_id, Money.zero(entry.amount.currency))
            by_case[entry.case_id] = prior + entry.amount
    totals: dict[str, dict[str, int]] = {}

    def add(currency: str, key: str, amount: int) -> None:
        row = totals.setdefault(currency, {"unclaimed": 0, "outstanding": 0, "refused": 0,
                                           "at_risk": 0})
        row[key] += amount
        if key != "refused":
            row["at_risk"] += amount

    unclaimed = []
    for case_id, amount in by_case.items():
        if amount.amount > 0:
            unclaimed.append({"case_id": case_id, "refunded": money(amount)})
            add(amount.currency, "unclaimed", amount.amount)
    open_claims, refused = [], []
    for c in claims:
        if c.is_active and c.outstanding.amount > 0:
            open_claims.append({"claim_id": c.id, "case_id": c.case_id, "supplier": c.supplier,
                                "status": c.status, "outstanding": money(c.outstanding)})
            add(c.amount.currency, "outstanding", c.outstanding.amount)
        elif c.status == "refused":
            lost = (c.amount - c.recovered).clamp_zero()
            refused.append({"claim_id": c.id, "case_id": c.case_id, "supplier": c.supplier,
                            "lost": money(lost)})
            add(c.amount.currency, "refused", lost.amount)
    return {"totals": [{"currency": cur, **row} for cur, row in sorted(totals.items())],
            "unclaimed_cases": unclaimed, "open_claims": open_claims, "refused_claims": refused}

