"""Opening cases and acting on them: the one write path for API, console, CLI, sync, worker."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aftersales.domain.case import ActionRequest, Case, CaseLine
from aftersales.domain.errors import Forbidden, InvalidInput
from aftersales.domain.events import SYSTEM
from aftersales.domain.money import Money
from aftersales.domain.policy import PolicyInput, check_request
from aftersales.domain.refunds import refundable
from aftersales.domain.vocabulary import (
    CaseType,
    Reason,
    RefundMethod,
    Role,
    State,
)
from aftersales.service import refunding, writeback
from aftersales.service.casework import Loaded, load, refunded_amounts, save
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal
from aftersales.service.recommend import recommend
from aftersales.service.repositories import UnitOfWork

OPEN_ROLES = frozenset({Role.buyer, Role.agent, Role.platform, Role.admin})


@dataclass(frozen=True)
class NewCase:
    order_id: str
    type: str
    reason: str
    lines: tuple[tuple[str, int], ...]
    requested_amount: int | None = None
    refund_method: str | None = None
    description: str = ""
    buyer_refused_delivery: bool = False


def _enum_or_error(kind: type, value: str, field: str) -> object:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"unknown {field} {value!r}", code=f"invalid_{field}") from None


def open_case(deps: Deps, principal: Principal, data: NewCase, *, case_id: str | None = None,
              platform_case_id: str | None = None) -> Loaded:
    with deps.uow() as uow:
        loaded = _open(deps, uow, principal, data, case_id, platform_case_id)
        uow.commit()
    return loaded


def open_case_view(deps: Deps, principal: Principal, data: NewCase) -> dict[str, Any]:
    """`open_case`, and the new case as the caller sees it, in the same transaction."""
    from aftersales.service.views import case_view

    with deps.uow() as uow:
        loaded = _open(deps, uow, principal, data, None, None)
        view = case_view(uow, loaded, loaded.case.opened_at, principal.role)
        uow.commit()
    return view


def _open(deps: Deps, uow: UnitOfWork, principal: Principal, data: NewCase, case_id: str | None,
          platform_case_id: str | None) -> Loaded:
    if principal.role not in OPEN_ROLES:
        raise Forbidden(f"role {principal.role} may not open a case")
    ctype = _enum_or_error(CaseType, data.type, "type")
    reason = _enum_or_error(Reason, data.reason, "reason")
    method = _enum_or_error(RefundMethod, data.refund_method or "original", "refund_method")
    assert isinstance(ctype, CaseType) and isinstance(reason, Reason)
    assert isinstance(method, RefundMethod)
    if len({line_id for line_id, _ in data.lines}) != len(data.lines):
        raise InvalidInput("each order line at most once in a case, with its quantity",
                           code="duplicate_line")
    # openings on one order take turns: the rules count the order's other cases and refunds
    found = uow.orders.get_order_bundle(principal.shop_id, data.order_id, lock=True)
    if found is None or (principal.role is Role.buyer and found[1].buyer_id != principal.buyer_id):
        raise NotFound(f"no order {data.order_id}", code="order_not_found")
    shop, order, ledger = found
    if shop.policy.counts_buyer_cases:
        # that rule counts the buyer's cases on every order: openings take turns per buyer
        uow.hold("buyer", shop.shop.id, order.buyer_id)
    now = deps.now_for(shop)
    profile = deps.profiles(shop.shop.platform)
    by_line, total = refunded_amounts(order, ledger)
    for line_id, _ in data.lines:
        order.line(line_id)
    cap = refundable(order, data.lines, by_line, total) if data.lines else (
        order.total_paid - total).clamp_zero()
    requested = Money(data.requested_amount, order.currency) if data.requested_amount is not None else cap
    if requested.amount < 0:
        raise InvalidInput("requested_amount cannot be negative", code="invalid_amount")
    on_order = uow.cases.cases_on_order(shop.shop.id, order.id)
    cancelled_ids = uow.cases.cancelled_by_buyer(shop.shop.id, [c.id for c in on_order])
    prior = [c for c in on_order if c.id not in cancelled_ids]
    cancelled = [(ln.line_id, c.opened_at) for c in on_order if c.id in cancelled_ids for ln in c.lines]
    per_sku: dict[str, int] = {}
    for c in prior:
        for ln in c.lines:
            sku = order.line(ln.line_id).sku
            per_sku[sku] = per_sku.get(sku, 0) + 1
    pin = PolicyInput(ctype, reason, data.lines, requested, order, profile, shop.policy, now,
                      shop.shop.timezone)
    check_request(pin, prior_lines={ln.line_id for c in prior for ln in c.lines},
                  prior_per_sku=per_sku, refundable=cap, cancelled=cancelled,
                  refunded_by_line=by_line, order_refunded=total)
    case = Case(
        id=case_id or deps.new_id(), shop_id=shop.shop.id, order_id=order.id,
        buyer_id=order.buyer_id, type=ctype, reason=reason,
        lines=tuple(CaseLine(lid, q) for lid, q in data.lines), requested_amount=requested,
        opened_at=now, profile_id=profile.id, profile_version=profile.version,
        refund_method=method, description=data.description.strip(),
        buyer_refused_delivery=data.buyer_refused_delivery, platform_case_id=platform_case_id,
    )
    case.record("opened", principal.actor, now,
                f"{principal.actor} opened a {ctype} case: {reason}",
                data={"requested_amount": requested.to_dict()})
    uow.cases.add_case(case)
    loaded = Loaded(shop, case, order, profile, ledger)
    _auto_approve(deps, uow, loaded, now)
    save(uow, loaded, now)
    return loaded


def _auto_approve(deps: Deps, uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
    rec = recommend(uow, loaded, now)
    if rec.auto_approve:
        rule = next(h for h in rec.rules if h.code == "auto_approval_rule")
        loaded.case.act("approve", SYSTEM, now, loaded.context(),
                        explanation=f"{rule.en} / {rule.zh}", reason_code=rule.code)
        after_move(deps, uow, loaded, now)


def act(deps: Deps, principal: Principal, case_id: str, action: str,
        request: ActionRequest | None = None) -> Loaded:
    """Take one action on a case, atomically: one transaction that locks the case while we
    decide."""
    with deps.uow() as uow:
        loaded = _act(deps, uow, principal, case_id, action, request)
        writeback.enqueue(uow, loaded, action, request, deps.now_for(loaded.shop))
        uow.commit()
    return loaded


def act_view(deps: Deps, principal: Principal, case_id: str, action: str,
             request: ActionRequest | None = None) -> dict[str, Any]:
    """`act`, and the case as the caller now sees it, read in the same unit of work."""
    from aftersales.service.views import case_view

    with deps.uow() as uow:
        loaded = _act(deps, uow, principal, case_id, action, request)
        writeback.enqueue(uow, loaded, action, request, deps.now_for(loaded.shop))
        view = case_view(uow, loaded, deps.now_for(loaded.shop), principal.role)
        uow.commit()
    return view


def _act(deps: Deps, uow: UnitOfWork, principal: Principal, case_id: str, action: str,
         request: ActionRequest | None) -> Loaded:
    loaded = load(deps, uow, principal, case_id, lock=True)
    now = deps.now_for(loaded.shop)
    loaded.case.act(action, principal.actor, now, loaded.context(), request)
    if action == "mark_refunded" and request is not None and request.reference:
        refunding.mark_offline(uow, loaded, request.reference, now)
    if action == "ship_order":  # the fact the action states: the order left the warehouse
        loaded.order = replace(loaded.order, shipped_at=now)
        uow.orders.update_order_dates(loaded.order)
    after_move(deps, uow, loaded, now)
    save(uow, loaded, now, principal.role)
    return loaded


def after_move(deps: Deps, uow: UnitOfWork, loaded: Loaded, now: datetime) -> None:
    """Side effects of entering a state: a refund starts; a bad rating opens a task."""
    case = loaded.case
    last = case.events[-1] if case.events else None
    if case.state is State.refunding and last is not None and last.to_state is State.refunding \
            and last.from_state is not State.refunding:
        refunding.start_refund(deps, uow, loaded, now)


def add_message(deps: Deps, principal: Principal, case_id: str, body: str) -> dict[str, object]:
    text = body.strip()
    if not text or len(text) > 5000:
        raise InvalidInput("a message needs 1 to 5000 characters", code="invalid_message")
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id, lock=True)
        now = deps.now_for(loaded.shop)
        row = {"id": deps.new_id(), "author": str(principal.actor), "body": text, "at": now}
        uow.records.add_message(principal.shop_id, case_id, row)
        loaded.case.record("message", principal.actor, now, text[:200])
        save(uow, loaded, now, principal.role)
        uow.commit()
    return row


def rate(deps: Deps, principal: Principal, case_id: str, stars: int) -> Loaded:
    """1–5 stars at the end; 1–2 (差评) opens a follow-up task for an agent."""
    if principal.role is not Role.buyer:
        raise Forbidden("only the buyer rates the service")
    if not 1 <= stars <= 5:
        raise InvalidInput("rating must be 1 to 5", code="invalid_rating")
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id, lock=True)
        case, now = loaded.case, deps.now_for(loaded.shop)
        if not case.is_terminal or case.rating is not None:
            raise InvalidInput("a case is rated once, after it ends", code="cannot_rate")
        case.rating = stars
        case.record("rated", principal.actor, now, f"buyer rated the service {stars}/5")
        if stars <= 2:
            from aftersales.service.notifications import enqueue

            enqueue(deps, uow, loaded.shop, case, f"[售后] 差评 {stars}/5 — case {case.id[-8:]}",
                    f"The buyer rated the after-sales service {stars}/5. A follow-up task was "
                    "opened for an agent.", now)
            uow.records.add_task(case.shop_id, {"id": deps.new_id(), "case_id": case.id,
                                              "kind": "bad_rating_follow_up", "created_at": now,
                                              "note": f"差评 {stars}/5: follow up with the buyer"})
        save(uow, loaded, now)
        uow.commit()
    return loaded


def get(deps: Deps, principal: Principal, case_id: str) -> Loaded:
    with deps.uow() as uow:
        return load(deps, uow, principal, case_id)
