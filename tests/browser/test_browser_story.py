"""One after-sales story across every role, in a real browser, with a screenshot of each page.

Buyer opens a return with a photo → the agent finds it at the top of the queue and
approves after the refund preview → the buyer enters the waybill → the warehouse scans it
(the scanner types and presses Enter) and inspects → finance sees the refund → the buyer
rates. The screenshots land in test-artifacts/screenshots/ to be looked at: Chinese must
render as text, not boxes.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console.sample import PASSWORD
from aftersales.service import cases
from aftersales.service.ports import Principal

pytestmark = pytest.mark.browser
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _png(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    w = h = 64
    raw = b"".join(b"\x00" + bytes((200, 40 + y * 3, 60)) * w for y in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


class Watch:
    """Collects console errors and failed requests of a page: a clean page has none."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))


def _page(browser: Any, viewport: dict[str, int]) -> tuple[Any, Watch]:
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    context.set_default_timeout(15000)
    page = context.new_page()
    return page, Watch(page)


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_return_story_across_roles(server: Any, browser: Any, shots: Path, tmp_path: Path) -> None:
    base, sample = server.url, server.sample
    photo = _png(tmp_path / "seam.png")

    # 1. the buyer opens a return with a photo (on a phone)
    buyer, bw = _page(browser, PHONE)
    buyer.goto(f"{base}/portal/login?token={sample.buyer_token}")
    buyer.screenshot(path=shots / "00-buyer-link.png", full_page=True)
    buyer.click("#portal-continue")
    assert buyer.url.endswith("/portal")
    buyer.screenshot(path=shots / "01-buyer-orders.png", full_page=True)
    buyer.click("text=申请售后")
    buyer.select_option("#type", "return_refund")
    buyer.select_option("#reason", "quality_issue")
    buyer.fill("#description", "裙摆开线，见照片。<b>请尽快处理</b>")
    buyer.set_input_files("#photos", str(photo))
    buyer.screenshot(path=shots / "02-buyer-new-request.png", full_page=True)
    buyer.click("text=提交申请")
    buyer.wait_for_url(re.compile(r"/portal/cases/"))
    case_id = buyer.url.rsplit("/", 1)[1]
    assert buyer.locator(".gallery img").count() == 1
    assert buyer.locator(".desc").first.inner_text() == "裙摆开线，见照片。<b>请尽快处理</b>"
    buyer.screenshot(path=shots / "03-buyer-case-requested.png", full_page=True)

    # two later requests from other buyers arrive: their deadlines are later than ours
    _more_cases(server)

    # 2. the agent finds it at the top of the queue, previews the refund and approves
    agent, aw = _page(browser, LAPTOP)
    _sign_in(agent, base, "agent")
    assert agent.url.endswith("/queue")
    rows = agent.locator("#queue tbody tr")
    assert rows.count() >= 3
    assert rows.first.get_attribute("data-case") == case_id
    countdown = rows.first.locator("[data-left]").inner_text()
    assert countdown.startswith("剩余")
    agent.screenshot(path=shots / "04-agent-queue.png", full_page=True)
    rows.first.locator("a", has_text="打开").click()
    agent.wait_for_url(f"{base}/cases/{case_id}")
    assert agent.locator("#description").inner_text() == "裙摆开线，见照片。<b>请尽快处理</b>"
    assert agent.locator("#evidence img").count() == 1
    assert agent.locator("#recommendation .rules li").count() >= 1
    assert agent.locator("form[data-action=approve]").count() == 1
    assert agent.locator("form[data-action=inspect]").count() == 0  # only what this role may do now
    agent.screenshot(path=shots / "05-agent-case.png", full_page=True)
    agent.locator("form[data-action=approve] button[type=submit]").click()
    agent.wait_for_selector("#confirm-form")
    assert "退款合计" in agent.content()
    agent.screenshot(path=shots / "06-agent-refund-preview.png", full_page=True)
    agent.click("#confirm-form button[type=submit]")
    agent.wait_for_url(f"{base}/cases/{case_id}")
    assert "待买家退货" in agent.locator("h1").inner_text()

    # 3. the buyer enters the return waybill
    buyer.reload()
    buyer.fill("#carrier", "顺丰速运")
    buyer.fill("#waybill", "SF7788990011")
    buyer.click("#ship-form button[type=submit]")
    buyer.wait_for_load_state("networkidle")
    assert "SF7788990011" in buyer.content()
    buyer.screenshot(path=shots / "07-buyer-shipped.png", full_page=True)

    # 4. the warehouse scans (a scanner types and presses Enter) and inspects, on a phone
    wh, ww = _page(browser, PHONE)
    _sign_in(wh, base, "warehouse")
    assert wh.url.endswith("/warehouse")
    assert wh.evaluate("document.activeElement && document.activeElement.id") == "waybill"
    wh.screenshot(path=shots / "08-warehouse-scan.png", full_page=True)
    wh.keyboard.type("SF7788990011")
    wh.keyboard.press("Enter")
    wh.wait_for_url(f"{base}/warehouse/cases/{case_id}")
    wh.screenshot(path=shots / "09-warehouse-receive.png", full_page=True)
    wh.click("#receive-prepaid")
    wh.wait_for_selector("#inspect-form")
    wh.set_input_files("#inspect-form input[name=photos]", str(photo))
    wh.screenshot(path=shots / "10-warehouse-inspection.png", full_page=True)
    wh.click("#inspect-form button[type=submit]")
    wh.wait_for_selector("#confirm-form")
    wh.screenshot(path=shots / "11-warehouse-inspection-preview.png", full_page=True)
    wh.click("#confirm-form button[type=submit]")
    wh.wait_for_url(f"{base}/warehouse/cases/{case_id}")
    assert "售后成功" in wh.locator("h1").inner_text()

    # 5. finance sees the refund in the ledger
    fin, fw = _page(browser, LAPTOP)
    _sign_in(fin, base, "finance")
    assert fin.url.endswith("/finance")
    ledger = fin.locator("#ledger tbody").inner_text()
    assert case_id[-6:] in ledger and "¥199.00" in ledger
    fin.screenshot(path=shots / "12-finance-ledger.png", full_page=True)

    # 6. the buyer rates the service
    buyer.reload()
    assert "售后已完成" in buyer.content()
    buyer.check("#rate-form input[value='5']")
    buyer.click("#rate-form button[type=submit]")
    buyer.wait_for_load_state("networkidle")
    assert "★★★★★" in buyer.content()
    buyer.screenshot(path=shots / "13-buyer-rated.png", full_page=True)

    for watch in (bw, aw, ww, fw):
        assert watch.problems == []


def _more_cases(server: Any) -> None:
    from aftersales.entrypoints.console.sample import sample_order

    deps = server.app.deps
    sid = server.sample.shop_id
    admin = Principal(sid, Role.admin, actor_id="admin")
    for i, kind in enumerate(("return_refund", "refund_only")):
        buyer_id = f"buyer-late-{i}"
        o = sample_order(deps, admin, f"TB-LATE-{i}", buyer_id, price=1500 + 100 * i)
        cases.open_case(deps, Principal(sid, Role.buyer, buyer_id=buyer_id), cases.NewCase(
            o.id, kind, "no_reason", ((o.lines[0].id, 1),), description="later request"))


def test_dashboard_workflow_clock_and_english(server: Any, browser: Any, shots: Path) -> None:
    base = server.url
    admin, watch = _page(browser, LAPTOP)
    _sign_in(admin, base, "admin")
    admin.goto(base + "/dashboard")
    admin.wait_for_selector("body[data-charts-ready='1']")
    assert admin.locator("canvas").count() == 4
    admin.screenshot(path=shots / "14-dashboard.png", full_page=True)
    admin.goto(base + "/workflow")
    admin.wait_for_selector("body[data-diagram-ready='1']")
    assert admin.locator(".mermaid svg").count() == 1
    admin.screenshot(path=shots / "15-workflow.png", full_page=False)
    admin.goto(base + "/clock")
    admin.fill("input[name=amount]", "6")
    admin.select_option("select[name=unit]", "d")
    admin.click("form[action='/clock'] button[type=submit]")
    admin.wait_for_selector("#fired")
    admin.screenshot(path=shots / "16-sandbox-clock.png", full_page=True)
    admin.goto(base + "/queue?lang=en")
    assert "Open cases" in admin.locator("h1").inner_text()
    admin.screenshot(path=shots / "17-queue-english.png", full_page=True)
    assert watch.problems == []
