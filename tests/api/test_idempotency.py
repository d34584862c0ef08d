"""Idempotency-Key: one effect and one stored answer per key, whatever the retries."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.api.routes import threads as thread_routes
from aftersales.entrypoints.api.settings import ApiSettings
from aftersales.entrypoints.bootstrap import App
from media import PNG

from .helpers import Desk, Shop, assert_error


def keyed(shop: Shop, role: str, key: str) -> dict[str, str]:
    return {**shop.auth(role), "Idempotency-Key": key}


def case_count(desk: Desk, shop: Shop, order_id: str) -> int:
    res = desk.client.get("/api/v1/cases", params={"q": order_id}, headers=shop.auth("agent"))
    return len(res.json()["items"])


def test_same_key_same_body_returns_the_first_answer_and_changes_nothing(desk: Desk) -> None:
    shop = desk.shop()
    order = desk.order(shop)
    body = {"order_id": order["id"], "type": "return_refund", "reason": "no_reason",
            "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}]}
    first = desk.client.post("/api/v1/cases", json=body, headers=keyed(shop, "buyer", "k-1"))
    again = desk.client.post("/api/v1/cases", json=body, headers=keyed(shop, "buyer", "k-1"))
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert case_count(desk, shop, order["id"]) == 1


def test_json_formatting_does_not_make_another_request(desk: Desk) -> None:
    shop = desk.shop()
    body = desk.order_body(shop)
    first = desk.client.post("/api/v1/orders", json=body, headers=keyed(shop, "platform", "fmt"))
    import json

    spaced = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    again = desk.client.post("/api/v1/orders", content=spaced, headers={
        **keyed(shop, "platform", "fmt"), "content-type": "application/json"})
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_same_key_other_body_is_409(desk: Desk) -> None:
    shop = desk.shop()
    order = desk.order(shop)
    case = desk.open_case(shop, order)
    url = f"/api/v1/cases/{case['id']}/messages"
    assert desk.client.post(url, json={"body": "one"}, headers=keyed(shop, "buyer", "m")).status_code == 201
    res = desk.client.post(url, json={"body": "two"}, headers=keyed(shop, "buyer", "m"))
    assert_error(res, 409, "idempotency_key_reused")
    res = desk.client.post(f"/api/v1/cases/{case['id']}/actions/cancel", json={},
                           headers=keyed(shop, "buyer", "m"))
    assert_error(res, 409, "idempotency_key_reused")
    msgs = desk.client.get(url, headers=shop.auth("agent")).json()["items"]
    assert [m["body"] for m in msgs] == ["one"]


def test_a_key_is_never_replayed_to_another_caller(desk: Desk) -> None:
    shop = desk.shop(buyers=("buyer-1", "buyer-2"))
    body = desk.order_body(shop)
    assert desk.client.post("/api/v1/orders", json=body,
                            headers=keyed(shop, "platform", "shared")).status_code == 201
    res = desk.client.post("/api/v1/orders", json=body, headers=keyed(shop, "admin", "shared"))
    assert_error(res, 409, "idempotency_key_reused")


def test_keys_belong_to_one_shop(desk: Desk) -> None:
    one, two = desk.shop(), desk.shop()
    a = desk.client.post("/api/v1/orders", json=desk.order_body(one), headers=keyed(one, "platform", "k"))
    b = desk.client.post("/api/v1/orders", json=desk.order_body(two), headers=keyed(two, "platform", "k"))
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_an_action_is_replayed_not_repeated(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    first = desk.act(shop, case["id"], "approve", "agent", headers={"Idempotency-Key": "ap"})
    again = desk.act(shop, case["id"], "approve", "agent", headers={"Idempotency-Key": "ap"})
    assert again.content == first.content
    plain = desk.act(shop, case["id"], "approve", "agent", expect=409)
    assert plain.json()["error"]["code"] == "invalid_transition"
    approvals = [e for e in desk.case(shop, case["id"])["events"] if e["kind"] == "approve"]
    assert len(approvals) == 1


def test_refusals_are_answers_and_are_replayed(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    body = {"amount": {"amount": 10**9, "currency": "CNY"}}
    first = desk.act(shop, case["id"], "approve", "agent", body, expect=422,
                     headers={"Idempotency-Key": "too-much"})
    again = desk.act(shop, case["id"], "approve", "agent", body, expect=422,
                     headers={"Idempotency-Key": "too-much"})
    assert first.json()["error"]["code"] == "amount_exceeds_refundable"
    assert again.content == first.content


@pytest.mark.parametrize("key", ["x" * 201, "with\ttab", "ünïcode"])
def test_malformed_keys_are_400(desk: Desk, key: str) -> None:
    shop = desk.shop()
    res = desk.client.post("/api/v1/orders", json=desk.order_body(shop),
                           headers={**shop.auth("platform"), "Idempotency-Key": key.encode()})
    assert_error(res, 400, "invalid_idempotency_key")


def test_parallel_requests_with_one_key_have_one_effect(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    url = f"/api/v1/cases/{case['id']}/messages"

    def post(_: int) -> Any:
        return desk.client.post(url, json={"body": "只发一次 / once"}, headers=keyed(shop, "buyer", "par"))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))
    assert {r.status_code for r in results} == {201}, [r.text for r in results]
    assert len({r.content for r in results}) == 1
    assert len(desk.client.get(url, headers=shop.auth("agent")).json()["items"]) == 1


def test_parallel_actions_with_one_key_have_one_effect(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))

    def approve(_: int) -> Any:
        return desk.act(shop, case["id"], "approve", "agent", expect=None,
                        headers={"Idempotency-Key": "par-approve"})

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(approve, range(6)))
    assert {r.status_code for r in results} == {200}, [r.text for r in results]
    assert len({r.content for r in results}) == 1
    kinds = [e["kind"] for e in desk.case(shop, case["id"])["events"]]
    assert kinds.count("approve") == 1


def test_a_server_error_releases_the_key(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    real = thread_routes.add_message
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(thread_routes, "add_message", flaky)
    url = f"/api/v1/cases/{case['id']}/messages"
    first = desk.client.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "retry"))
    assert_error(first, 500, "internal_error")
    second = desk.client.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "retry"))
    assert second.status_code == 201, second.text


def test_a_duplicate_waits_for_the_first_or_answers_in_progress(
        desk: Desk, api_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    real = thread_routes.add_message

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(thread_routes, "add_message", slow)
    impatient = create_app(api_app, settings=ApiSettings(idempotency_wait_seconds=0.2))
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    url = f"/api/v1/cases/{case['id']}/messages"
    with TestClient(impatient) as tc, ThreadPoolExecutor(2) as pool:
        first = pool.submit(tc.post, url, json={"body": "hi"}, headers=keyed(shop, "buyer", "slow"))
        time.sleep(0.3)
        second = tc.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "slow"))
        assert_error(second, 409, "idempotency_in_progress")
        assert first.result().status_code == 201
        third = tc.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "slow"))
        assert third.content == first.result().content


def test_an_upload_retried_with_another_boundary_is_the_same_request(desk: Desk) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    url = f"/api/v1/cases/{case['id']}/evidence"
    first = desk.client.post(url, files={"file": ("a.png", PNG, "image/png")},
                             headers=keyed(shop, "buyer", "up"))
    again = desk.client.post(url, files={"file": ("a.png", PNG, "image/png")},
                             headers=keyed(shop, "buyer", "up"))
    assert first.status_code == again.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert len(desk.client.get(url, headers=shop.auth("agent")).json()["items"]) == 1
