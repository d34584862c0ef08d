"""Fixtures for the console's fast tests: a sample world on SQLite and a signed-in client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():  # starlette nudges towards httpx2, which is not a dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.console import Desk, mount_console
from aftersales.entrypoints.console.sample import Sample, build


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[App, Sample]]:
    wired = bootstrap(f"sqlite:///{tmp_path}/console.db", evidence_dir=tmp_path / "evidence")
    upgrade(wired.engine)
    yield wired, build(wired.deps)
    wired.engine.dispose()


@pytest.fixture
def desk_app(world: tuple[App, Sample]) -> tuple[FastAPI, Desk]:
    web = FastAPI()
    desk = mount_console(web, world[0].deps, secret="test-secret")
    return web, desk


@pytest.fixture
def client(desk_app: tuple[FastAPI, Desk]) -> Iterator[TestClient]:
    with TestClient(desk_app[0], follow_redirects=False) as c:
        yield c
