"""Rendering what a service call returned: a case, in the one view the API shows.

A case view reads the event log and the evidence (for the recommendation), so it needs a
store; after a command it is built in one short read transaction of its own.
"""

from __future__ import annotations

from starlette.responses import Response

from aftersales.adapters.ids import ID
from aftersales.entrypoints.api.render import json_response
from aftersales.service.casework import Loaded
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal
from aftersales.service.views import case_view


def checked_id(value: str, what: str) -> str:
    """An id from the path: one that cannot exist is simply not found (never a DB error)."""
    if not ID.fullmatch(value):
        raise NotFound(f"no {what} {value[:64]!r}", code=f"{what}_not_found")
    return value


def case_response(deps: Deps, principal: Principal, loaded: Loaded, status: int = 200) -> Response:
    with deps.uow() as uow:
        view = case_view(uow, loaded, deps.now_for(loaded.shop), principal.role)
    return json_response(view, status)
