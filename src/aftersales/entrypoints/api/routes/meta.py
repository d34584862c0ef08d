"""Reports for the merchant, and the health check load balancers and tests wait on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from aftersales.entrypoints.api.auth import current_principal
from aftersales.entrypoints.api.context import api_state, get_deps
from aftersales.entrypoints.api.errors import error_response
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.common import OpenModel, QueryTime, error_responses
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal
from aftersales.service.reports import summary

router = APIRouter(route_class=IdempotentRoute)


class Health(OpenModel):
    status: str


class Summary(OpenModel):
    """Counts and rates of DOMAIN.md "Measures" for the period."""


@router.get("/reports/summary", response_model=Summary, tags=["reports"],
            summary="Refund and return rates, timeouts, disputes, response times, loss",
            responses=error_responses(401, 403, 422))
def report_summary(
    start: Annotated[QueryTime, Query(alias="from", description="ISO 8601 with offset")],
    end: Annotated[QueryTime, Query(alias="to", description="ISO 8601 with offset")],
    deps: Deps = Depends(get_deps), principal: Principal = Depends(current_principal),
) -> Response:
    return json_response(summary(deps, principal, start, end))


def _database_problem(request: Request) -> str | None:
    engine = api_state(request).app.engine
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        return f"the database does not answer ({type(exc).__name__})"
    return None


@router.get("/health", response_model=Health, tags=["health"], summary="Up, and the database answers")
def health(request: Request) -> Response:
    if _database_problem(request) is not None:
        return error_response(503, "database_unavailable", "the database does not answer")
    body: dict[str, Any] = {"status": "ok"}
    return json_response(body)


@router.get("/health/live", response_model=Health, tags=["health"],
            summary="The process answers (liveness: restart it if not)")
def health_live() -> Response:
    return json_response({"status": "ok"})


@router.get("/health/ready", response_model=Health, tags=["health"],
            summary="Writes can succeed: the database answers and evidence storage is writable",
            responses={503: {"description": "not ready: `error.reasons` says why"}})
def health_ready(request: Request) -> Response:
    """Readiness: a load balancer sends no traffic here while a write would fail."""
    reasons: list[dict[str, str]] = []
    db = _database_problem(request)
    if db is not None:
        reasons.append({"code": "database_unavailable", "message": db})
    probe = getattr(api_state(request).app.deps.blobs, "writable", None)
    storage = probe() if probe is not None else None
    if storage is not None:
        reasons.append({"code": "storage_unavailable", "message": storage})
    if reasons:
        return error_response(503, "not_ready", "; ".join(r["message"] for r in reasons),
                              reasons=reasons)
    return json_response({"status": "ok"})
