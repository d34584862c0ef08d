"""The warehouse's parcels: scan a waybill to find the case, attach the unmatched ones."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.api.auth import current_principal, require_roles
from aftersales.entrypoints.api.context import get_deps
from aftersales.entrypoints.api.errors import ApiError
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.present import case_response, checked_id
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.cases import CaseOut
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.entrypoints.api.schemas.parcels import AttachIn, ParcelList, ScanIn
from aftersales.service.deps import Deps
from aftersales.service.parcels import attach, list_parcels, scan
from aftersales.service.ports import Principal

router = APIRouter(route_class=IdempotentRoute, tags=["parcels"])
PARCEL_FIELDS = ("id", "carrier", "waybill", "case_id", "status", "scanned_at", "scanned_by")


@router.post("/parcels/scan", response_model=CaseOut,
             summary="Scan a return parcel: the matching case, or 404 unmatched_parcel "
                     "(the parcel is then registered for later matching)",
             responses=error_responses(400, 401, 403, 404, 413, 422))
def scan_parcel(body: ScanIn, deps: Deps = Depends(get_deps),
                principal: Principal = Depends(require_roles(Role.warehouse, Role.admin))) -> Response:
    loaded = scan(deps, principal, body.waybill, body.carrier)
    if loaded is None:
        raise ApiError(404, "unmatched_parcel",
                       f"no case waits for waybill {body.waybill}; the parcel is registered "
                       "as unmatched")
    return case_response(deps, principal, loaded)


@router.get("/parcels", response_model=ParcelList, summary="Scanned parcels, newest first",
            responses=error_responses(401, 403))
def parcels(status: Annotated[Literal["matched", "unmatched", "refused"] | None, Query()] = None,
            deps: Deps = Depends(get_deps),
            principal: Principal = Depends(current_principal)) -> Response:
    rows = list_parcels(deps, principal, status)
    return json_response({"items": [{k: r.get(k) for k in PARCEL_FIELDS} for r in rows]})


@router.post("/parcels/{parcel_id}/attach", response_model=CaseOut,
             summary="Attach an unmatched parcel to a case",
             responses=error_responses(400, 401, 403, 404, 413, 422))
def attach_parcel(parcel_id: str, body: AttachIn, deps: Deps = Depends(get_deps),
                  principal: Principal = Depends(current_principal)) -> Response:
    loaded = attach(deps, principal, checked_id(parcel_id, "parcel"), body.case_id)
    return case_response(deps, principal, loaded)
