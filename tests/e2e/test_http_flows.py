"""The platforms' main flows through real HTTP, driven by sandbox clocks.

The server runs as a subprocess (`aftersales serve --workers 2`, or uvicorn on the app
factory when the CLI is not installed) on a free port of 127.0.0.1, over a migrated SQLite
file: two processes share the port, as a production server would (each test shop keeps one
connection, which either process may have accepted; the desk's test signs in once and
then opens fresh connections, which land on both).
Shops and tokens are created through the service layer on the same database first.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service.shops import create_shop, create_token
from servers import serving

pytestmark = pytest.mark.xdist_group("http_server")
ROLES = ("admin", "agent", "warehouse", "finance", "platform")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
ACCEPT = {"verdict": "accept", "condition": "new", "sku_matches": True,
          "accessories_complete": True, "gifts_returned": True}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(port: int) -> list[str]:
    cli = Path(sys.executable).parent / "aftersales"
    if cli.exists():
        return [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    return [sys.executable, "-m", "uvicorn", "--factory", "--workers", "2",
            "aftersales.entrypoints.api.app:create_app", "--host", "127.0.0.1", "--port", str(port)]


@dataclass
class Server:
    url: str
    database: str
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)  # closed when the server stops

    def shop(self, platform: str, buyer: str = "buyer-1") -> Shop:
        app = bootstrap(self.database)
        try:
            record = create_shop(app.deps, f"e2e {platform}", platform, sandbox=True)
            tokens = {role: create_token(app.deps, record.shop.id, role) for role in ROLES}
            tokens["buyer"] = create_token(app.deps, record.shop.id, "buyer", buyer)
        finally:
            app.engine.dispose()
        client = httpx.Client(base_url=f"{self.url}/api/v1", timeout=30)
        self.clients.append(client)
        return Shop(client, tokens, buyer)


@dataclass
class Shop:
    http: httpx.Client
    tokens: dict[str, str]
    buyer: str

    def call(self, method: str, path: str, role: str = "admin", expect: int | None = None,
             **kw: Any) -> Any:
        res = self.http.request(method, path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kw)
        if expect is not None:
            assert res.status_code == expect, f"{method} {path} as {role}: {res.status_code} {res.text}"
        return res.json()

    def now(self) -> datetime:
        return datetime.fromisoformat(self.call("GET", "/clock", expect=200)["now"])

    def order(self, *, delivered: float | None = 2, completed: float | None = None,
              price: int = 10000, currency: str = "CNY", lines: int = 1) -> dict[str, Any]:
        now = self.now()

        def ago(days: float | None) -> str | None:
            return None if days is None else (now - timedelta(days=days)).isoformat()

        body = {"platform_order_id": f"E2E-{time.monotonic_ns()}", "buyer_id": self.buyer,
                "paid_at": ago(6), "shipped_at": ago(5), "delivered_at": ago(delivered),
                "completed_at": ago(completed), "payment_method": "alipay", "currency": currency,
                "freight": 0, "free_shipping": True,
                "lines": [{"sku": f"SKU-{i}", "name": f"item {i}", "unit_price": price, "quantity": 1,
                           "paid_amount": price} for i in range(lines)]}
        sent = {k: v for k, v in body.items() if v is not None}
        return self.call("POST", "/orders", "platform", 201, json=sent)

    def open(self, order: dict[str, Any], type: str, reason: str, expect: int = 201,
             lines: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        body = {"order_id": order["id"], "type": type, "reason": reason,
                "lines": lines if lines is not None else
                [{"line_id": ln["id"], "quantity": 1} for ln in order["lines"]], **extra}
        return self.call("POST", "/cases", "buyer", expect, json=body)

    def act(self, case: dict[str, Any], action: str, role: str, body: dict[str, Any] | None = None,
            expect: int = 200) -> dict[str, Any]:
        return self.call("POST", f"/cases/{case['id']}/actions/{action}", role, expect, json=body or {})

    def get(self, case: dict[str, Any]) -> dict[str, Any]:
        return self.call("GET", f"/cases/{case['id']}", "agent", 200)

    def advance(self, by: str) -> dict[str, Any]:
        return self.call("POST", "/clock/advance", "admin", 200, json={"by": by})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("e2e")
    database = f"sqlite:///{root / 'e2e.db'}"
    app = bootstrap(database)
    upgrade(app.engine)
    app.engine.dispose()
    env = {"AFTERSALES_DATABASE_URL": database, "AFTERSALES_DATA_DIR": str(root)}
    with serving(_command, env, log=root / "server.log") as url:
        server = Server(url, database)
        try:
            yield server
        finally:
            for client in server.clients:
                client.close()


def fired_for(result: dict[str, Any], case: dict[str, Any]) -> list[str]:
    return [f["outcome"] for f in result["fired"] if f["case_id"] == case["id"]]


def system_event(case: dict[str, Any]) -> dict[str, Any]:
    """The last outcome the system performed on the case."""
    return next(e for e in reversed(case["events"]) if e["actor"] == "system"
                and (e["from_state"] != e["to_state"] or e["kind"] == "flag_overdue"))


# --- Kuaishou -------------------------------------------------------------------------------

def test_kuaishou_48h_review_auto_approves(server: Server) -> None:
    shop = server.shop("kuaishou")
    case = shop.open(shop.order(), "refund_only", "not_received")
    assert shop.advance("47h")["fired"] == []
    result = shop.advance("2h")
    assert fired_for(result, case) == ["auto_approve"]
    after = shop.get(case)
    assert after["state"] == "completed"
    event = next(e for e in after["events"] if e["actor"] == "system" and e["kind"] == "approve")
    assert "Kuaishou: merchant did not review within 48 h" in event["explanation"]
    refunds = shop.call("GET", "/refunds", "finance", 200, params={"case_id": case["id"]})["items"]
    assert [r["status"] for r in refunds] == ["succeeded"]


def test_kuaishou_10d_buyer_shipping_auto_closes(server: Server) -> None:
    shop = server.shop("kuaishou")
    case = shop.open(shop.order(), "return_refund", "no_reason")
    shop.act(case, "approve", "agent")
    assert fired_for(shop.advance("9d"), case) == []
    assert fired_for(shop.advance("25h"), case) == ["auto_close"]
    after = shop.get(case)
    assert after["state"] == "closed"
    assert "10 days" in system_event(after)["explanation"]


def test_kuaishou_receipt_timeout_refunds(server: Server) -> None:
    shop = server.shop("kuaishou")
    case = shop.open(shop.order(), "return_refund", "no_reason")
    shop.act(case, "approve", "agent")
    shop.act(case, "ship_return", "buyer", {"carrier": "SF", "waybill": "SF-KS-1", "prepaid": True})
    result = shop.advance("8d")
    assert fired_for(result, case) == ["auto_confirm_receipt"]
    after = shop.get(case)
    assert after["state"] == "completed"
    assert any(e["kind"] == "confirm_receipt" and e["actor"] == "system" for e in after["events"])
    refunds = shop.call("GET", "/refunds", "finance", 200, params={"case_id": case["id"]})["items"]
    assert sum(r["amount"]["amount"] for r in refunds if r["kind"] == "goods") == 10000


def test_kuaishou_reissue_overdue_is_flagged(server: Server) -> None:
    shop = server.shop("kuaishou")
    case = shop.open(shop.order(), "reissue", "missing_item")
    shop.act(case, "approve", "agent")
    assert fired_for(shop.advance("25h"), case) == ["flag_overdue"]
    after = shop.get(case)
    assert after["state"] == "awaiting_reshipment" and after["overdue"] is True
    flagged = shop.call("GET", "/cases", "agent", 200, params={"overdue": "true"})["items"]
    assert case["id"] in [c["id"] for c in flagged]
    assert shop.act(case, "reship", "warehouse", {"carrier": "YTO", "waybill": "YT1"})["state"] == "completed"


# --- Taobao ---------------------------------------------------------------------------------

def test_taobao_window_closes_15_days_after_completion(server: Server) -> None:
    shop = server.shop("taobao")
    late = shop.open(shop.order(delivered=20, completed=16), "refund_only", "quality_issue", expect=422)
    assert late["error"]["code"] == "after_sales_window_closed"
    shop.open(shop.order(delivered=20, completed=10), "refund_only", "quality_issue")


def test_taobao_once_per_line(server: Server) -> None:
    shop = server.shop("taobao")
    order = shop.order(lines=2)
    first_line = [{"line_id": order["lines"][0]["id"], "quantity": 1}]
    case = shop.open(order, "refund_only", "not_as_described", lines=first_line)
    shop.act(case, "approve", "agent")
    again = shop.open(order, "refund_only", "not_as_described", lines=first_line, expect=422)
    assert again["error"]["code"] == "after_sales_already_used"
    shop.open(order, "refund_only", "not_as_described",
              lines=[{"line_id": order["lines"][1]["id"], "quantity": 1}])


def test_taobao_5_day_escalation_window_then_auto_close(server: Server) -> None:
    shop = server.shop("taobao")
    case = shop.open(shop.order(), "return_refund", "quality_issue")
    shop.act(case, "reject", "agent", {"reason_code": "no_defect", "explanation": "未发现质量问题"})
    assert fired_for(shop.advance("4d"), case) == []
    assert fired_for(shop.advance("25h"), case) == ["auto_close"]
    assert shop.get(case)["state"] == "closed"
    late = shop.act(case, "escalate", "buyer", {"statement": "too late?"}, expect=409)
    assert late["error"]["code"] == "invalid_transition"


def test_taobao_dispute_and_ruling(server: Server) -> None:
    shop = server.shop("taobao")
    won = shop.open(shop.order(), "refund_only", "quality_issue")
    lost = shop.open(shop.order(), "refund_only", "quality_issue")
    for case in (won, lost):
        shop.act(case, "reject", "agent", {"reason_code": "no_defect", "explanation": "无质量问题"})
        escalated = shop.act(case, "escalate", "buyer", {"statement": "开线了 / it came apart"})
        assert escalated["state"] == "disputed"
    refused = shop.act(won, "rule", "agent", {"in_favor_of": "buyer"}, expect=403)
    assert refused["error"]["code"] == "forbidden"
    ruled = shop.act(won, "rule", "platform",
                     {"in_favor_of": "buyer", "amount": {"amount": 8000, "currency": "CNY"}})
    assert ruled["state"] == "completed" and ruled["approved_amount"]["amount"] == 8000
    assert shop.act(lost, "rule", "platform", {"in_favor_of": "merchant"})["state"] == "closed"
    now = shop.now()
    report = shop.call("GET", "/reports/summary", "admin", 200, params={
        "from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()})
    assert report["disputes"]["count"] == 2


# --- AliExpress -----------------------------------------------------------------------------

def test_aliexpress_5_day_auto_refund_at_the_buyers_amount(server: Server) -> None:
    shop = server.shop("aliexpress")
    order = shop.order(currency="USD", price=5000)
    case = shop.open(order, "refund_only", "not_as_described",
                     requested_amount={"amount": 3000, "currency": "USD"})
    assert fired_for(shop.advance("119h"), case) == []
    assert fired_for(shop.advance("2h"), case) == ["auto_refund"]
    after = shop.get(case)
    assert after["state"] == "completed"
    assert after["approved_amount"] == {"amount": 3000, "currency": "USD"}
    refunds = shop.call("GET", "/refunds", "finance", 200, params={"order_id": order["id"]})["items"]
    assert [r["amount"] for r in refunds] == [{"amount": 3000, "currency": "USD"}]


def test_aliexpress_10_day_pay_seller(server: Server) -> None:
    shop = server.shop("aliexpress")
    case = shop.open(shop.order(currency="USD"), "return_refund", "not_as_described")
    shop.act(case, "approve", "agent")
    assert fired_for(shop.advance("11d"), case) == ["pay_seller"]
    after = shop.get(case)
    assert after["state"] == "closed"
    assert shop.call("GET", "/refunds", "finance", 200, params={"case_id": case["id"]})["items"] == []


# --- platform sync --------------------------------------------------------------------------

def test_platform_sync_versions_and_platform_deadline(server: Server) -> None:
    shop = server.shop("taobao")
    order = shop.order()
    due = (shop.now() + timedelta(hours=3)).replace(microsecond=0)

    def sync(status: str, version: int, expect: int, **extra: Any) -> dict[str, Any]:
        return shop.call("POST", "/cases", "platform", expect, json={
            "order_id": order["id"], "type": "return_refund", "reason": "not_as_described",
            "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}],
            "platform_case_id": "TB-REFUND-1", "platform_status": status,
            "platform_version": version, **extra})

    case = sync("WAIT_SELLER_AGREE", 10, 201, platform_deadline=due.isoformat())
    assert case["state"] == "requested"
    assert case["deadline"]["source"] == "platform"
    assert datetime.fromisoformat(case["deadline"]["at"]) == due
    assert sync("WAIT_BUYER_RETURN_GOODS", 9, 200)["state"] == "requested"
    assert sync("WAIT_BUYER_RETURN_GOODS", 10, 200)["state"] == "requested"
    fired = shop.advance("4h")
    assert [f["case_id"] for f in fired["fired"]] == [case["id"]]
    moved = shop.get(case)
    assert moved["state"] != "requested"
    synced = sync("WAIT_SELLER_CONFIRM_GOODS", 11, 200)
    assert synced["state"] == "return_in_transit"
    assert synced["id"] == case["id"]
    assert any(e["kind"] == "platform_sync" and e["actor"] == "platform" for e in synced["events"])


def test_full_return_flow_and_idempotent_retry(server: Server) -> None:
    shop = server.shop("taobao")
    case = shop.open(shop.order(), "return_refund", "no_reason")
    headers = {"Authorization": f"Bearer {shop.tokens['agent']}", "Idempotency-Key": "e2e-approve"}
    first = shop.http.post(f"/cases/{case['id']}/actions/approve", json={}, headers=headers)
    again = shop.http.post(f"/cases/{case['id']}/actions/approve", json={}, headers=headers)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    shop.act(case, "ship_return", "buyer", {"carrier": "SF", "waybill": "SF-E2E-1", "prepaid": True})
    scanned = shop.call("POST", "/parcels/scan", "warehouse", 200, json={"waybill": "SF-E2E-1"})
    assert scanned["id"] == case["id"]
    shop.act(case, "receive", "warehouse", {"prepaid": True})
    done = shop.act(case, "inspect", "warehouse", ACCEPT)
    assert done["state"] == "completed"
    stars = shop.call("POST", f"/cases/{case['id']}/rating", "buyer", 200, json={"stars": 5})
    assert stars["rating"] == 5


def _connection_holders(port: int) -> set[int]:
    """Pids of the processes holding established TCP connections on local `port` (/proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "01":
                inodes.add(cols[9])
    holders = set()
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc_dir / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            holders.add(int(proc_dir.name))
    return holders


def test_the_desk_keeps_its_sessions_across_server_processes(server: Server) -> None:
    """Signed in once, a person stays signed in whichever process serves the next page,
    and signing out through one process ends the session in all of them."""
    from aftersales.entrypoints.console.sample import PASSWORD
    from aftersales.entrypoints.console.staff import create_user

    app = bootstrap(server.database)
    try:
        shop = create_shop(app.deps, "e2e desk", "taobao", sandbox=True)
        create_user(app.deps, shop.shop.id, "e2e-agent", PASSWORD, "agent")
    finally:
        app.engine.dispose()
    port = int(server.url.rsplit(":", 1)[1])
    first = httpx.Client(base_url=server.url, timeout=30)
    token = CSRF.search(first.get("/login").text)
    assert token is not None
    signed = first.post("/login", data={"csrf": token.group(1), "username": "e2e-agent",
                                        "password": PASSWORD})
    assert signed.status_code == 303, signed.text
    clients = [first]
    while len(_connection_holders(port) - {os.getpid()}) < 2 and len(clients) < 60:
        client = httpx.Client(base_url=server.url, timeout=30, cookies=first.cookies)
        clients.append(client)
        client.get("/api/v1/health")  # opens the connection, which one process accepted
    assert len(_connection_holders(port) - {os.getpid()}) >= 2, "one process took every connection"
    for client in clients:
        page = client.get("/queue")
        assert page.status_code == 200 and "e2e-agent" in page.text, page.status_code
    csrf = CSRF.search(first.get("/queue").text)
    assert csrf is not None
    assert first.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
    for client in clients[1:]:
        gone = client.get("/queue")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        client.close()
    first.close()
