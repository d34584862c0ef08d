"""Reads and previews for the desk (console): a case page, a dry-run refund preview, counts.

The preview runs the very same domain action on an in-memory copy of the case inside a
transaction that is never committed, then asks `refunding.plan_for` what the refund would
be: the console never re-implements an amount rule, and an action the rules refuse fails
here, before the person confirms.
"""

from __future__ import annotations

from typing import Any

from aftersales.domain.case import ActionRequest
from aftersales.domain.refunds import RefundPlan
from aftersales.domain.vocabulary import CaseType, Role
from aftersales.service import queries
from aftersales.service.casework import load
from aftersales.service.deps import Deps
from aftersales.service.ports import CaseFilter, Principal
from aftersales.service.refunding import plan_for
from aftersales.service.views import case_view, money, order_view

# Actions after which money may leave the shop: the desk previews them and asks to confirm.
MONEY_ACTIONS = frozenset({"approve", "counter_offer", "accept_offer", "give_up_goods", "inspect",
                           "rule"})


def plan_view(plan: RefundPlan) -> dict[str, Any]:
    return {"goods": money(plan.goods), "freight": money(plan.freight),
            "compensation": money(plan.compensation), "gift_deduction": money(plan.gift_deduction),
            "total": money(plan.total), "method": plan.method.value, "notes": list(plan.notes)}


def case_page(deps: Deps, principal: Principal, case_id: str) -> dict[str, Any]:
    """The case as the caller may see it, with its order, evidence and messages."""
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id)
        now = deps.now_for(loaded.shop)
        view = case_view(uow, loaded, now, principal.role)
        return {
            "case": view, "order": order_view(loaded.order), "now": now.isoformat(),
            "shop": {"id": loaded.shop.shop.id, "name": loaded.shop.shop.name,
                     "platform": loaded.shop.shop.platform, "timezone": loaded.shop.shop.timezone,
                     "sandbox": loaded.shop.shop.sandbox},
            "evidence": uow.evidence.evidence(principal.shop_id, case_id),
            "messages": uow.records.messages(principal.shop_id, case_id),
        }


def preview(deps: Deps, principal: Principal, case_id: str, action: str,
            request: ActionRequest | None = None) -> dict[str, Any] | None:
    """What the refund would be after this action; None when it moves no money.

    Raises whatever the action itself would raise (wrong state, role, amount too high…).
    """
    with deps.uow() as uow:  # never committed: leaving the block rolls back
        loaded = load(deps, uow, principal, case_id)
        now = deps.now_for(loaded.shop)
        case = loaded.case
        case.act(action, principal.actor, now, loaded.context(), request)
        if case.type in (CaseType.reissue, CaseType.exchange) or (
                case.approved_amount is None and case.offer is None):
            return None
        if case.offer is not None and action == "counter_offer":
            case.approved_amount = case.offer.amount
        plan = plan_for(loaded)
        out = plan_view(plan)
        out["state_after"] = case.state.value
        return out


def header_counts(deps: Deps, principal: Principal) -> dict[str, int]:
    """Open cases near their deadline (即将超时) and overdue, for the header on every page."""
    if principal.role not in (Role.agent, Role.admin, Role.warehouse, Role.finance):
        return {"near": 0, "overdue": 0}
    near = overdue = 0
    cursor: str | None = None
    for _ in range(10):  # at most 2,000 open cases counted per page view
        items, cursor = queries.list_cases(deps, principal,
                                           CaseFilter(open_only=True, limit=200, cursor=cursor))
        for item in items:
            overdue += bool(item["overdue"])
            near += bool(item["near_timeout"]) and not item["overdue"]
        if cursor is None:
            break
    return {"near": near, "overdue": overdue}


def shop_info(deps: Deps, shop_id: str) -> dict[str, Any]:
    with deps.uow() as uow:
        record = uow.shops.get_shop(shop_id)
        if record is None:
            from aftersales.service.errors import NotFound

            raise NotFound(f"no shop {shop_id}", code="shop_not_found")
        return {"id": record.shop.id, "name": record.shop.name, "platform": record.shop.platform,
                "timezone": record.shop.timezone, "sandbox": record.shop.sandbox,
                "now": deps.now_for(record).isoformat()}
