"""The whole after-sales story through the console's forms (fast, no browser)."""

from __future__ import annotations

import re

from aftersales.entrypoints.console.sample import Sample
from console.console_helpers import buyer_in, csrf_of, png, sign_in


def _case_id(location: str) -> str:
    found = re.search(r"/cases/([0-9a-f-]{36})", location)
    assert found, location
    return found.group(1)


def test_story_across_roles(client, world, desk_app) -> None:
    _, sample = world
    from fastapi.testclient import TestClient

    buyer = TestClient(desk_app[0], follow_redirects=False)
    token = buyer_in(buyer, sample)
    # the buyer opens a return with a photo
    new = buyer.get(f"/portal/orders/{sample.order_id}/new")
    assert new.status_code == 200
    line_id = re.search(r'name="qty_([0-9a-f-]{36})"', new.text).group(1)
    resp = buyer.post(f"/portal/orders/{sample.order_id}/cases",
                      data={"csrf": token, "type": "return_refund", "reason": "quality_issue",
                            f"qty_{line_id}": "1", "description": "裙子开线了", "refund_method": "original"},
                      files={"photos": ("seam.png", png(), "image/png")})
    assert resp.status_code == 303, resp.text
    case_id = _case_id(resp.headers["location"])
    page = buyer.get(f"/portal/cases/{case_id}").text
    assert "待商家处理" in page or "等待商家处理" in page
    assert f"/portal/cases/{case_id}/evidence/" in page

    # the agent sees it and approves after the preview
    agent_csrf = sign_in(client, "agent")
    queue = client.get("/queue").text
    assert case_id in queue
    case_page = client.get(f"/cases/{case_id}").text
    assert "裙子开线了" in case_page and "<img" in case_page
    preview = client.post(f"/cases/{case_id}/act/approve", data={"csrf": agent_csrf, "amount": "199.00",
                                                                 "refund_method": "original"})
    assert preview.status_code == 200 and "退款预览" in preview.text and 'name="confirm"' in preview.text
    state_before = client.get(f"/cases/{case_id}").text
    assert 'pill info">待商家处理' in state_before  # nothing changed before the confirmation
    done = client.post(f"/cases/{case_id}/act/approve", data={"csrf": agent_csrf, "amount": "199.00",
                                                              "refund_method": "original", "confirm": "1"})
    assert done.status_code == 303
    assert 'pill info">待买家退货' in client.get(f"/cases/{case_id}").text

    # the buyer enters the waybill
    resp = buyer.post(f"/portal/cases/{case_id}/act/ship_return",
                      data={"csrf": token, "carrier": "顺丰", "waybill": "SF1234567890", "prepaid": "1"})
    assert resp.status_code == 303
    assert "SF1234567890" in buyer.get(f"/portal/cases/{case_id}").text

    # the warehouse scans, receives and inspects
    wh = TestClient(desk_app[0], follow_redirects=False)
    wh_csrf = sign_in(wh, "warehouse")
    resp = wh.post("/warehouse/scan", data={"csrf": wh_csrf, "waybill": "sf1234567890"})
    assert resp.status_code == 303 and resp.headers["location"] == f"/warehouse/cases/{case_id}"
    assert wh.post(f"/warehouse/cases/{case_id}/act/receive",
                   data={"csrf": wh_csrf, "prepaid": "1"}).status_code == 303
    form = {"csrf": wh_csrf, "verdict": "accept", "condition": "new", "sku_matches": "1", "tags": "1",
            "dust_bag": "1", "packaging": "1", "accessories": "1", "gifts_returned": "1",
            f"qty_{line_id}": "1", f"qty_expected_{line_id}": "1", f"disp_{line_id}": "refurbish",
            "quality_problem_found": "yes"}
    preview = wh.post(f"/warehouse/cases/{case_id}/act/inspect", data=form)
    assert preview.status_code == 200 and 'name="confirm"' in preview.text
    done = wh.post(f"/warehouse/cases/{case_id}/act/inspect", data={**form, "confirm": "1"})
    assert done.status_code == 303

    # finance sees the refund
    fin = TestClient(desk_app[0], follow_redirects=False)
    sign_in(fin, "finance")
    ledger = fin.get("/finance").text
    assert case_id[-6:] in ledger and "成功" in ledger
    csv = fin.get("/finance/export.csv")
    assert csv.status_code == 200 and case_id in csv.text

    # the buyer rates
    assert "售后已完成" in buyer.get(f"/portal/cases/{case_id}").text
    assert buyer.post(f"/portal/cases/{case_id}/rate", data={"csrf": token, "stars": "5"}).status_code == 303
    assert "★★★★★" in buyer.get(f"/portal/cases/{case_id}").text


def test_english_switch_and_sample(client, world) -> None:
    sample: Sample = world[1]
    sign_in(client, "admin")
    page = client.get("/queue?lang=en")
    assert "Open cases" in page.text and page.cookies.get("as_lang") == "en"
    assert "Open cases" in client.get("/queue").text
    assert "待处理售后单" in client.get("/queue?lang=zh-CN").text
    assert csrf_of(client.get(f"/cases/{sample.other_case_ids[0]}").text)
