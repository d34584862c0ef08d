"""Upstream claims on suppliers (PLATFORMS.md / 1688 dropshipping): open one for a refunded
case, record what the supplier paid back, and see what is still unrecovered."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from aftersales.entrypoints.api.auth import current_principal
from aftersales.entrypoints.api.context import get_deps
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.present import checked_id
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.entrypoints.api.schemas.upstream import (
    ClaimIn,
    ClaimList,
    ClaimOut,
    NoteIn,
    RecoveryIn,
    UnrecoveredOut,
)
from aftersales.service import upstream
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal

router = APIRouter(route_class=IdempotentRoute, tags=["upstream claims"])
Status = Literal["open", "partially_recovered", "recovered", "refused", "withdrawn"]


@router.post("/cases/{case_id}/upstream-claims", status_code=201, response_model=ClaimOut,
             summary="Open an upstream claim with the supplier for a refunded case (agent, admin)",
             description="The case must have money refunded or approved to the buyer. The case's "
                         "profile bounds the description length, the evidence images and the "
                         "amount (≤ supplier_paid), e.g. 1688 createRefund.",
             responses=error_responses(400, 401, 403, 404, 409, 413, 422))
def open_claim(case_id: str, body: ClaimIn, deps: Deps = Depends(get_deps),
               principal: Principal = Depends(current_principal)) -> Response:
    view = upstream.open_claim(deps, principal, checked_id(case_id, "case"), body.supplier,
                               body.supplier_order_id, body.amount, body.description,
                               body.evidence_count, body.supplier_paid)
    return json_response(view, 201)


@router.get("/cases/{case_id}/upstream-claims", response_model=ClaimList,
            summary="The case's upstream claims (staff)", responses=error_responses(401, 403, 404))
def case_claims(case_id: str, deps: Deps = Depends(get_deps),
                principal: Principal = Depends(current_principal)) -> Response:
    items = upstream.list_claims(deps, principal, checked_id(case_id, "case"))
    return json_response({"items": items})


@router.get("/upstream-claims", response_model=ClaimList,
            summary="The shop's upstream claims, optionally by status (staff)",
            responses=error_responses(401, 403))
def claims(status: Annotated[Status | None, Query()] = None, deps: Deps = Depends(get_deps),
           principal: Principal = Depends(current_principal)) -> Response:
    return json_response({"items": upstream.list_claims(deps, principal, status=status)})


@router.get("/upstream-claims/unrecovered", response_model=UnrecoveredOut,
            summary="What the merchant risks losing upstream: refunds with no claim, and what "
                    "open claims still wait for (staff)", responses=error_responses(401, 403))
def unrecovered(deps: Deps = Depends(get_deps),
                principal: Principal = Depends(current_principal)) -> Response:
    return json_response(upstream.unrecovered(deps, principal))


@router.get("/upstream-claims/{claim_id}", response_model=ClaimOut,
            summary="One upstream claim (staff)", responses=error_responses(401, 403, 404))
def get_claim(claim_id: str, deps: Deps = Depends(get_deps),
              principal: Principal = Depends(current_principal)) -> Response:
    return json_response(upstream.get_claim(deps, principal, checked_id(claim_id, "claim")))


@router.post("/upstream-claims/{claim_id}/recovery", response_model=ClaimOut,
             summary="Record money the supplier paid back (finance, admin); never above the claim",
             responses=error_responses(400, 401, 403, 404, 409, 413, 422))
def recovery(claim_id: str, body: RecoveryIn, deps: Deps = Depends(get_deps),
             principal: Principal = Depends(current_principal)) -> Response:
    return json_response(upstream.record_recovery(
        deps, principal, checked_id(claim_id, "claim"), body.amount, body.currency))


@router.post("/upstream-claims/{claim_id}/refuse", response_model=ClaimOut,
             summary="The supplier refused the claim (agent, finance, admin)",
             responses=error_responses(400, 401, 403, 404, 409, 413, 422))
def refuse(claim_id: str, body: NoteIn, deps: Deps = Depends(get_deps),
           principal: Principal = Depends(current_principal)) -> Response:
    return json_response(upstream.refuse(deps, principal, checked_id(claim_id, "claim"), body.note))


@router.post("/upstream-claims/{claim_id}/withdraw", response_model=ClaimOut,
             summary="Withdraw the claim (agent, admin)",
             responses=error_responses(400, 401, 403, 404, 409, 413, 422))
def withdraw(claim_id: str, body: NoteIn, deps: Deps = Depends(get_deps),
             principal: Principal = Depends(current_principal)) -> Response:
    return json_response(upstream.withdraw(deps, principal, checked_id(claim_id, "claim"), body.note))
