"""Upstream claims through the service layer, on SQLite and on PostgreSQL.

PLATFORMS.md "1688 dropshipping": each downstream refund should open or link an upstream
claim with the supplier and track what was recovered; the rest is an unrecovered loss.
"""

from __future__ import annotations

from typing import Any

import pytest

from aftersales.domain.errors import Forbidden, InvalidInput, InvalidTransition, RuleRefused
from aftersales.domain.vocabulary import State
from aftersales.entrypoints.bootstrap import App
from aftersales.service import upstream
from aftersales.service.casework import Loaded
from aftersales.service.errors import Conflict, NotFound
from conftest import Make


def _refunded(make: Make, shop_platform: str = "alibaba_1688") -> Loaded:
    shop = make.shop(shop_platform, sandbox=True)
    loaded = make.case(shop, type="refund_only", reason="quality_issue")
    make.act(loaded, "approve")
    return loaded


def _open(app: App, make: Make, loaded: Loaded, amount: int = 15000,
          **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"supplier": "义乌供应商", "supplier_order_id": "SO-1", "amount_minor": amount,
                  "description": "买家收到破损商品，已退款", "evidence_count": 2}
    args.update(kw)
    agent = make.principal(loaded.shop, "agent")
    return upstream.open_claim(app.deps, agent, loaded.case.id, **args)


def test_claim_lifecycle_is_stored_and_recorded_on_the_case(app: App, make: Make) -> None:
    loaded = _refunded(make)
    shop = loaded.shop
    agent, finance = make.principal(shop, "agent"), make.principal(shop, "finance")
    claim = _open(app, make, loaded, supplier_paid_minor=16000)
    assert claim["status"] == "open" and claim["amount"] == {"amount": 15000, "currency": "CNY"}
    part = upstream.record_recovery(app.deps, finance, claim["id"], 5000, "CNY")
    assert part["status"] == "partially_recovered"
    assert part["outstanding"]["amount"] == 10000
    full = upstream.record_recovery(app.deps, finance, claim["id"], 10000, "CNY")
    assert full["status"] == "recovered" and full["settled_at"] is not None
    with pytest.raises(InvalidTransition):
        upstream.record_recovery(app.deps, finance, claim["id"], 1, "CNY")
    listed = upstream.list_claims(app.deps, agent, loaded.case.id)
    assert [c["status"] for c in listed] == ["recovered"]
    assert upstream.list_claims(app.deps, agent, status="open") == []
    with app.deps.uow() as uow:
        kinds = [e.kind for e in uow.cases.events(shop.shop.id, loaded.case.id)]
    assert kinds[-3:] == ["upstream_claim_opened", "upstream_claim_recovered",
                          "upstream_claim_recovered"]


def test_refusals_roles_bounds_and_other_shops(app: App, make: Make) -> None:
    loaded = _refunded(make)
    shop = loaded.shop
    with pytest.raises(InvalidInput) as err:
        _open(app, make, loaded, description="x")
    assert err.value.code == "claim_description_length"
    with pytest.raises(InvalidInput) as err:
        _open(app, make, loaded, evidence_count=6)
    assert err.value.code == "claim_evidence_count"
    with pytest.raises(RuleRefused) as rerr:
        _open(app, make, loaded, amount=9000, supplier_paid_minor=8000)
    assert rerr.value.code == "claim_amount_exceeds_paid"
    with pytest.raises(Forbidden):
        upstream.open_claim(app.deps, make.principal(shop, "finance"), loaded.case.id, "s", "o",
                            100, "破损退款", 1)
    claim = _open(app, make, loaded)
    with pytest.raises(Conflict):
        _open(app, make, loaded)  # the same supplier order is already being claimed
    with pytest.raises(Forbidden):
        upstream.record_recovery(app.deps, make.principal(shop, "agent"), claim["id"], 1, "CNY")
    other = make.shop("alibaba_1688")
    with pytest.raises(NotFound):
        upstream.record_recovery(app.deps, make.principal(other, "finance"), claim["id"], 1, "CNY")
    with pytest.raises(NotFound):
        upstream.open_claim(app.deps, make.principal(other, "agent"), loaded.case.id, "s", "o",
                            100, "破损退款", 1)
    refused = upstream.refuse(app.deps, make.principal(shop, "finance"), claim["id"], "超过售后期")
    assert refused["status"] == "refused" and refused["outstanding"]["amount"] == 0


def test_no_claim_without_a_downstream_refund(app: App, make: Make) -> None:
    shop = make.shop("alibaba_1688", sandbox=True)
    loaded = make.case(shop, type="refund_only", reason="quality_issue")
    assert loaded.case.state is State.requested
    with pytest.raises(RuleRefused) as err:
        _open(app, make, loaded)
    assert err.value.code == "no_downstream_refund"


def test_unrecovered_reports_unclaimed_refunds_and_outstanding_claims(app: App, make: Make) -> None:
    shop = make.shop("alibaba_1688", sandbox=True)
    admin = make.principal(shop, "admin")
    bare = make.case(shop, type="refund_only", reason="quality_issue")
    make.act(bare, "approve")
    claimed = make.case(shop, type="refund_only", reason="quality_issue")
    make.act(claimed, "approve")
    claim = _open(app, make, claimed, amount=12000)
    upstream.record_recovery(app.deps, make.principal(shop, "finance"), claim["id"], 2000, "CNY")
    report = upstream.unrecovered(app.deps, admin)
    assert [c["case_id"] for c in report["unclaimed_cases"]] == [bare.case.id]
    refunded = report["unclaimed_cases"][0]["refunded"]["amount"]
    assert refunded > 0
    assert report["open_claims"][0]["outstanding"] == {"amount": 10000, "currency": "CNY"}
    assert report["totals"] == [{"currency": "CNY", "unclaimed": refunded, "outstanding": 10000,
                                 "refused": 0, "at_risk": refunded + 10000}]
    upstream.withdraw(app.deps, make.principal(shop, "agent"), claim["id"], "另行协商")
    again = upstream.unrecovered(app.deps, admin)
    assert {c["case_id"] for c in again["unclaimed_cases"]} == {bare.case.id, claimed.case.id}
    assert again["open_claims"] == []
    with pytest.raises(Forbidden):
        upstream.unrecovered(app.deps, make.buyer(claimed.order))
