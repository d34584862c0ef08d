"""Pending refunds settled from the gateway that paid them (issue 19: live shops' entries
stayed `pending` forever).

A gateway that answers later (a provider's asynchronous refund) is asked again by the
worker: each pass takes the oldest pending entries, asks `PaymentGateway.confirm`, and
settles what it now knows — the entry with the provider's reference, then the case
(`refund_succeeded` once all its entries of the round succeeded), each entry in its own
transaction under the case's lock. The platform's own report settles them too
(reconcile.py); finance's `mark_refunded` the offline ones.
"""

from __future__ import annotations

from dataclasses import replace

from aftersales.service.casework import load_case, save
from aftersales.service.deps import Deps
from aftersales.service.ports import LedgerEntry
from aftersales.service.refunding import settle_if_done


def settle_pending(deps: Deps, *, limit: int = 100) -> int:
    """How many entries the gateway settled (succeeded or failed) in this pass."""
    with deps.uow() as uow:
        entries = uow.ledger.pending_refunds(limit)
    return sum(_settle_one(deps, entry) for entry in entries)


def _settle_one(deps: Deps, entry: LedgerEntry) -> bool:
    with deps.uow() as uow:
        loaded = load_case(deps, uow, entry.shop_id, entry.case_id, lock=True)
        if loaded is None:
            return False
        current = next((e for e in loaded.ledger if e.id == entry.id), None)
        if current is None or current.status != "pending":  # settled meanwhile
            return False
        status, reference = deps.payments.confirm(loaded.shop, current)
        if status == "pending":
            return False
        now = deps.now_for(loaded.shop)
        uow.ledger.settle_refund(entry.shop_id, entry.id, status, reference, now)
        at = loaded.ledger.index(current)
        loaded.ledger[at] = replace(current, status=status, reference=reference, settled_at=now)
        settle_if_done(uow, loaded, now)
        save(uow, loaded, now)
        uow.commit()
    return True
