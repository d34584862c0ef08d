"""An app factory with the console mounted, for `uvicorn --factory` in browser tests and by hand.

Uses the HTTP API's `create_app` (so API and console share one process and one database)
and mounts the console unless the API already did. AFTERSALES_MIGRATE=1 brings the schema
up to date first (a fresh test database).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.entrypoints.console import mount_console


def create_app() -> FastAPI:
    from aftersales.entrypoints.api.app import create_app as create_api

    wired = bootstrap(os.environ.get("AFTERSALES_DATABASE_URL"))
    if os.environ.get("AFTERSALES_MIGRATE") == "1":
        upgrade(wired.engine)
    web = create_api(wired)
    if getattr(web.state, "console", None) is None:
        mount_console(web, wired.deps)
    return web
