"""Dropshipping (PLATFORMS.md / 1688): an agent opens a claim on the supplier from the case
page; finance sees what is at risk and records what the supplier paid back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.entrypoints.console import mount_console
from aftersales.entrypoints.console.sample import build
from aftersales.service import cases, upstream
from aftersales.service.ports import Principal
from console.console_helpers import sign_in


@pytest.fixture
def dropship(tmp_path: Path) -> Iterator[tuple[TestClient, object, str, str]]:
    wired = bootstrap(f"sqlite:///{tmp_path}/d.db", evidence_dir=tmp_path / "evidence")
    upgrade(wired.engine)
    sample = build(wired.deps, platform="alibaba_1688", others=0)
    buyer = Principal(sample.shop_id, Role.buyer, sample.buyer_id)
    with wired.deps.uow() as uow:
        line_id = uow.orders.get_order(sample.shop_id, sample.order_id).lines[0].id
    loaded = cases.open_case(wired.deps, buyer, cases.NewCase(
        sample.order_id, "refund_only", "no_reason", ((line_id, 1),)))
    cases.act(wired.deps, Principal(sample.shop_id, Role.agent, actor_id="a1"), loaded.case.id,
              "approve")
    web = FastAPI()
    mount_console(web, wired.deps, secret="t")
    with TestClient(web, follow_redirects=False) as client:
        yield client, wired, sample.shop_id, loaded.case.id
    wired.engine.dispose()


def test_agent_opens_a_claim_and_finance_records_the_recovery(dropship) -> None:
    client, wired, shop_id, case_id = dropship
    token = sign_in(client, "agent")
    assert "向供应商发起索赔" in client.get(f"/cases/{case_id}").text
    resp = client.post(f"/cases/{case_id}/upstream-claims", data={
        "csrf": token, "supplier": "义乌某工厂", "supplier_order_id": "1688-000123",
        "amount": "100.00", "description": "买家七天无理由退款，请供应商退回货款", "evidence_count": "1"})
    assert resp.status_code == 303
    finance = Principal(shop_id, Role.finance, actor_id="f1")
    [claim] = upstream.list_claims(wired.deps, finance, case_id=case_id)
    assert claim["amount"]["amount"] == 10000 and claim["status"] == "open"

    client.post("/logout", data={"csrf": token})
    token = sign_in(client, "finance")
    page = client.get("/finance").text
    assert "上游索赔" in page and "1688-000123" in page
    resp = client.post(f"/finance/claims/{claim['id']}/recovery", data={"csrf": token, "amount": "60"})
    assert resp.status_code == 303
    [claim] = upstream.list_claims(wired.deps, finance, case_id=case_id)
    assert claim["recovered"]["amount"] == 6000 and claim["status"] == "partially_recovered"
    client.post(f"/finance/claims/{claim['id']}/recovery", data={"csrf": token, "amount": "999"})
    [claim] = upstream.list_claims(wired.deps, finance, case_id=case_id)
    assert claim["recovered"]["amount"] == 6000  # never above what the claim asked


def test_claims_stay_off_the_pages_of_shops_without_dropshipping(client, world) -> None:
    sign_in(client, "agent")
    case_id = world[1].other_case_ids[0]
    assert "向供应商发起索赔" not in client.get(f"/cases/{case_id}").text
