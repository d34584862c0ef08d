"""In-process API tests: one migrated SQLite file per test session, one shop per test.

Each test gets fresh sandbox shops (so clocks, orders and cases never leak between tests)
with a token per role; `Desk` (helpers.py) wraps the TestClient with the usual calls.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette nudges towards httpx2, which is not a dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.api.settings import ApiSettings
from aftersales.entrypoints.bootstrap import App, bootstrap

from .helpers import Desk

JSON_CAP = 256 * 1024
UPLOAD_CAP = 1024 * 1024  # the service's cap; the body limit adds the multipart slack


@pytest.fixture(scope="session")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> App:
    root: Path = tmp_path_factory.mktemp("api")
    app = bootstrap(f"sqlite:///{root / 'api.db'}", evidence_dir=root / "evidence")
    app.deps = replace(app.deps, max_upload_bytes=UPLOAD_CAP)
    upgrade(app.engine)
    return app


@pytest.fixture(scope="session")
def settings() -> ApiSettings:
    return ApiSettings(max_json_bytes=JSON_CAP, token_cache_seconds=5.0,
                       idempotency_wait_seconds=5.0)


@pytest.fixture(scope="session")
def client(api_app: App, settings: ApiSettings) -> Iterator[TestClient]:
    web = create_app(api_app, settings=settings)
    with TestClient(web, raise_server_exceptions=False) as tc:
        yield tc


@pytest.fixture
def desk(client: TestClient, api_app: App) -> Desk:
    return Desk(client, api_app)
