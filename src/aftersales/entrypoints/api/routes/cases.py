"""Cases: open one (or mirror a platform's), read one, list the queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from aftersales.domain.errors import Forbidden, InvalidInput
from aftersales.domain.money import Money
from aftersales.domain.profile import Profile
from aftersales.domain.sync import PlatformSnapshot, SnapshotLine
from aftersales.domain.vocabulary import CaseType, Reason, Role, State
from aftersales.entrypoints.api.auth import BEARER_SECURITY, current_principal, require_roles
from aftersales.entrypoints.api.context import api_state, get_deps
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.present import case_response, checked_id
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas import common
from aftersales.entrypoints.api.schemas.cases import (
    CaseIn,
    CaseOut,
    CasePage,
    ReasonCode,
    StateName,
)
from aftersales.entrypoints.api.schemas.cases import (
    CaseType as CaseTypeName,
)
from aftersales.entrypoints.api.schemas.common import QueryText, QueryTime, error_responses
from aftersales.service.cases import open_case_view
from aftersales.service.casework import load
from aftersales.service.deps import Deps
from aftersales.service.orders import get_order
from aftersales.service.ports import CaseFilter, Principal
from aftersales.service.queries import list_cases
from aftersales.service.shops import require_shop
from aftersales.service.sync import apply_snapshot
from aftersales.service.views import case_view

router = APIRouter(route_class=IdempotentRoute, tags=["cases"])
OPENERS = (Role.buyer, Role.agent, Role.platform, Role.admin)
SYNCERS = frozenset({Role.platform, Role.admin})


def map_platform_status(profile: Profile, raw: str) -> State:
    """A platform's raw status through its profile's status_map (Profile.state_of, the
    table the import adapters read too); one of our own state names is accepted as is
    (an own store has no codes of its own)."""
    mapped = profile.state_of(raw)
    if mapped is not None:
        return mapped
    try:
        return State(raw)
    except ValueError:
        raise InvalidInput(f"unknown platform_status {raw!r} for this platform",
                           code="unknown_platform_status") from None


def _snapshot(deps: Deps, principal: Principal, body: CaseIn) -> PlatformSnapshot:
    if principal.role not in SYNCERS:
        raise Forbidden("only the platform integration may post a platform case")
    if body.platform_status is None:
        raise InvalidInput("a platform case needs platform_status", code="platform_status_required")
    with deps.uow() as uow:
        shop = require_shop(uow, principal.shop_id)
        order = get_order(uow, principal, body.order_id)
    platform = shop.shop.platform
    amount = body.requested_amount
    requested = None if amount is None else (
        Money(amount.amount, amount.currency) if isinstance(amount, common.Money)
        else Money(amount, order.currency))
    return PlatformSnapshot(
        platform=platform, platform_case_id=body.platform_case_id or "",
        platform_order_id=order.platform_order_id, platform_status=body.platform_status,
        state=map_platform_status(deps.profiles(platform), body.platform_status),
        version=body.platform_version or 0, type=CaseType(body.type), reason=Reason(body.reason),
        requested_amount=requested, deadline_at=body.platform_deadline,
        buyer_id=order.buyer_id, description=body.description,
        lines=tuple(SnapshotLine(ln.line_id, None, ln.quantity) for ln in body.lines),
    )


def _check_currency(deps: Deps, principal: Principal, body: CaseIn) -> None:
    amount = body.requested_amount
    if not isinstance(amount, common.Money):
        return
    with deps.uow() as uow:
        order = get_order(uow, principal, body.order_id)
    if amount.currency != order.currency:
        raise InvalidInput(f"requested_amount is in {amount.currency}, the order in {order.currency}",
                           code="currency_mismatch")


@router.post("/cases", status_code=201, response_model=CaseOut,
             summary="Open a case (201); the platform role may mirror a platform case (sync)",
             responses={200: {"model": CaseOut, "description": "Platform case synced or unchanged"},
                        **error_responses(400, 401, 403, 404, 409, 413, 422)},
             openapi_extra=BEARER_SECURITY)
def post_case(http: Request, body: CaseIn,
              principal: Principal = Depends(require_roles(*OPENERS, documented=False))
              ) -> Response:
    return create_case(api_state(http).app.deps, principal, body)


def create_case(deps: Deps, principal: Principal, body: CaseIn) -> Response:
    """The route's work once the caller's role is checked."""
    if body.is_sync:
        loaded, result = apply_snapshot(deps, principal, _snapshot(deps, principal, body),
                                        order_id=body.order_id)
        return case_response(deps, principal, loaded, 201 if result == "created" else 200)
    _check_currency(deps, principal, body)
    return json_response(open_case_view(deps, principal, body.to_command()), 201)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="One case with its events",
            responses=error_responses(401, 404))
def read_case(case_id: str, deps: Deps = Depends(get_deps),
              principal: Principal = Depends(current_principal)) -> Response:
    checked_id(case_id, "case")
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id)
        view = case_view(uow, loaded, deps.now_for(loaded.shop), principal.role)
    return json_response(view)


@router.get("/cases", response_model=CasePage, summary="The queue: soonest deadline first",
            responses=error_responses(401, 403, 422))
def query_cases(
    deps: Deps = Depends(get_deps),
    principal: Principal = Depends(current_principal),
    state: StateName | None = None,
    platform: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,40}$")] = None,
    due_before: Annotated[QueryTime | None, Query(description="ISO 8601 with offset")] = None,
    q: Annotated[QueryText | None, Query(max_length=200, description="order id, buyer, waybill, SKU")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,1000}$")] = None,
    type: CaseTypeName | None = None,
    reason: ReasonCode | None = None,
    overdue: bool | None = None,
) -> Response:
    flt = CaseFilter(state=state, platform=platform, type=type, reason=reason,
                     due_before=due_before, overdue=overdue, q=q or None, limit=limit,
                     cursor=cursor)
    items, next_cursor = list_cases(deps, principal, flt)
    return json_response({"items": items, "next_cursor": next_cursor})
