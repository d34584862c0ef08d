"""What a request handler reaches through `request.app.state`: the wired App and settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from aftersales.entrypoints.api.settings import ApiSettings
from aftersales.entrypoints.bootstrap import App
from aftersales.service.deps import Deps


@dataclass
class ApiState:
    app: App
    settings: ApiSettings
    tokens: dict[str, tuple[object, float]] = field(default_factory=dict)


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def get_deps(request: Request) -> Deps:
    """async on purpose: a sync dependency costs a thread-pool hop on every request."""
    return api_state(request).app.deps
