"""Orders: imported by the platform integration (or an admin); read by anyone in scope."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.api.auth import current_principal, require_roles
from aftersales.entrypoints.api.context import get_deps
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.present import checked_id
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.entrypoints.api.schemas.orders import OrderIn, OrderOut
from aftersales.service.deps import Deps
from aftersales.service.orders import get_order, import_order
from aftersales.service.ports import Principal
from aftersales.service.views import order_view

router = APIRouter(route_class=IdempotentRoute, tags=["orders"])


@router.post("/orders", status_code=201, response_model=OrderOut,
             summary="Import an order (201), or get the one with this platform_order_id (200)",
             responses={200: {"model": OrderOut, "description": "The order already existed"},
                        **error_responses(400, 401, 403, 409, 413, 422)})
def post_order(body: OrderIn, deps: Deps = Depends(get_deps),
               principal: Principal = Depends(require_roles(Role.platform, Role.admin))) -> Response:
    order, created = import_order(deps, principal, body.to_command())
    return json_response(order_view(order), 201 if created else 200)


@router.get("/orders/{order_id}", response_model=OrderOut, summary="One order",
            responses=error_responses(401, 404))
def read_order(order_id: str, deps: Deps = Depends(get_deps),
               principal: Principal = Depends(current_principal)) -> Response:
    checked_id(order_id, "order")
    with deps.uow() as uow:
        order = get_order(uow, principal, order_id)
    return json_response(order_view(order))
