"""The desk's screens beyond the main story: the queue's order and marks, batch approval,
COD refusal, unmatched parcels, offline refunds, counter-offers and escalation."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from aftersales.domain.case import ActionRequest
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console.sample import sample_order
from aftersales.service import cases
from aftersales.service.ports import Principal
from console.console_helpers import buyer_in, sign_in


def _set_clock(app, shop_id: str, delta: timedelta) -> None:
    """Move a sandbox shop's clock without firing anything: deadlines are then near or past."""
    with app.deps.uow() as uow:
        shop = uow.shops.get_shop(shop_id)
        uow.shops.move_clock(shop_id, shop.clock_at, app.deps.now_for(shop) + delta)
        uow.commit()


def _rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr class="([a-z ]*)" data-case="([0-9a-f-]{36})"', html)


def _open(app, sample, buyer: str, kind: str, price: int = 1500, method: str = "original") -> str:
    order = sample_order(app.deps, Principal(sample.shop_id, Role.admin), f"P-{buyer}", buyer, price=price)
    return cases.open_case(app.deps, Principal(sample.shop_id, Role.buyer, buyer_id=buyer), cases.NewCase(
        order.id, kind, "no_reason", ((order.lines[0].id, 1),), refund_method=method)).case.id


def test_queue_puts_overdue_first_in_red_and_marks_near_timeout(client, world) -> None:
    app, sample = world
    _set_clock(app, sample.shop_id, timedelta(days=1))
    newest = _open(app, sample, "buyer-new", "return_refund")
    sign_in(client, "agent")
    rows = _rows(client.get("/queue").text)
    assert rows[-1][1] == newest  # the most time left comes last
    _set_clock(app, sample.shop_id, timedelta(days=4, hours=18))  # older cases: past due; newest: near
    page = client.get("/queue").text
    rows = _rows(page)
    assert {c for c, _ in rows[:-1]} == {"overdue"} and rows[-1] == ("near", newest)
    assert "即将超时" in page and 'class="pill bad"' in page
    assert re.search(r'即将超时 1</a>', page)  # the header count
    assert "已超时" in page.split('id="counts"')[1][:600]
    only = _rows(client.get("/queue?overdue=0&state=requested&q=buyer-new").text)
    assert only == [("near", newest)]


def test_queue_search_by_order_waybill_and_sku(client) -> None:
    sign_in(client, "agent")
    assert len(_rows(client.get("/queue?q=TB-200").text)) == 1
    assert len(_rows(client.get("/queue?q=DRESS-RED-M").text)) == 3
    assert _rows(client.get("/queue?q=nothing-like-this").text) == []
    assert len(_rows(client.get("/queue?type=refund_only").text)) == 2


def test_batch_approve_previews_then_approves_only_eligible_cases(client, world) -> None:
    app, sample = world
    small = _open(app, sample, "buyer-small", "refund_only", price=1500)
    big = _open(app, sample, "buyer-big", "refund_only", price=9900)
    returned = sample.other_case_ids[1]  # a return_refund: never batch-approved
    token = sign_in(client, "agent")
    queue = client.get("/queue").text
    assert f'name="case_id" value="{small}"' in queue and f'name="case_id" value="{returned}"' not in queue
    data = {"csrf": token, "max_amount": "50", "case_id": [small, big, returned]}
    preview = client.post("/queue/batch", data=data)
    assert preview.status_code == 200
    assert preview.text.count('pill ok">同意并退款') == 1 and "超过金额上限" in preview.text
    assert "待商家处理" in client.get(f"/cases/{small}").text  # a preview changes nothing
    done = client.post("/queue/batch", data={**data, "confirm": "1", "case_id": [small]})
    assert done.status_code == 303
    assert "售后成功" in client.get(f"/cases/{small}").text
    assert 'pill info">待商家处理' in client.get(f"/cases/{big}").text


def test_cod_parcel_is_refused_with_one_click(client, world, desk_app) -> None:
    app, sample = world
    case_id = _open(app, sample, "buyer-cod", "return_refund")
    buyer = Principal(sample.shop_id, Role.buyer, buyer_id="buyer-cod")
    agent = Principal(sample.shop_id, Role.agent, actor_id="agent")
    cases.act(app.deps, agent, case_id, "approve")
    shipped = ActionRequest(carrier="中通", waybill="ZT500", prepaid=False)
    cases.act(app.deps, buyer, case_id, "ship_return", shipped)
    token = sign_in(client, "warehouse")
    scan = client.post("/warehouse/scan", data={"csrf": token, "waybill": "ZT500"})
    assert scan.headers["location"] == f"/warehouse/cases/{case_id}"
    page = client.get(scan.headers["location"]).text
    assert 'id="refuse-cod"' in page
    resp = client.post(f"/warehouse/cases/{case_id}/act/receive", data={"csrf": token, "prepaid": "0"})
    assert resp.status_code == 303
    page = client.get(f"/warehouse/cases/{case_id}").text
    assert "待买家退货" in page and "已完成：到付拒收" in page and 'id="refuse-cod"' not in page


def test_unknown_waybill_is_kept_and_attached_later(client, world) -> None:
    app, sample = world
    case_id = _open(app, sample, "buyer-typo", "return_refund")
    cases.act(app.deps, Principal(sample.shop_id, Role.agent, actor_id="a"), case_id, "approve")
    token = sign_in(client, "warehouse")
    resp = client.post("/warehouse/scan", data={"csrf": token, "waybill": "YT000111"})
    assert resp.headers["location"] == "/warehouse"
    assert "YT000111" in client.get("/warehouse").text
    parcels = client.get("/warehouse/parcels").text
    parcel_id = re.search(r'/warehouse/parcels/([0-9a-f-]{36})/attach', parcels).group(1)
    assert f'value="{case_id}"' in parcels
    resp = client.post(f"/warehouse/parcels/{parcel_id}/attach", data={"csrf": token, "case_id": case_id})
    assert resp.headers["location"] == f"/warehouse/cases/{case_id}"
    assert "YT000111" not in client.get("/warehouse/parcels").text


def test_offline_refund_waits_for_a_reference_from_finance(client, world) -> None:
    app, sample = world
    case_id = _open(app, sample, "buyer-offline", "refund_only", method="offline")
    cases.act(app.deps, Principal(sample.shop_id, Role.agent, actor_id="a"), case_id, "approve")
    token = sign_in(client, "finance")
    page = client.get("/finance").text
    assert 'id="offline"' in page and f"/finance/cases/{case_id}/mark_refunded" in page
    resp = client.post(f"/finance/cases/{case_id}/mark_refunded",
                       data={"csrf": token, "reference": "BANK-42"})
    assert resp.status_code == 303
    page = client.get("/finance").text
    assert 'id="offline"' not in page and "BANK-42" in page
    assert "BANK-42" in client.get("/finance/export.csv?method=offline").text
    assert client.get("/finance?method=balance").text.count("BANK-42") == 0


def test_csv_cells_cannot_become_formulas(client, world) -> None:
    app, sample = world
    case_id = _open(app, sample, "buyer-csv", "refund_only", method="offline")
    cases.act(app.deps, Principal(sample.shop_id, Role.agent, actor_id="a"), case_id, "approve")
    token = sign_in(client, "finance")
    client.post(f"/finance/cases/{case_id}/mark_refunded", data={"csrf": token, "reference": "=HYPERLINK(1)"})
    assert ",'=HYPERLINK(1)," in client.get("/finance/export.csv").text


def test_counter_offer_then_buyer_declines_and_escalates_after_rejection(client, world, desk_app) -> None:
    app, sample = world
    token = sign_in(client, "agent")
    case_id = sample.other_case_ids[0]  # buyer-2, refund-only, quality issue
    preview = client.post(f"/cases/{case_id}/act/counter_offer", data={"csrf": token, "amount": "5.00"})
    assert preview.status_code == 200 and "¥5.00" in preview.text
    client.post(f"/cases/{case_id}/act/counter_offer", data={"csrf": token, "amount": "5.00", "confirm": "1"})
    buyer = TestClient(desk_app[0], follow_redirects=False)
    sample.buyer_token = _token(app, sample.shop_id, "buyer-2")
    btoken = buyer_in(buyer, sample)
    page = buyer.get(f"/portal/cases/{case_id}").text
    assert 'id="offer"' in page and "¥5.00" in page
    buyer.post(f"/portal/cases/{case_id}/act/decline_offer", data={"csrf": btoken})
    assert 'id="offer"' not in buyer.get(f"/portal/cases/{case_id}").text
    resp = client.post(f"/cases/{case_id}/act/reject", data={
        "csrf": token, "reason_code": "no_quality_problem", "explanation": "照片未显示质量问题"})
    assert resp.status_code == 303
    page = buyer.get(f"/portal/cases/{case_id}").text
    assert "商家拒绝了您的申请" in page and "申请平台介入" in page  # Taobao allows it after a rejection
    buyer.post(f"/portal/cases/{case_id}/act/escalate", data={"csrf": btoken, "statement": "质量确有问题"})
    assert "平台介入处理中" in buyer.get(f"/portal/cases/{case_id}").text


def _token(app, shop_id: str, buyer_id: str) -> str:
    from aftersales.service import shops

    return shops.create_token(app.deps, shop_id, "buyer", buyer_id)


def test_sandbox_clock_advances_and_shows_what_fired_once(client, world) -> None:
    sample = world[1]
    token = sign_in(client, "admin")
    resp = client.post("/clock", data={"csrf": token, "amount": "6", "unit": "d"})
    assert resp.status_code == 303 and resp.headers["location"] == "/clock"
    page = client.get("/clock").text
    assert 'id="fired"' in page and page.count('href="/cases/') == len(sample.other_case_ids)
    assert 'id="fired"' not in client.get("/clock").text  # a reload does not advance again
    assert client.post("/clock", data={"csrf": token, "amount": "x", "unit": "d"}).status_code == 303
    assert "时长无效" in client.get("/clock").text
