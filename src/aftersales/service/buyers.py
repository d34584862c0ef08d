"""What a buyer sees in the portal: their own orders in this shop, newest first."""

from __future__ import annotations

from typing import Any

from aftersales.domain.errors import Forbidden
from aftersales.domain.orders import Order
from aftersales.domain.vocabulary import Role
from aftersales.service.console_ports import DirectoryFor
from aftersales.service.deps import Deps
from aftersales.service.ports import CaseFilter, Principal
from aftersales.service.views import case_summary


def my_orders(deps: Deps, directory: DirectoryFor, principal: Principal,
              limit: int = 100) -> list[Order]:
    if principal.role is not Role.buyer or not principal.buyer_id:
        raise Forbidden("only a buyer has 'my orders'")
    with deps.uow() as uow:
        ids = directory(uow).buyer_order_ids(principal.shop_id, principal.buyer_id, limit)
        found = [uow.orders.get_order(principal.shop_id, i) for i in ids]
    return [o for o in found if o is not None]


def my_order(deps: Deps, principal: Principal, order_id: str) -> Order:
    """One of the buyer's own orders; anyone else's is simply not found."""
    from aftersales.service.orders import get_order

    with deps.uow() as uow:
        return get_order(uow, principal, order_id)


def my_cases(deps: Deps, principal: Principal, limit: int = 100) -> list[dict[str, Any]]:
    """The buyer's own cases as queue items, soonest deadline first."""
    if principal.role is not Role.buyer or not principal.buyer_id:
        raise Forbidden("only a buyer has 'my cases'")
    with deps.uow() as uow:
        shop = uow.shops.get_shop(principal.shop_id)
        if shop is None:
            return []
        now = deps.now_for(shop)
        found, _ = uow.cases.list_cases(principal.shop_id,
                                        CaseFilter(buyer_id=principal.buyer_id, limit=limit))
        orders = {o.id: o for o in (uow.orders.get_order(principal.shop_id, oid)
                                    for oid in {c.order_id for c in found}) if o is not None}
    return [case_summary(c, orders.get(c.order_id), deps.profiles(c.profile_id), now) for c in found]
