"""Tokens, shops and buyers: nobody sees or touches what is not theirs."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

from aftersales.domain.errors import InvalidInput
from aftersales.service.errors import NotFound
from aftersales.service.shops import create_token, hash_token, list_tokens, revoke_token

from .helpers import Desk, assert_error


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic Zm9vOmJhcg==",
                                    "Bearer as_forged_token_that_was_never_issued", "as_raw_token"])
def test_missing_or_forged_tokens_are_401(desk: Desk, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, path in (("get", "/api/v1/cases"), ("get", "/api/v1/clock"),
                         ("post", "/api/v1/orders"), ("get", "/api/v1/refunds")):
        res = getattr(desk.client, method)(path, headers=headers)
        assert_error(res, 401, "unauthorized")
        assert res.headers["www-authenticate"] == "Bearer"


def test_a_token_with_a_changed_character_is_401(desk: Desk) -> None:
    shop = desk.shop()
    token = shop.tokens["admin"]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    res = desk.client.get("/api/v1/clock", headers={"Authorization": f"Bearer {forged}"})
    assert_error(res, 401, "unauthorized")


def test_health_and_openapi_need_no_token(desk: Desk) -> None:
    assert desk.client.get("/api/v1/health").json() == {"status": "ok"}
    assert desk.client.get("/api/v1/openapi.json").status_code == 200


def test_another_shops_order_and_case_are_404(desk: Desk) -> None:
    mine, theirs = desk.shop(), desk.shop()
    order = desk.order(theirs)
    case = desk.open_case(theirs, order)
    for role in ("admin", "agent", "warehouse", "finance", "platform"):
        assert_error(desk.client.get(f"/api/v1/orders/{order['id']}", headers=mine.auth(role)),
                     404, "order_not_found")
        assert_error(desk.client.get(f"/api/v1/cases/{case['id']}", headers=mine.auth(role)),
                     404, "case_not_found")
    for action, role, body in (("approve", "agent", {}), ("cancel", "buyer", {}),
                               ("receive", "warehouse", {"prepaid": True})):
        res = desk.act(mine, case["id"], action, role, body, expect=None)
        assert_error(res, 404, "case_not_found")
    for path in (f"/api/v1/cases/{case['id']}/messages", f"/api/v1/cases/{case['id']}/evidence"):
        assert_error(desk.client.get(path, headers=mine.auth("admin")), 404)
    res = desk.client.post(f"/api/v1/cases/{case['id']}/messages", json={"body": "hello"},
                           headers=mine.auth("agent"))
    assert_error(res, 404)
    res = desk.client.post("/api/v1/cases", headers=mine.auth("buyer"), json={
        "order_id": order["id"], "type": "refund_only", "reason": "no_reason"})
    assert_error(res, 404, "order_not_found")
    listed = desk.client.get("/api/v1/cases", headers=mine.auth("admin")).json()
    assert listed["items"] == []
    refunds = desk.client.get("/api/v1/refunds", params={"case_id": case["id"]},
                              headers=mine.auth("finance")).json()
    assert refunds["items"] == []
    # and the owner still sees everything
    assert desk.case(theirs, case["id"])["state"] == "requested"


def test_a_buyer_sees_only_their_own_orders_and_cases(desk: Desk) -> None:
    shop = desk.shop(buyers=("buyer-1", "buyer-2"))
    order = desk.order(shop, buyer="buyer-1")
    case = desk.open_case(shop, order, role="buyer")
    other = shop.auth("buyer:buyer-2")
    assert_error(desk.client.get(f"/api/v1/orders/{order['id']}", headers=other), 404)
    assert_error(desk.client.get(f"/api/v1/cases/{case['id']}", headers=other), 404)
    assert_error(desk.client.get(f"/api/v1/cases/{case['id']}/messages", headers=other), 404)
    res = desk.client.post(f"/api/v1/cases/{case['id']}/actions/cancel", json={}, headers=other)
    assert_error(res, 404, "case_not_found")
    res = desk.client.post("/api/v1/cases", headers=other, json={
        "order_id": order["id"], "type": "refund_only", "reason": "no_reason"})
    assert_error(res, 404, "order_not_found")
    assert desk.client.get(f"/api/v1/orders/{order['id']}", headers=shop.auth("buyer")).status_code == 200


def test_a_buyer_lists_only_their_own_cases(desk: Desk) -> None:
    shop = desk.shop(buyers=("buyer-1", "buyer-2"))
    case = desk.open_case(shop, desk.order(shop, buyer="buyer-1"), role="buyer")
    other = desk.client.get("/api/v1/cases", headers=shop.auth("buyer:buyer-2"))
    assert other.status_code == 200 and other.json()["items"] == []
    mine = desk.client.get("/api/v1/cases", headers=shop.auth("buyer")).json()["items"]
    assert [c["id"] for c in mine] == [case["id"]]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("post", "/api/v1/orders", {"platform", "admin"}),
    ("post", "/api/v1/cases", {"buyer", "agent", "platform", "admin"}),
    ("post", "/api/v1/parcels/scan", {"warehouse", "admin"}),
    ("post", "/api/v1/clock/advance", {"admin"}),
    ("get", "/api/v1/refunds", {"finance", "admin", "agent"}),
])
def test_route_roles(desk: Desk, method: str, path: str, allowed: set[str]) -> None:
    shop = desk.shop()
    order = desk.order(shop)
    bodies = {
        "/api/v1/orders": desk.order_body(shop),
        "/api/v1/cases": {"order_id": order["id"], "type": "refund_only", "reason": "no_reason"},
        "/api/v1/parcels/scan": {"waybill": "NOPE1"},
        "/api/v1/clock/advance": {"by": "1m"},
    }
    for role in ("admin", "agent", "warehouse", "finance", "platform", "buyer"):
        kwargs = {"json": bodies[path]} if method == "post" else {}
        res = getattr(desk.client, method)(path, headers=shop.auth(role), **kwargs)
        if role in allowed:
            assert res.status_code not in (401, 403), f"{role}: {res.text}"
        else:
            assert_error(res, 403, "forbidden")


def test_only_the_platform_mirrors_platform_cases(desk: Desk) -> None:
    shop = desk.shop("kuaishou")
    order = desk.order(shop)
    for role in ("buyer", "agent"):
        res = desk.client.post("/api/v1/cases", headers=shop.auth(role), json={
            "order_id": order["id"], "type": "refund_only", "reason": "no_reason",
            "platform_case_id": "KS-1", "platform_status": "10", "platform_version": 1})
        assert_error(res, 403, "forbidden")


def test_revoked_and_expired_tokens_answer_401_with_their_code(desk: Desk) -> None:
    """Never-used tokens are not in the cache, so the codes show at once; the tokens
    of the list keep no secret."""
    shop = desk.shop()
    deps = desk.app.deps
    revoked = create_token(deps, shop.id, "agent", label="to revoke")
    short = create_token(deps, shop.id, "agent", expires_in=timedelta(seconds=1))
    lasting = create_token(deps, shop.id, "agent", expires_in=timedelta(days=30))
    views = {v["label"]: v for v in list_tokens(deps, shop.id)}
    revoke_token(deps, str(views["to revoke"]["id"]))
    assert revoke_token(deps, revoked)["revoked_at"] == revoke_token(
        deps, str(views["to revoke"]["id"]))["revoked_at"]  # again: nothing changes
    time.sleep(1.1)

    def clock(token: str) -> Any:
        return desk.client.get("/api/v1/clock", headers={"Authorization": f"Bearer {token}"})

    assert_error(clock(revoked), 401, "token_revoked")
    assert_error(clock(short), 401, "token_expired")
    assert clock(lasting).status_code == 200
    listed = json.dumps(list_tokens(deps, shop.id))
    assert all(t not in listed and hash_token(t) not in listed for t in (revoked, short, lasting))
    with pytest.raises(NotFound):
        revoke_token(deps, "as_never_issued")
    with pytest.raises(InvalidInput):
        create_token(deps, shop.id, "agent", expires_in=timedelta(0))
