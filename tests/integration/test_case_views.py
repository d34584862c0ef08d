"""The case view after a command lists the same events as a later, separate read.

The store keeps the event history it read with the case and appends what it saves, so
the answer to an action needs no second read of the events; this checks that the events
it shows are exactly what reading them back from the database gives, on both databases.
"""

from __future__ import annotations

import pytest

from aftersales.entrypoints.api.schemas.actions import ACTIONS
from aftersales.entrypoints.bootstrap import App
from aftersales.service import cases
from aftersales.service.casework import load
from aftersales.service.views import case_view, event_view
from conftest import Make


def _stored_events(app: App, shop_id: str, case_id: str) -> list[dict[str, object]]:
    with app.deps.uow() as uow:  # a fresh store: the events come from SELECT case_events
        return [event_view(e) for e in uow.cases.events(shop_id, case_id)]


@pytest.mark.parametrize("sandbox", [True, False])  # the stored clock, or the service clock
def test_the_answer_to_each_command_shows_the_stored_events(app: App, make: Make,
                                                            sandbox: bool) -> None:
    shop = make.shop("kuaishou", sandbox=sandbox)
    order = make.order(shop)
    buyer = make.buyer(order)
    view = cases.open_case_view(app.deps, buyer, cases.NewCase(
        order_id=order.id, type="return_refund", reason="no_reason",
        lines=((order.lines[0].id, 1),)))
    case_id = str(view["id"])
    assert view["events"] == _stored_events(app, shop.shop.id, case_id)
    steps = [("approve", make.principal(shop, "agent"), {}),
             ("ship_return", buyer, {"carrier": "SF", "waybill": "SF123", "prepaid": True}),
             ("receive", make.principal(shop, "warehouse"), {"prepaid": True}),
             ("inspect", make.principal(shop, "warehouse"),
              {"verdict": "accept", "condition": "new", "sku_matches": True,
               "accessories_complete": True, "gifts_returned": True})]
    for action, who, body in steps:
        request = ACTIONS[action][0](**body).to_request()
        view = cases.act_view(app.deps, who, case_id, action, request)
        assert view["events"] == _stored_events(app, shop.shop.id, case_id), action
    assert view["state"] in ("completed", "refunding") and len(view["events"]) >= 5
    agent = make.principal(shop, "agent")
    with app.deps.uow() as uow:  # a read: the events come with the case (JSON aggregate)
        loaded = load(app.deps, uow, agent, case_id)
        read = case_view(uow, loaded, app.deps.now_for(loaded.shop), agent.role)
    assert read["events"] == view["events"]
