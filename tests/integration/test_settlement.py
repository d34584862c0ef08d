"""A live shop's refund left pending by its gateway settles when the gateway knows (issue
19: entries stayed `pending` forever). The worker's pass asks the gateway again.

`LaterGateway` stands for a payment provider that refunds asynchronously (none is
reachable from here): it answers `pending` when asked to pay, and `succeeded` with its
own reference once it has paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.entrypoints.worker import run_pass
from aftersales.service.ports import LedgerEntry, ShopRecord
from conftest import FixedClock, Make


@dataclass
class LaterGateway:
    paid: set[str] = field(default_factory=set)

    def execute(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        return "pending", None

    def confirm(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        return ("succeeded", f"provider-{entry.id}") if entry.id in self.paid else ("pending", None)


def test_the_worker_settles_what_the_gateway_paid(engine: Engine, clock: FixedClock) -> None:
    gateway = LaterGateway()
    app = bootstrap(engine=engine, clock=clock, payments=gateway)
    make = Make(app)
    shop = make.shop("kuaishou")  # a live shop
    loaded = make.case(shop, type="refund_only", reason="quality_issue")
    make.act(loaded, "approve")
    with app.deps.uow() as uow:
        [entry] = uow.ledger.refunds(shop.shop.id, case_id=loaded.case.id)
    assert entry.status == "pending"
    run_pass(app.deps)  # the provider has not paid yet: nothing changes
    with app.deps.uow() as uow:
        assert [e.status for e in uow.ledger.refunds(shop.shop.id, case_id=loaded.case.id)] == [
            "pending"]
    gateway.paid.add(entry.id)
    run_pass(app.deps)
    with app.deps.uow() as uow:
        [after] = uow.ledger.refunds(shop.shop.id, case_id=loaded.case.id)
        case = uow.cases.get_case(shop.shop.id, loaded.case.id)
    assert (after.status, after.reference) == ("succeeded", f"provider-{entry.id}")
    assert case is not None and case.state.value == "completed"
