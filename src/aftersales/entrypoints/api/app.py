"""The HTTP API of API.md, built on demand: `create_app()` wires everything, nothing at import.

Thin edges: each handler parses (Pydantic models), calls one service function and renders
the result. Errors take one shape everywhere (errors.py), bodies are capped before they
are read (limits.py), every POST honours Idempotency-Key (idempotency.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aftersales.entrypoints.api import errors
from aftersales.entrypoints.api.context import ApiState
from aftersales.entrypoints.api.limits import BodyLimitMiddleware
from aftersales.entrypoints.api.routes import (
    actions,
    cases,
    clock,
    meta,
    orders,
    parcels,
    push,
    refunds,
    shop,
    threads,
    upstream,
)
from aftersales.entrypoints.api.serving import install_log_filter
from aftersales.entrypoints.api.settings import ApiSettings
from aftersales.entrypoints.bootstrap import App, bootstrap

BASE = "/api/v1"
DESCRIPTION = """The after-sales desk's API (API.md).

* Auth: `Authorization: Bearer TOKEN`; a token belongs to one shop and one role.
* Errors: `{"error": {"code": "snake_case_code", "message": "human text"}}`.
* `Idempotency-Key` on any POST: the same key and body return the first response.
* Times are ISO 8601 with an offset; money is `{"amount": 12500, "currency": "CNY"}` in minor units.
"""


def create_app(app: App | None = None, *, database_url: str | None = None,
               settings: ApiSettings | None = None, console: bool = True) -> FastAPI:
    """The API over `app` (or a new one on `database_url` / AFTERSALES_DATABASE_URL).

    `aftersales serve` is "HTTP API and web console in one process" (API.md), so the
    console is mounted too when it is installed; `console=False` gives the bare API.
    """
    owned = app is None
    wired = app if app is not None else bootstrap(database_url)
    config = settings or ApiSettings.from_env()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            wired.engine.dispose()

    api = FastAPI(
        title="aftersales", version="1", description=DESCRIPTION, lifespan=lifespan,
        openapi_url=f"{BASE}/openapi.json", docs_url=f"{BASE}/docs", redoc_url=None,
    )
    api.state.api = ApiState(wired, config)
    install_log_filter()  # no token of a portal link in the access log (serving.py)
    errors.install(api)
    for module in (orders, cases, actions, threads, parcels, refunds, clock, shop, upstream,
                   meta, push):
        api.include_router(module.router, prefix=BASE)
    api.add_middleware(BodyLimitMiddleware, max_json_bytes=config.max_json_bytes,
                       max_upload_bytes=config.max_upload_bytes or wired.deps.max_upload_bytes)
    if console:
        _mount_console(api, wired)
    return api


def _mount_console(api: FastAPI, wired: App) -> None:
    try:
        from aftersales.entrypoints.console import mount_console
    except ImportError:  # a build without the console: the API alone
        return
    mount_console(api, wired.deps)
