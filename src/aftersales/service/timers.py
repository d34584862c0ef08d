"""Firing due deadlines: the worker's sweep, `aftersales tick`, and sandbox clock advances.

Each sweep reads "now" once and passes it down. Due rows are claimed in batches (on
PostgreSQL with FOR UPDATE SKIP LOCKED, so several workers never take the same row); each
one runs through the normal handler inside a savepoint, which re-checks that the deadline
still applies. A batch commits as one transaction: a worker killed mid-sweep leaves
nothing half-done, and the next sweep finds the same rows still pending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from aftersales.domain.clock import LATEST_YEAR, parse_duration, require_aware
from aftersales.domain.errors import DomainError, InvalidInput
from aftersales.domain.vocabulary import Role
from aftersales.service import notifications
from aftersales.service.cases import after_move
from aftersales.service.casework import load_case, save
from aftersales.service.deps import Deps
from aftersales.service.errors import Conflict, NotASandbox
from aftersales.service.ports import DueDeadline, Principal
from aftersales.service.repositories import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fired:
    case_id: str
    outcome: str
    at: datetime
    shop_id: str
    result: str  # fired | stale


def fire_one(deps: Deps, uow: UnitOfWork, due: DueDeadline, now: datetime) -> Fired:
    loaded = load_case(deps, uow, due.shop_id, due.case_id, lock=True)
    if loaded is None:
        uow.deadlines.settle_deadline(due.id, "stale", now)
        return Fired(due.case_id, due.outcome, due.due_at, due.shop_id, "stale")
    case = loaded.case
    event = case.fire_deadline(due.key, now, loaded.context())
    if event is None:
        uow.deadlines.settle_deadline(due.id, "stale", now)
        return Fired(due.case_id, due.outcome, due.due_at, due.shop_id, "stale")
    after_move(deps, uow, loaded, now)
    notifications.deadline_alert(deps, uow, loaded.shop, case, now)
    uow.deadlines.settle_deadline(due.id, "fired", now)
    save(uow, loaded, now, Role.system)
    return Fired(due.case_id, due.outcome, due.due_at, due.shop_id, "fired")


def sweep(deps: Deps, now: datetime, *, batch: int = 200, shop_id: str | None = None,
          max_batches: int | None = None, live_only: bool = False) -> list[Fired]:
    """Fire everything due at `now`; returns what fired (stale rows are settled silently).

    `live_only` leaves sandbox shops out: the worker and `aftersales tick` read the wall
    clock, while a sandbox shop's deadlines fall due only when its own clock is advanced.
    """
    done: list[Fired] = []
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        with deps.uow() as uow:
            claimed = uow.deadlines.claim_due(now, batch, shop_id, live_only=live_only)
            if not claimed:
                break
            for due in claimed:
                try:
                    with uow.savepoint():
                        done.append(fire_one(deps, uow, due, now))
                except Conflict:
                    continue  # the case changed meanwhile: the next sweep re-checks this row
                except Exception as exc:  # one bad row must not stall the rows behind it
                    log.warning("deadline %s of case %s failed: %s", due.key, due.case_id, exc)
                    with uow.savepoint():
                        _fail(deps, uow, due, now, exc)
            uow.commit()
        if len(claimed) < batch:
            break
    return [f for f in done if f.result == "fired"]


def _fail(deps: Deps, uow: UnitOfWork, due: DueDeadline, now: datetime, exc: Exception) -> None:
    """Settle the row as failed and say so on the case (overdue, with an event)."""
    uow.deadlines.settle_deadline(due.id, "failed", now)
    loaded = load_case(deps, uow, due.shop_id, due.case_id, lock=True)
    if loaded is None:
        return
    case = loaded.case
    reason = exc.message if isinstance(exc, DomainError) else type(exc).__name__
    case.mark_deadline_failed(due.key, now, f"automatic outcome {due.outcome} could not be "
                                            f"performed ({reason}); handle this case by hand")
    save(uow, loaded, now, Role.system)


def advance_clock(deps: Deps, principal: Principal, *, to: datetime | None = None,
                  by: str | None = None) -> tuple[datetime, list[Fired]]:
    """Move a sandbox shop's clock and fire its deadlines due up to then, in time order."""
    if principal.role is not Role.admin:
        from aftersales.domain.errors import Forbidden

        raise Forbidden("only an admin moves the sandbox clock")
    with deps.uow() as uow:
        shop = uow.shops.get_shop(principal.shop_id)
        assert shop is not None
        if not shop.shop.sandbox:
            raise NotASandbox("this shop is not a sandbox; its clock is the real time")
        start = deps.now_for(shop)
    if (to is None) == (by is None):
        raise InvalidInput("give exactly one of `to` or `by`", code="invalid_clock_advance")
    too_far = InvalidInput(f"a sandbox clock goes up to the year {LATEST_YEAR}",
                           code="invalid_duration")
    try:
        target = require_aware(to, "to") if to is not None else start + parse_duration(by or "")
    except OverflowError:  # past year 9999
        raise too_far from None
    if target.year > LATEST_YEAR:
        raise too_far
    if target < start:
        raise InvalidInput("a sandbox clock only moves forward", code="clock_backwards")
    fired: list[Fired] = []
    cursor, was = start, shop.clock_at
    while True:  # step through due times so outcomes happen in time order, each at its time
        with deps.uow() as uow:
            nxt = uow.deadlines.next_due(principal.shop_id, target)
        step = target if nxt is None else max(nxt, cursor)
        _move_clock(deps, principal.shop_id, was, step)
        was = step
        fired += sweep(deps, step, shop_id=principal.shop_id)
        notifications.warn_near_due(deps, step, live_only=False, shop_id=principal.shop_id)
        if step >= target:
            break
        cursor = step
    return target, fired


def _move_clock(deps: Deps, shop_id: str, was: datetime | None, at: datetime) -> None:
    """Another advance at the same time would otherwise interleave its steps with ours and
    could set the clock back (after its later deadlines fired): the second to write
    finds the clock moved and stops, with what it fired so far done."""
    with deps.uow() as uow:
        if not uow.shops.move_clock(shop_id, was, at):
            raise Conflict("the sandbox clock was moved by another advance meanwhile; read "
                           "it again (GET /clock) and advance from there", code="clock_moved")
        uow.commit()


def shop_now(deps: Deps, principal: Principal) -> datetime:
    with deps.uow() as uow:
        shop = uow.shops.get_shop(principal.shop_id)
        assert shop is not None
        return deps.now_for(shop)

