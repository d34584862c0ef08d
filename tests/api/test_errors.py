"""Every error answers {"error": {"code", "message"}} with the status of the one table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aftersales.entrypoints.api import errors as api_errors
from aftersales.service import orders as orders_service

from .conftest import JSON_CAP
from .helpers import Desk, assert_error


def test_unknown_route_is_404_not_found(desk: Desk) -> None:
    assert_error(desk.client.get("/api/v1/nowhere"), 404, "not_found")
    assert_error(desk.client.get("/nowhere/at/all"), 404, "not_found")


def test_wrong_method_is_405(desk: Desk) -> None:
    res = desk.client.delete("/api/v1/orders")
    assert_error(res, 405, "method_not_allowed")
    assert "POST" in res.headers["allow"]


def test_malformed_json_is_400(desk: Desk) -> None:
    shop = desk.shop()
    res = desk.client.post("/api/v1/orders", content=b'{"platform_order_id": ',
                           headers={**shop.auth("platform"), "content-type": "application/json"})
    assert_error(res, 400, "malformed_json")


def test_validation_error_names_the_field(desk: Desk) -> None:
    shop = desk.shop()
    body = desk.order_body(shop)
    body["lines"][0]["quantity"] = 0
    err = assert_error(desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform")),
                       422, "validation_error")
    assert err["field"] == "lines.0.quantity"
    assert "lines.0.quantity" in err["message"]


def test_unknown_fields_are_refused(desk: Desk) -> None:
    shop = desk.shop()
    body = {**desk.order_body(shop), "ammount": 5}
    err = assert_error(desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform")),
                       422, "validation_error")
    assert err["field"] == "ammount"


def test_naive_datetimes_are_refused(desk: Desk) -> None:
    shop = desk.shop()
    body = {**desk.order_body(shop), "paid_at": "2026-03-01T10:00:00"}
    err = assert_error(desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform")),
                       422, "validation_error")
    assert err["field"] == "paid_at"
    res = desk.client.post("/api/v1/clock/advance", json={"to": "2030-01-01T00:00:00"},
                           headers=shop.auth("admin"))
    assert_error(res, 422, "validation_error")
    res = desk.client.get("/api/v1/cases", params={"due_before": "2030-01-01T00:00:00"},
                          headers=shop.auth("agent"))
    assert_error(res, 422, "validation_error")


def test_floats_are_not_money(desk: Desk) -> None:
    shop = desk.shop()
    body = desk.order_body(shop)
    body["lines"][0]["paid_amount"] = 99.5
    assert_error(desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform")),
                 422, "validation_error")


def test_oversized_json_body_is_413(desk: Desk) -> None:
    shop = desk.shop()
    body = desk.order_body(shop)
    body["lines"][0]["name"] = "x" * (JSON_CAP + 10)
    res = desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform"))
    assert_error(res, 413, "payload_too_large")


def test_oversized_chunked_body_is_413(desk: Desk) -> None:
    shop = desk.shop()

    def chunks() -> Any:
        yield b'{"body": "'
        for _ in range(JSON_CAP // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    res = desk.client.post("/api/v1/orders", content=chunks(),
                           headers={**shop.auth("platform"), "content-type": "application/json"})
    assert "content-length" not in res.request.headers
    assert_error(res, 413, "payload_too_large")


def test_json_that_is_not_an_object(desk: Desk) -> None:
    shop = desk.shop()
    for payload in ([1, 2], "text", 3, None):
        res = desk.client.post("/api/v1/orders", json=payload, headers=shop.auth("platform"))
        assert_error(res, 422, "validation_error")


@pytest.mark.parametrize("value", ["\x00", "\ud800", "a\x00b"])
def test_strings_storage_cannot_hold_are_refused(desk: Desk, value: str) -> None:
    shop = desk.shop()
    body = desk.order_body(shop)
    body["lines"][0]["name"] = value
    raw = json.dumps(body, ensure_ascii=True).encode()  # a lone surrogate travels as \ud800
    res = desk.client.post("/api/v1/orders", content=raw,
                           headers={**shop.auth("platform"), "content-type": "application/json"})
    assert_error(res, 422, "validation_error")


@pytest.mark.parametrize("path", [
    "/api/v1/cases/..%2F..%2Fetc", "/api/v1/cases/%00", "/api/v1/orders/" + "9" * 300,
    "/api/v1/cases/a%20b",
])
def test_impossible_ids_are_not_found(desk: Desk, path: str) -> None:
    shop = desk.shop()
    res = desk.client.get(path, headers=shop.auth("admin"))
    assert res.status_code == 404, res.text
    assert set(res.json()) == {"error"}


def test_huge_numbers_are_refused_before_storage(desk: Desk) -> None:
    shop = desk.shop()
    body = desk.order_body(shop)
    body["lines"][0]["quantity"] = 10**30
    assert_error(desk.client.post("/api/v1/orders", json=body, headers=shop.auth("platform")),
                 422, "validation_error")
    res = desk.client.post("/api/v1/clock/advance", json={"by": "99999999999d"},
                           headers=shop.auth("admin"))
    assert_error(res, 422)


def test_unexpected_errors_are_500_without_a_traceback(desk: Desk,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    shop = desk.shop()

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    from aftersales.entrypoints.api.routes import orders as orders_routes

    monkeypatch.setattr(orders_routes, "import_order", boom)
    res = desk.client.post("/api/v1/orders", json=desk.order_body(shop), headers=shop.auth("platform"))
    err = assert_error(res, 500, "internal_error")
    assert "secret" not in res.text and "Traceback" not in res.text and "passwd" not in err["message"]
    assert orders_service.import_order is not boom


def test_error_table_maps_codes_before_classes() -> None:
    from aftersales.domain.errors import InvalidInput, InvalidTransition, RuleRefused
    from aftersales.service.errors import Conflict, IdempotencyReused, NotASandbox, NotFound

    assert api_errors.status_for(InvalidTransition("x")) == 409
    assert api_errors.status_for(RuleRefused("x", code="after_sales_window_closed")) == 422
    assert api_errors.status_for(InvalidInput("x")) == 422
    assert api_errors.status_for(InvalidInput("x", code="file_too_large")) == 413
    assert api_errors.status_for(InvalidInput("x", code="unsupported_media_type")) == 415
    assert api_errors.status_for(InvalidInput("x", code="order_not_found")) == 404
    assert api_errors.status_for(NotFound("x")) == 404
    assert api_errors.status_for(Conflict("x")) == 409
    assert api_errors.status_for(IdempotencyReused("x")) == 409
    assert api_errors.status_for(NotASandbox("x")) == 409
    assert api_errors.status_for(RuntimeError("x")) == 500
