"""The desk people use (server-rendered, Jinja2 + htmx): agents, warehouse, finance, buyers.

`mount_console(app, deps)` adds the pages and static files to the FastAPI app that also
serves the JSON API; every page calls the same service handlers as the API (one write path).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from aftersales.entrypoints.console import (
    routes_agent,
    routes_auth,
    routes_dashboard,
    routes_evidence,
    routes_finance,
    routes_portal,
    routes_settings,
    routes_warehouse,
)
from aftersales.entrypoints.console.web import HERE, Desk, PageError, Redirect
from aftersales.service.deps import Deps

__all__ = ["Desk", "mount_console"]


def mount_console(app: FastAPI, deps: Deps, *, secret: str | None = None) -> Desk:
    """Add the console to `app`; returns the Desk (sessions, limiter) for tests and tooling."""
    dk = Desk(deps, secret=secret)
    for module in (routes_auth, routes_agent, routes_evidence, routes_warehouse, routes_finance,
                   routes_portal, routes_dashboard, routes_settings):
        app.include_router(module.routes(dk), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        def run() -> Response:  # the session and the header's counts come from the database
            return dk.render(dk.ctx(request), "error.html", status=exc.status,
                             message=exc.message, code=exc.status)
        return await run_in_threadpool(run)

    @app.exception_handler(Redirect)
    async def redirect(request: Request, exc: Redirect) -> Response:
        return await run_in_threadpool(lambda: dk.redirect(dk.ctx(request), exc.url))

    app.state.console = dk
    return dk
