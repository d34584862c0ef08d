"""POST /cases/{id}/actions/{action}: one route per action of API.md's table.

One route each (rather than one route parsing any body) so the OpenAPI document shows
the exact body of every action. The roles are the transition table's: a wrong role
answers 403, a wrong state 409 `invalid_transition`, both from the domain. Any other
action name answers 404 `unknown_action`.
"""

# No `from __future__ import annotations`: the endpoints are built in a loop and FastAPI
# must see each body model as a real class, not a string naming a local variable.

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from aftersales.entrypoints.api.auth import BEARER_SECURITY, caller
from aftersales.entrypoints.api.context import api_state
from aftersales.entrypoints.api.errors import ApiError
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.present import checked_id
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.actions import ACTIONS, ActionBody
from aftersales.entrypoints.api.schemas.cases import CaseOut
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.service.cases import act_view
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal

router = APIRouter(route_class=IdempotentRoute, tags=["actions"])


def run_action(deps: Deps, principal: Principal, case_id: str, action: str,
               body: ActionBody | None) -> Response:
    """The route's work: the body (or the action's empty one) to the service's request."""
    request = (body or ACTIONS[action][0]()).to_request()
    view = act_view(deps, principal, checked_id(case_id, "case"), action, request)
    return json_response(view)


def _endpoint(action: str, model: type[ActionBody]) -> Callable[..., Response]:
    # One dependency (the caller; it answers 401 before the body is validated); the
    # service comes from the app state. The bearer scheme is documented by BEARER_SECURITY.
    def run(http: Request, principal: Principal, case_id: str, body: ActionBody | None) -> Response:
        return run_action(api_state(http).app.deps, principal, case_id, action, body)

    # `body: model` names a class known only at run time: FastAPI reads it from the
    # signature, mypy cannot (valid-type), hence the two ignores below.
    if any(field.is_required() for field in model.model_fields.values()):
        def required(http: Request, case_id: str, body: model,  # type: ignore[valid-type]
                     principal: Principal = Depends(caller)) -> Response:
            return run(http, principal, case_id, body)
        return required

    def optional(http: Request, case_id: str, body: model | None = None,  # type: ignore[valid-type]
                 principal: Principal = Depends(caller)) -> Response:
        return run(http, principal, case_id, body)
    return optional


for _name, (_model, _roles, _summary) in ACTIONS.items():
    router.add_api_route(
        f"/cases/{{case_id}}/actions/{_name}", _endpoint(_name, _model), methods=["POST"],
        response_model=CaseOut, summary=_summary, operation_id=f"action_{_name}",
        description=f"Role: {_roles}" + (" (admin too)" if _roles not in ("buyer", "platform")
                                          else "") + ". Answers the updated case.",
        responses=error_responses(400, 401, 403, 404, 409, 413, 422),
        openapi_extra=BEARER_SECURITY,
    )


@router.post("/cases/{case_id}/actions/{action}", include_in_schema=False)
def unknown_action(case_id: str, action: str) -> Response:
    raise ApiError(404, "unknown_action",
                   f"no action {action[:64]!r}; actions: {', '.join(sorted(ACTIONS))}")
