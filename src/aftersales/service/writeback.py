"""Decisions back to the platform: an outbox written with the case change, drained later.

`enqueue` runs inside the action's unit of work, so the outbox row exists exactly when
the decision does (a refused action leaves neither). `drain` delivers at least once: it
leases a row (status sent), calls the platform, and records the answer; a drain that
dies mid-call leaves the lease to run out and the row is delivered again, which the
platform makes once by the row's idempotency key (the case id and event number). Errors
the platform says are passing (rate limit, 5xx, timeouts) retry with exponential
backoff and full jitter, never sooner than its retry_after; anything else, or too many
attempts, ends `failed` with the platform's own code and text for a person to retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aftersales.domain.case import ActionRequest
from aftersales.domain.vocabulary import CaseType
from aftersales.service.casework import Loaded
from aftersales.service.connection_ports import (
    Act,
    Evidence,
    NotSupported,
    OutboundAct,
    OutboxRow,
    PlatformConnection,
    PlatformRefused,
)
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.platform_sync import Factory, connection_of, credentials
from aftersales.service.repositories import UnitOfWork

LEASE = timedelta(seconds=60)  # a sent row not recorded within this is delivered again
BASE_DELAY, MAX_DELAY = 1.0, 300.0  # seconds: backoff 1, 2, 4 … capped at 5 min
MAX_ATTEMPTS = 8
REFUND_NOW = frozenset({CaseType.refund_only, CaseType.compensation})


def enqueue(uow: UnitOfWork, loaded: Loaded, action: str, request: ActionRequest | None,
            now: datetime) -> str | None:
    """The outbox row of a decision on a connected shop's platform case (else nothing)."""
    case = loaded.case
    if case.platform_case_id is None or action not in ("approve", "reject"):
        return None
    if uow.connections.platform_of(case.shop_id) is None:
        return None
    key = f"{case.id}:{len(case.events)}"  # the decision's event: stable, unique
    if action == "approve":
        act = Act.agree_refund if case.type in REFUND_NOW else Act.agree_return
        outbound = OutboundAct(act, case.platform_case_id, key)
    else:
        text = (request.explanation or request.note) if request else None
        outbound = OutboundAct(Act.refuse, case.platform_case_id, key,
                               reason_code=request.reason_code if request else None,
                               text=text or "商家拒绝")
    return uow.outbox.add(case.shop_id, case.id, outbound, now)


@dataclass
class Drained:
    confirmed: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int, rng: Callable[[], float], retry_after: float | None) -> float:
    """Full jitter over 2^(attempts-1) seconds, at least what the platform asked for."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2.0 ** max(attempts - 1, 0))
    return max(retry_after or 0.0, ceiling * rng())


def drain(deps: Deps, factory: Factory, *, limit: int = 100,
          rng: Callable[[], float] = random.random) -> Drained:
    now = deps.clock.now()
    with deps.uow() as uow:
        due = list(uow.outbox.due(now, limit))
        claimed = [row for row in due if uow.outbox.claim(row, now, now + LEASE)]
        uow.commit()
    result = Drained()
    connections: dict[str, PlatformConnection] = {}
    try:
        for row in claimed:
            _deliver(deps, factory, connections, row, rng, result)
    finally:
        for connection in connections.values():
            connection.close()
    return result


def _deliver(deps: Deps, factory: Factory, connections: dict[str, PlatformConnection],
             row: OutboxRow, rng: Callable[[], float], result: Drained) -> None:
    now = deps.clock.now()
    try:
        if row.shop_id not in connections:
            connections[row.shop_id] = connection_of(deps, row.shop_id, factory)
        connection = connections[row.shop_id]
        connection.perform(credentials(deps, row.shop_id, connection), _act(row))
    except PlatformRefused as e:
        attempts = row.attempts + 1
        if e.retry and attempts < MAX_ATTEMPTS:
            wait = backoff(attempts, rng, e.retry_after)
            _mark(deps, row, "pending", now, str(e), now + timedelta(seconds=wait))
            result.retried += 1
        else:
            _mark(deps, row, "failed", now, str(e))
            result.failed += 1
        return
    except (NotSupported, NotFound) as e:
        _mark(deps, row, "failed", now, e.message)
        result.failed += 1
        return
    _mark(deps, row, "confirmed", now, None)
    result.confirmed += 1


def _mark(deps: Deps, row: OutboxRow, status: str, now: datetime, error: str | None,
          next_at: datetime | None = None) -> None:
    with deps.uow() as uow:
        uow.outbox.mark(row.id, status, now, error=error, next_attempt_at=next_at)
        uow.commit()


def _act(row: OutboxRow) -> OutboundAct:
    p = row.payload
    return OutboundAct(
        act=Act(p["act"]), platform_case_id=p["platform_case_id"],
        idempotency_key=row.idempotency_key, version=p.get("version"),
        reason_code=p.get("reason_code"), text=p.get("text"),
        evidence=tuple(Evidence(**e) for e in p.get("evidence", ())),
        address_id=p.get("address_id"), carrier=p.get("carrier"), waybill=p.get("waybill"),
        facts=p.get("facts", {}))
