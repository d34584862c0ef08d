"""Helpers for the API tests: shops with a token per role, and the calls every flow needs."""

from __future__ import annotations

import itertools
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aftersales.entrypoints.bootstrap import App
from aftersales.service.shops import create_shop, create_token
from servers import serving

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROLES = ("admin", "agent", "warehouse", "finance", "platform")
BUYER = "buyer-1"
_seq = itertools.count(1)


@dataclass
class Shop:
    id: str
    platform: str
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}



class Desk:
    """The calls every flow needs, through the HTTP API."""

    def __init__(self, client: TestClient, app: App) -> None:
        self.client, self.app = client, app

    def shop(self, platform: str = "taobao", *, sandbox: bool = True,
             buyers: tuple[str, ...] = (BUYER,)) -> Shop:
        record = create_shop(self.app.deps, f"{platform} shop {next(_seq)}", platform,
                             sandbox=sandbox)
        shop = Shop(record.shop.id, platform)
        for role in ROLES:
            shop.tokens[role] = create_token(self.app.deps, shop.id, role)
        for buyer in buyers:
            key = "buyer" if buyer == BUYER else f"buyer:{buyer}"
            shop.tokens[key] = create_token(self.app.deps, shop.id, "buyer", buyer)
        return shop

    def now(self, shop: Shop) -> datetime:
        res = self.client.get("/api/v1/clock", headers=shop.auth("admin"))
        assert res.status_code == 200, res.text
        return datetime.fromisoformat(res.json()["now"])

    def order_body(self, shop: Shop, *, buyer: str = BUYER, delivered_days_ago: float | None = 2,
                   completed_days_ago: float | None = None, lines: int = 1, price: int = 10000,
                   quantity: int = 1, now: datetime | None = None, **extra: Any) -> dict[str, Any]:
        at = now or self.now(shop)

        def ago(days: float | None) -> str | None:
            return None if days is None else (at - timedelta(days=days)).isoformat()

        body: dict[str, Any] = {
            "platform_order_id": f"P-{next(_seq)}", "buyer_id": buyer,
            "paid_at": ago(5), "shipped_at": ago(4), "delivered_at": ago(delivered_days_ago),
            "completed_at": ago(completed_days_ago), "payment_method": "alipay",
            "currency": "CNY", "freight": 0, "free_shipping": True,
            "lines": [{"sku": f"SKU-{i}", "name": f"商品 {i}", "unit_price": price,
                       "quantity": quantity, "paid_amount": price * quantity,
                       "attributes": {"colour": "black", "size": "M"}} for i in range(lines)],
        }
        body.update(extra)
        return {k: v for k, v in body.items() if v is not None}

    def order(self, shop: Shop, **kw: Any) -> dict[str, Any]:
        res = self.client.post("/api/v1/orders", json=self.order_body(shop, **kw),
                               headers=shop.auth("platform"))
        assert res.status_code == 201, res.text
        return res.json()

    def open_case(self, shop: Shop, order: dict[str, Any], *, role: str = "buyer",
                  type: str = "return_refund", reason: str = "no_reason",
                  expect: int | None = 201, **extra: Any) -> Any:
        """The new case (JSON); with `expect=None`, the response itself, unchecked."""
        body = {"order_id": order["id"], "type": type, "reason": reason,
                "lines": [{"line_id": ln["id"], "quantity": ln["quantity"]} for ln in order["lines"]],
                **extra}
        res = self.client.post("/api/v1/cases", json=body, headers=shop.auth(role))
        if expect is None:
            return res
        assert res.status_code == expect, res.text
        return res.json()

    def act(self, shop: Shop, case_id: str, action: str, role: str,
            body: dict[str, Any] | None = None, expect: int | None = 200,
            headers: dict[str, str] | None = None) -> Any:
        res = self.client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body or {},
                               headers={**shop.auth(role), **(headers or {})})
        if expect is not None:
            assert res.status_code == expect, f"{action} as {role}: {res.status_code} {res.text}"
        return res

    def case(self, shop: Shop, case_id: str, role: str = "agent") -> dict[str, Any]:
        res = self.client.get(f"/api/v1/cases/{case_id}", headers=shop.auth(role))
        assert res.status_code == 200, res.text
        return res.json()

    def advance(self, shop: Shop, by: str) -> dict[str, Any]:
        res = self.client.post("/api/v1/clock/advance", json={"by": by}, headers=shop.auth("admin"))
        assert res.status_code == 200, res.text
        return res.json()



def assert_error(res: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Every error answers {"error": {"code", "message"}}, nothing else at the top."""
    assert res.status_code == status, res.text
    body = res.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def raw_get(sock: socket.socket, path: str = "/") -> str:
    """GET `path` on a connected socket, the body read by its Content-Length (a test of how
    connections land on server processes needs the socket itself, not a client's pool)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        body += chunk
    return body.decode()


@contextmanager
def served_api(database_url: str, data_dir: Path, **env: str) -> Iterator[str]:
    """`uvicorn` serving the app (one process) on `database_url`, `env` added to its
    environment; its base URL once /api/v1/health answers. Stopped afterwards."""
    with serving(lambda port: [
            sys.executable, "-m", "uvicorn", "aftersales.entrypoints.api.app:create_app",
            "--factory", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            {"AFTERSALES_DATABASE_URL": database_url, "AFTERSALES_DATA_DIR": str(data_dir),
             **env}) as base:
        yield base
