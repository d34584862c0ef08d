"""Every page of the desk renders for the demo's shops: nine platforms, every state."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from fastapi import FastAPI

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.entrypoints.console import mount_console
from aftersales.entrypoints.demo import run_demo
from console.console_helpers import sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.mark.slow
def test_every_demo_page_renders_for_admin(tmp_path: Path) -> None:
    wired = bootstrap(f"sqlite:///{tmp_path}/demo.db", evidence_dir=tmp_path / "evidence")
    upgrade(wired.engine)
    result = run_demo(wired.deps)  # seeds the staff of every shop with one fresh password
    web = FastAPI()
    mount_console(web, wired.deps, secret="demo")
    with TestClient(web, follow_redirects=False) as client:
        token = sign_in(client, "admin", result.staff_password)  # opens all nine shops
        switcher = client.get("/queue").text
        assert switcher.count('<option value="') >= len(result.shops)
        marks = 0
        for shop in result.shops:
            switched = client.post("/switch", data={"csrf": token, "shop": shop.record.shop.id})
            assert switched.status_code == 303
            queue = client.get("/queue").text
            marks += len(re.findall(r'<tr class="(?:near|overdue)"', queue))
            for url in ("/finance", "/dashboard", "/warehouse", "/warehouse/parcels", "/clock",
                        *(f"/cases/{cid}" for cid in shop.case_ids)):
                resp = client.get(url)
                assert resp.status_code == 200, (shop.record.shop.platform, url, resp.text[:400])
        assert marks > 0  # the demo leaves cases near their deadline and overdue
    wired.engine.dispose()
