"""The fake 抖店 as a real process (`aftersales fake-platform`), and a control client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from servers import serving

CLI = Path(sys.executable).parent / "aftersales"
APP_KEY, APP_SECRET = "7012345678901234567", "fake-app-secret-0a1b2c3d"


@contextmanager
def fake_douyin(log: Path, *, qps: int = 20, push_url: str | None = None) -> Iterator[str]:
    def command(port: int) -> list[str]:
        return [str(CLI), "fake-platform", "--platform", "douyin", "--port", str(port),
                "--app-key", APP_KEY, "--app-secret", APP_SECRET, "--qps", str(qps),
                *(["--push-url", push_url] if push_url else [])]

    with serving(command, {}, ready="/fake/health", log=log) as base:
        yield base


def control(base: str, what: str, body: dict[str, Any] | None = None) -> Any:
    reply = (httpx.post(f"{base}/fake/{what}", json=body or {}, timeout=10) if body is not None
             else httpx.get(f"{base}/fake/{what}", timeout=10))
    reply.raise_for_status()
    return reply.json()
