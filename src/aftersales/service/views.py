"""Read models: a case as the API and the console show it (JSON-ready dicts).

One place builds them, so the API, the console and the CLI show the same facts: the
deadline with its source and confidence, the near-timeout flag, the recommendation with
every rule, the actions open to the caller, and a refund preview.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aftersales.domain.case import Case
from aftersales.domain.deadlines import (
    Deadline,
    current_deadline,
    is_near_timeout,
    is_overdue,
    passed_deadline,
)
from aftersales.domain.events import Event
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.profile import Profile
from aftersales.domain.transitions import PUBLIC_ACTIONS, allowed_actions
from aftersales.domain.upstream import EVENT_PREFIX as CLAIM_EVENTS
from aftersales.domain.upstream import READERS as CLAIM_READERS
from aftersales.domain.vocabulary import WHO_MUST_ACT, Role, State
from aftersales.service.casework import Loaded
from aftersales.service.ports import LedgerEntry
from aftersales.service.recommend import recommend
from aftersales.service.repositories import UnitOfWork


def money(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"amount": value.amount, "currency": value.currency}


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def deadline_view(case: Case, order: Order, profile: Profile, now: datetime) -> dict[str, Any] | None:
    d = current_deadline(case, order, profile)
    return None if d is None else _deadline_dict(d, profile, now)


def _deadline_dict(d: Deadline, profile: Profile, now: datetime) -> dict[str, Any]:
    return {
        "at": iso(d.at), "outcome": d.outcome.value, "source": d.source, "rule": d.rule,
        "confidence": d.confidence, "explanation": f"{d.explanation_zh} / {d.explanation_en}",
        "explanation_zh": d.explanation_zh, "explanation_en": d.explanation_en,
        "conflict": d.conflict, "started_at": iso(d.started_at),
        "seconds_left": int((d.at - now).total_seconds()),
        "near_timeout": is_near_timeout(d, now, profile), "overdue": is_overdue(d, now),
    }


def event_view(e: Event) -> dict[str, Any]:
    return {"at": iso(e.at), "actor": e.actor, "kind": e.kind,
            "from_state": None if e.from_state is None else str(e.from_state),
            "to_state": None if e.to_state is None else str(e.to_state),
            "explanation": e.explanation, "reason_code": e.reason_code, "data": e.data}


def ledger_view(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "case_id": entry.case_id, "order_id": entry.order_id,
            "kind": entry.kind, "amount": money(entry.amount), "method": entry.method,
            "status": entry.status, "reference": entry.reference, "at": iso(entry.created_at),
            "settled_at": iso(entry.settled_at)}


def order_view(order: Order) -> dict[str, Any]:
    return {
        "id": order.id, "platform_order_id": order.platform_order_id, "buyer_id": order.buyer_id,
        "paid_at": iso(order.paid_at), "shipped_at": iso(order.shipped_at),
        "delivered_at": iso(order.delivered_at), "completed_at": iso(order.completed_at),
        "payment_method": order.payment_method.value, "currency": order.currency,
        "freight": money(order.freight), "free_shipping": order.free_shipping,
        "total_paid": money(order.total_paid),
        "lines": [
            {"id": ln.id, "sku": ln.sku, "name": ln.name, "link": ln.link,
             "unit_price": money(ln.unit_price), "quantity": ln.quantity,
             "paid_amount": money(ln.paid_amount), "attributes": dict(ln.attributes),
             "category": ln.category, "no_reason_excluded": ln.no_reason_excluded,
             "gifts": [{"name": g.name, "listed_price": money(g.listed_price)} for g in ln.gifts],
             "accessories": [{"name": a.name, "listed_price": money(a.listed_price)}
                             for a in ln.accessories]}
            for ln in order.lines
        ],
    }


def case_summary(case: Case, order: Order | None, profile: Profile, now: datetime) -> dict[str, Any]:
    """A queue item: cheap (no events), with the deadline and the 即将超时 flag."""
    deadline = deadline_view(case, order, profile, now) if order is not None else None
    return {
        "id": case.id, "order_id": case.order_id, "buyer_id": case.buyer_id,
        "platform": case.profile_id, "type": case.type.value, "reason": case.reason.value,
        "state": case.state.value, "requested_amount": money(case.requested_amount),
        "approved_amount": money(case.approved_amount), "refund_method": case.refund_method.value,
        "opened_at": iso(case.opened_at), "deadline": deadline,
        "near_timeout": bool(deadline and deadline["near_timeout"]),
        "overdue": case.overdue or bool(deadline and deadline["overdue"]),
        # An overdue case says what it is late for and who must act, even once the alert
        # that flagged it has fired and the state has no deadline left to wait on.
        "passed_deadline": _passed(case, order, profile, now) if deadline is None and case.overdue
        else None,
        "waiting_on": WHO_MUST_ACT.get(case.state),
        "return_waybill": case.return_waybill, "platform_case_id": case.platform_case_id,
        "platform_status": case.platform_status, "version": case.version,
    }


def _passed(case: Case, order: Order | None, profile: Profile, now: datetime) -> dict[str, Any] | None:
    d = None if order is None else passed_deadline(case, order, profile)
    return None if d is None else _deadline_dict(d, profile, now)


def case_view(uow: UnitOfWork, loaded: Loaded, now: datetime, role: Role | None = None,
              *, with_events: bool = True) -> dict[str, Any]:
    from aftersales.service.refunding import plan_for

    case, order, profile = loaded.case, loaded.order, loaded.profile
    rec = recommend(uow, loaded, now)
    view = case_summary(case, order, profile, now)
    view.update({
        "lines": [{"line_id": ln.line_id, "quantity": ln.quantity} for ln in case.lines],
        "description": case.description,
        "offer": None if case.offer is None else {"amount": money(case.offer.amount),
                                                  "note": case.offer.note},
        "recommendation": {
            "decision": rec.decision, "rules": [h.to_dict() for h in rec.rules],
            "suggested_amount": money(rec.suggested_amount),
        },
        "allowed_actions": [a for a in allowed_actions(case.state, case.type, role)
                            if a in PUBLIC_ACTIONS] if role else [],
        "return_parcel": {"carrier": case.return_carrier, "waybill": case.return_waybill,
                          "prepaid": case.return_prepaid,
                          "freight": money(case.return_freight)},
        "reship": {"carrier": case.reship_carrier, "waybill": case.reship_waybill},
        "inspection": None if case.inspection is None else {
            **{k: getattr(case.inspection, k) for k in (
                "verdict", "sku_matches", "accessories_complete", "gifts_returned",
                "tags_intact", "seal_intact", "packaging_only_flaw", "quality_problem_found",
                "note")},
            "condition": case.inspection.condition.value,
            "dispositions": dict(case.inspection.dispositions)},
        "rating": case.rating, "resubmissions": case.resubmissions,
        "profile": {"id": case.profile_id, "version": case.profile_version},
        "first_response_at": iso(case.first_response_at), "resolved_at": iso(case.resolved_at),
        "refunds": [ledger_view(e) for e in loaded.ledger if e.case_id == case.id],
    })
    if case.state in (State.requested, State.inspecting, State.disputed, State.awaiting_return,
                      State.return_in_transit) and case.type.value != "reissue":
        plan = plan_for(loaded)
        view["refund_preview"] = {
            "goods": money(plan.goods), "freight": money(plan.freight),
            "compensation": money(plan.compensation), "gift_deduction": money(plan.gift_deduction),
            "total": money(plan.total), "method": plan.method.value, "notes": list(plan.notes)}
    if with_events:
        events = uow.cases.events(case.shop_id, case.id)
        if role is not None and role not in CLAIM_READERS:  # (the claims' own rule)
            events = [e for e in events if not e.kind.startswith(CLAIM_EVENTS)]
        view["events"] = [event_view(e) for e in events]
    return view

