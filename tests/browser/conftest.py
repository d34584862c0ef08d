"""Browser tests: Debian's chromium (never a downloaded browser) driving a real server process.

The server is `uvicorn --factory aftersales.entrypoints.console.devserver:create_app` on a
free port over a fresh SQLite file that the test fills through the service handlers
first. Without /usr/bin/chromium these tests skip on a developer's machine but fail in CI
(CI=true), so a missing browser can never pass the story silently.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.console.sample import Sample, build
from servers import serving

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
FACTORY = "aftersales.entrypoints.console.devserver:create_app"
SHOTS = Path("test-artifacts/screenshots")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.xdist_group("browser"))


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} is missing (CI=true: browser tests never skip in CI)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium fonts-wqy-zenhei")


def _command(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--factory", FACTORY, "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]


@dataclass
class Server:
    url: str
    app: App
    sample: Sample
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_chromium()
    root = tmp_path_factory.mktemp("desk")
    url_db = f"sqlite:///{root}/desk.db"
    wired = bootstrap(url_db, evidence_dir=root / "evidence")
    upgrade(wired.engine)
    sample = build(wired.deps, others=0)
    env = {"AFTERSALES_DATABASE_URL": url_db, "AFTERSALES_DATA_DIR": str(root),
           "AFTERSALES_SECRET_KEY": "browser-test-secret"}
    log = root / "server.log"
    try:
        with serving(_command, env, ready="/login", log=log) as base:
            yield Server(base, wired, sample, log)
    finally:
        wired.engine.dispose()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
