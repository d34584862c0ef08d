"""Sandbox clocks: read the shop's "now"; an admin moves it and due deadlines fire."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.api.auth import current_principal, require_roles
from aftersales.entrypoints.api.context import get_deps
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.clock import AdvanceIn, AdvanceOut, ClockOut
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal
from aftersales.service.timers import advance_clock, shop_now

router = APIRouter(route_class=IdempotentRoute, tags=["sandbox clock"])


@router.get("/clock", response_model=ClockOut, summary="The shop's now (a sandbox's own clock)",
            responses=error_responses(401))
def clock(deps: Deps = Depends(get_deps), principal: Principal = Depends(current_principal)) -> Response:
    return json_response({"now": shop_now(deps, principal).isoformat()})


@router.post("/clock/advance", response_model=AdvanceOut,
             summary="Move a sandbox shop's clock forward, firing every deadline due on the way",
             responses=error_responses(400, 401, 403, 409, 413, 422))
def advance(body: AdvanceIn, deps: Deps = Depends(get_deps),
            principal: Principal = Depends(require_roles(Role.admin))) -> Response:
    now, fired = advance_clock(deps, principal, to=body.to, by=body.by)
    return json_response({"now": now.isoformat(), "fired": [
        {"case_id": f.case_id, "outcome": f.outcome, "at": f.at.isoformat()} for f in fired]})
