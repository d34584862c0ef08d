"""`aftersales serve` as it runs in production, attacked the way issue 19 did: what its
access log keeps, whose X-Forwarded-For counts, sign-in floods, revoked tokens.

A server process per test: the sign-in limits count per client address, and every
request of a test comes from 127.0.0.1, so one test's flood must not lock the next out.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.console.sample import Sample, build
from conftest import database
from servers import serving

CLI = Path(sys.executable).parent / "aftersales"


@dataclass
class Served:
    base: str
    app: App
    sample: Sample
    log: Path
    url: str


def _command(port: int) -> list[str]:
    base = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "aftersales.entrypoints.cli"]
    return [*base, "serve", "--host", "127.0.0.1", "--port", str(port)]


@contextmanager
def served(kind: str, root: Path, **env: str) -> Iterator[Served]:
    """`aftersales serve` (one process) over a new database holding the console's sample
    world; the fast path off (it is being removed; nothing here goes through it)."""
    with database(kind, root) as url:
        app = bootstrap(url, evidence_dir=root / "evidence")
        upgrade(app.engine)
        sample = build(app.deps, others=0)
        log = root / "server.log"
        try:
            with serving(_command, {"AFTERSALES_DATABASE_URL": url, "AFTERSALES_DATA_DIR": str(root),
                                    "AFTERSALES_API_FAST_PATH": "0", **env}, log=log) as base:
                yield Served(base, app, sample, log, url)
        finally:
            app.engine.dispose()


# --- item 3: portal-link tokens stay out of the access log ----------------------------------

def test_portal_link_tokens_never_reach_the_access_log(tmp_path: Path) -> None:
    with served("sqlite", tmp_path) as s:
        token = s.sample.buyer_token
        assert httpx.get(f"{s.base}/portal/login?token={token}").status_code == 200
        assert httpx.get(f"{s.base}/portal/login?lang=en&token={token}x&b=1").status_code == 401
        assert httpx.get(f"{s.base}/portal/login?TOKEN={token}").status_code in (200, 401)
        time.sleep(0.3)  # (each record is flushed as written; give the last one a moment)
    text = s.log.read_text(errors="replace")
    assert '"GET /portal/login?token=[redacted] HTTP/1.1" 200' in text, text[-2000:]
    assert "/portal/login?lang=en&token=[redacted]&b=1" in text, text[-2000:]
    assert token not in text and token[3:20] not in text
