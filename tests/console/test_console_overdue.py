"""An overdue inspection on the desk (issue 15): the queue and title say 已超时, so the
deadline panel says what passed and who must act, and the agent gets a move — a nudge to
the warehouse, and word that an admin can take the inspection over."""

from __future__ import annotations

import re

from aftersales.domain.case import ActionRequest
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console.sample import sample_order
from aftersales.service import cases, timers
from aftersales.service.ports import Principal
from console.console_helpers import sign_in


def _overdue_inspection(app, sample) -> str:
    shop = sample.shop_id
    order = sample_order(app.deps, Principal(shop, Role.admin), "P-late", "buyer-late")
    case_id = cases.open_case(app.deps, Principal(shop, Role.buyer, buyer_id="buyer-late"), cases.NewCase(
        order.id, "return_refund", "no_reason", ((order.lines[0].id, 1),))).case.id
    cases.act(app.deps, Principal(shop, Role.agent, actor_id="a"), case_id, "approve")
    cases.act(app.deps, Principal(shop, Role.buyer, buyer_id="buyer-late"), case_id, "ship_return",
              ActionRequest(carrier="SF", waybill="SFLATE1", prepaid=True))
    cases.act(app.deps, Principal(shop, Role.warehouse, actor_id="w"), case_id, "receive",
              ActionRequest(prepaid=True))
    timers.advance_clock(app.deps, Principal(shop, Role.admin, actor_id="admin"), by="121h")
    return case_id


def test_overdue_inspection_shows_the_passed_deadline_and_who_must_act(client, world) -> None:
    app, sample = world
    case_id = _overdue_inspection(app, sample)
    sign_in(client, "agent")
    page = client.get(f"/cases/{case_id}").text
    assert "已超时" in page or "Overdue" in page
    assert 'id="passed-deadline"' in page and "taobao.law_refund_alert_inspecting" in page
    assert "当前状态没有处理时限" not in page and "No deadline in this state." not in page
    assert re.search(r'id="waiting-on">\s*仓库', page), "the panel names the warehouse"
    assert 'id="nudge"' in page and 'id="take-over"' in page
    assert "Nothing for you to do" not in page and "当前状态无需您处理" not in page
    queue = client.get("/queue").text
    row = queue[queue.index(f'data-case="{case_id}"'):]
    row = row[:row.index("</tr>")]
    assert re.search(r'class="small muted waiting">[^<]*仓库', row), row


def test_the_agent_nudges_the_warehouse_from_the_case_page(client, world) -> None:
    app, sample = world
    case_id = _overdue_inspection(app, sample)
    token = sign_in(client, "agent")
    resp = client.post(f"/cases/{case_id}/nudge", data={"csrf": token, "note": "买家在催"})
    assert resp.status_code == 303 and resp.headers["location"].startswith(f"/cases/{case_id}")
    page = client.get(f"/cases/{case_id}").text
    assert "已发送催办" in page or "Reminder sent." in page
    assert "已催办" in page and "买家在催" in page


def test_an_admin_takes_over_the_overdue_inspection(client, world) -> None:
    app, sample = world
    case_id = _overdue_inspection(app, sample)
    sign_in(client, "admin")
    page = client.get(f"/cases/{case_id}").text
    assert f'href="/warehouse/cases/{case_id}"' in page and 'id="nudge"' in page
    assert 'id="take-over"' not in page
