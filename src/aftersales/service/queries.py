"""Read-side use cases: the queue and the ledger, scoped to the caller's shop (and buyer)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aftersales.domain.errors import Forbidden, InvalidInput
from aftersales.domain.vocabulary import Role
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import CaseFilter, Principal
from aftersales.service.views import case_summary, ledger_view

LEDGER_ROLES = frozenset({Role.finance, Role.admin, Role.agent})
MAX_QUERY = 200  # characters of search text (the API's `q` has the same cap)


def list_cases(deps: Deps, principal: Principal,
               flt: CaseFilter) -> tuple[list[dict[str, Any]], str | None]:
    if principal.role is Role.buyer:
        flt = replace(flt, buyer_id=principal.buyer_id)
    if flt.q is not None and len(flt.q) > MAX_QUERY:  # (SQLite refuses a LIKE over 50 kB)
        raise InvalidInput(f"search text is at most {MAX_QUERY} characters", code="invalid_query")
    with deps.uow() as uow:
        shop = uow.shops.get_shop(principal.shop_id)
        if shop is None:
            raise NotFound("no shop", code="shop_not_found")
        now = deps.now_for(shop)
        cases, cursor = uow.cases.list_cases(principal.shop_id, flt)
        orders = uow.orders.orders_by_id(principal.shop_id, [c.order_id for c in cases])
    items = [case_summary(c, orders.get(c.order_id), deps.profiles(c.profile_id), now)
             for c in cases]
    return items, cursor


def list_refunds(deps: Deps, principal: Principal, case_id: str | None = None,
                 order_id: str | None = None) -> list[dict[str, Any]]:
    if principal.role not in LEDGER_ROLES:
        raise Forbidden("only finance, agents and admins see the refund ledger")
    with deps.uow() as uow:
        entries = uow.ledger.refunds(principal.shop_id, case_id=case_id, order_id=order_id)
    return [ledger_view(e) for e in entries]
