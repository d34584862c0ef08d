"""The refund ledger: one entry per kind (goods, freight, compensation) and round."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.api.auth import require_roles
from aftersales.entrypoints.api.context import get_deps
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.entrypoints.api.schemas.threads import DifferenceList, RefundList
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal
from aftersales.service.queries import list_refunds
from aftersales.service.reconcile import list_differences

router = APIRouter(route_class=IdempotentRoute, tags=["refunds"])
IdQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


@router.get("/refunds", response_model=RefundList, summary="Ledger entries of a case or an order",
            responses=error_responses(401, 403, 422))
def refunds(case_id: IdQuery = None, order_id: IdQuery = None, deps: Deps = Depends(get_deps),
            principal: Principal = Depends(require_roles(Role.finance, Role.admin, Role.agent))
            ) -> Response:
    items = list_refunds(deps, principal, case_id=case_id, order_id=order_id)
    return json_response({"items": items})


@router.get("/reconciliation/differences", response_model=DifferenceList,
            summary="Platform-reported refunds not booked as reported (finance reconciles them)",
            responses=error_responses(401, 403))
def differences(deps: Deps = Depends(get_deps),
                principal: Principal = Depends(require_roles(Role.finance, Role.admin))
                ) -> Response:
    return json_response({"items": list_differences(deps, principal)})
