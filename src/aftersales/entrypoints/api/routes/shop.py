"""The caller's shop and its merchant policy (auto-approval rules and the like, as data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from starlette.responses import Response

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.api.auth import current_principal, require_roles
from aftersales.entrypoints.api.context import get_deps
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.service import shops
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal

router = APIRouter(route_class=IdempotentRoute, tags=["shop"])

POLICY_EXAMPLE: dict[str, Any] = {
    "no_reason_days": 7,
    "excluded_categories": ["custom_made"],
    "require_evidence": True,
    "buyer_pays_no_reason_freight": True,
    "return_freight_cap": 2000,
    "auto_approve": [{"max_amount": 3000, "types": ["refund_only"], "reasons": None,
                      "max_buyer_cases": 3, "no_abuse": True}],
    "counter_offer_percent": None,
    "extra": {"alert_email": "ops@example.com"},
}


@router.get("/shop", summary="The caller's shop and its merchant policy (staff)",
            responses=error_responses(401, 403))
def get_shop(deps: Deps = Depends(get_deps),
             principal: Principal = Depends(current_principal)) -> Response:
    return json_response(shops.get_shop(deps, principal))


@router.put("/shop/policy", summary="Replace the merchant policy (admin)",
            description="Validated whole before it is stored: amounts are integer minor units, "
                        "case types and reasons the codes of DOMAIN.md. `return_freight_cap: "
                        "null` means the platform profile's default bound "
                        "(rules.return_freight_cap_default), never no bound. Answers the shop.",
            responses=error_responses(400, 401, 403, 413, 422))
def put_policy(body: dict[str, Any] = Body(..., examples=[POLICY_EXAMPLE]),
               deps: Deps = Depends(get_deps),
               principal: Principal = Depends(require_roles(Role.admin))) -> Response:
    return json_response(shops.set_policy(deps, principal, principal.shop_id, body))
