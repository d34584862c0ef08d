"""fastpath.py answers exactly as the FastAPI routes it stands in front of.

The same story — a case opened, acted on, refused in every way a client can get wrong —
runs on two apps over one database: the usual one (fast path on) and one with the fast
path off, each in its own shop. Every answer must match: status, content type, the
WWW-Authenticate challenge and the body, once ids and times are blanked.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.api.settings import ApiSettings
from aftersales.entrypoints.bootstrap import App

from .helpers import ROLES, Desk

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")
ACTOR = re.compile(r"\b(admin|agent|warehouse|finance|platform|buyer):[0-9a-f]{8}\b")  # role:token


@pytest.fixture(scope="module")
def slow_client(api_app: App, settings: ApiSettings) -> Iterator[TestClient]:
    web = create_app(api_app, settings=replace(settings, fast_path=False))
    with TestClient(web, raise_server_exceptions=False) as tc:
        yield tc


def _blank(text: str) -> str:
    text = re.sub(r"sandbox-[0-9a-f]{12}", "sandbox-<ref>", text)  # the fake provider's reference
    return ACTOR.sub(r"\1:<token>", TIME.sub("<time>", UUID.sub("<id>", text)))


def _story(desk: Desk, platform: str) -> list[tuple[str, int, str, str | None, str]]:
    """Every answer of the story as (step, status, content type, challenge, blanked body)."""
    shop = desk.shop(platform)
    client = desk.client
    answers: list[tuple[str, int, str, str | None, str]] = []

    def post(step: str, path: str, role: str | None, body: Any = None, *, raw: str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        sent = {**(shop.auth(role) if role else {}), **(headers or {})}
        if raw is not None:
            res = client.post("/api/v1" + path, content=raw,
                              headers={**sent, "Content-Type": "application/json"})
        else:
            res = client.post("/api/v1" + path, json=body, headers=sent)
        answers.append((step, res.status_code, res.headers.get("content-type", ""),
                        res.headers.get("www-authenticate"), _blank(res.text)))
        return res

    for role in (*ROLES, "buyer"):  # a looked-up token is cached: the fast path's condition
        client.get("/api/v1/cases", headers=shop.auth(role))
    order = desk.order(shop, lines=2)
    lines = [{"line_id": ln["id"], "quantity": 1} for ln in order["lines"]]
    opened = post("open", "/cases", "buyer", {"order_id": order["id"], "type": "return_refund",
                                              "reason": "no_reason", "lines": lines[:1]})
    case = opened.json()["id"]
    act = f"/cases/{case}/actions/"
    post("open again, same line", "/cases", "buyer", {"order_id": order["id"],
                                                      "type": "return_refund",
                                                      "reason": "no_reason", "lines": lines[:1]})
    post("open: no reason", "/cases", "buyer", {"order_id": order["id"], "type": "refund_only"})
    post("open: finance may not", "/cases", "finance", {"order_id": order["id"],
                                                        "type": "refund_only", "reason": "no_reason"})
    post("open: unknown order", "/cases", "agent", {"order_id": "nope", "type": "refund_only",
                                                    "reason": "no_reason"})
    post("open: unknown type", "/cases", "buyer", {"order_id": order["id"], "type": "gift",
                                                   "reason": "no_reason"})
    post("approve as warehouse", act + "approve", "warehouse", {})
    post("approve: bad amount", act + "approve", "agent", {"amount": {"amount": -5}})
    post("approve: malformed", act + "approve", "agent", raw="{not json")
    post("approve: no token", act + "approve", None, {})
    post("approve: forged token", act + "approve", None, {},
         headers={"Authorization": "Bearer forged"})
    post("approve: unknown case", "/cases/no-such-case/actions/approve", "agent", {})
    post("approve: id that cannot be", "/cases/a%20b/actions/approve", "agent", {})
    post("unknown action", act + "teleport", "agent", {})
    post("approve", act + "approve", "agent", {"note": "好的"})
    post("approve twice", act + "approve", "agent", {})
    post("ship: no waybill", act + "ship_return", "buyer", {"carrier": "SF", "prepaid": True})
    post("ship: extra field", act + "ship_return", "buyer",
         {"carrier": "SF", "waybill": "SF1", "prepaid": True, "colour": "red"})
    post("ship", act + "ship_return", "buyer", {"carrier": "SF", "waybill": "SF1", "prepaid": True})
    post("receive, keyed", act + "receive", "warehouse", {"prepaid": True},
         headers={"Idempotency-Key": f"k-{shop.id}"})
    post("receive, keyed again", act + "receive", "warehouse", {"prepaid": True},
         headers={"Idempotency-Key": f"k-{shop.id}"})
    post("inspect: verdict missing", act + "inspect", "warehouse", {"condition": "new"})
    post("inspect", act + "inspect", "warehouse",
         {"verdict": "accept", "condition": "new", "sku_matches": True,
          "accessories_complete": True, "gifts_returned": True})
    other = desk.shop(platform)
    client.get("/api/v1/cases", headers=other.auth("agent"))
    res = client.post(f"/api/v1{act}cancel", json={}, headers=other.auth("agent"))
    answers.append(("another shop's case", res.status_code, res.headers["content-type"], None,
                    _blank(res.text)))
    return answers


@pytest.mark.parametrize("platform", ["kuaishou", "taobao"])
def test_the_fast_path_answers_as_fastapi_does(api_app: App, client: TestClient,
                                               slow_client: TestClient, platform: str) -> None:
    fast_state = client.app.state.api  # type: ignore[attr-defined]
    before = fast_state.fast_served
    fast = _story(Desk(client, api_app), platform)
    served = fast_state.fast_served - before
    slow = _story(Desk(slow_client, api_app), platform)
    assert slow_client.app.state.api.fast_served == 0  # type: ignore[attr-defined]
    for mine, theirs in zip(fast, slow, strict=True):
        assert mine == theirs, f"{mine[0]}: fast path {mine[1:]} vs FastAPI {theirs[1:]}"
    # the plain requests were the fast path's: open, approve ×2 (one refused), ship, inspect,
    # the warehouse's refused approve, the unknown and impossible case ids, a duplicate open
    assert served >= 8, served
    statuses = {step: status for step, status, *_ in fast}
    assert statuses["inspect"] == 200 and statuses["approve twice"] == 409
    assert statuses["approve: no token"] == 401 and statuses["another shop's case"] == 404


def test_the_fast_path_leaves_oversized_and_chunked_bodies_to_the_body_limit(
        desk: Desk, settings: ApiSettings) -> None:
    shop = desk.shop("kuaishou")
    desk.client.get("/api/v1/cases", headers=shop.auth("agent"))
    big = '{"note": "' + "x" * settings.max_json_bytes + '"}'
    res = desk.client.post("/api/v1/cases/any/actions/approve", content=big,
                           headers={**shop.auth("agent"), "Content-Type": "application/json"})
    assert res.status_code == 413 and res.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        yield b'{"note": "'
        yield b"y" * settings.max_json_bytes
        yield b'"}'

    res = desk.client.post("/api/v1/cases/any/actions/approve", content=chunks(),
                           headers={**shop.auth("agent"), "Content-Type": "application/json"})
    assert res.status_code == 413 and res.json()["error"]["code"] == "payload_too_large"
