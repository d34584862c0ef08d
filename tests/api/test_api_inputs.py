"""Hostile inputs that reached a 500 (or lost work), found by a sweep of the API
(2026-12-06), not by Schemathesis: each test failed before its fix.

Each states the contract (4xx with the one error body, or the request simply works). The
PostgreSQL ones need the server (`pg` fixture): PostgreSQL enforces VARCHAR widths and
refuses NUL in text, where SQLite stores anything.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.bootstrap import bootstrap
from conftest import postgres_database

from .helpers import Desk, Shop, assert_error


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _not_500(res: Any) -> None:
    assert res.status_code < 500, res.text
    if res.status_code >= 400:
        assert_error(res, res.status_code)


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with postgres_database() as url:
        app = bootstrap(url, evidence_dir=tmp_path_factory.mktemp("pg") / "evidence")
        upgrade(app.engine)
        with TestClient(create_app(app), raise_server_exceptions=False) as client:
            yield Desk(client, app)
        app.engine.dispose()


# --- SQLite (the default fixtures) ---------------------------------------------------------

@pytest.mark.parametrize("categories", [[1, "custom_made"], [None, "fresh"]], ids=["int", "null"])
def test_policy_with_mixed_type_excluded_categories_is_refused_not_500(
        desk: Desk, categories: list[Any]) -> None:
    """PUT /shop/policy (admin): MerchantPolicy.from_dict accepts any hashables in
    excluded_categories; store.set_policy → MerchantPolicy.to_dict sorts them
    (merchant_policy.py:56) → TypeError → 500."""
    shop = desk.shop()
    res = desk.client.put("/api/v1/shop/policy", json={"excluded_categories": categories},
                          headers=shop.auth("admin"))
    assert_error(res, 422, "invalid_policy")


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"],
                         ids=["year1-east", "year9999-west"])
def test_queue_cursor_whose_time_leaves_the_calendar_in_utc_is_refused(desk: Desk, at: str) -> None:
    """GET /cases?cursor= (agent): queries._decode accepts any aware time; binding it
    converts to UTC (tables.UtcDateTime.process_bind_param, tables.py:45) → OverflowError
    (wrapped in StatementError) → 500."""
    shop = desk.shop()
    desk.open_case(shop, desk.order(shop))
    res = desk.client.get("/api/v1/cases", params={"cursor": _cursor([at, "x"])},
                          headers=shop.auth("agent"))
    assert_error(res, 422, "invalid_cursor")


def _advance_to(desk: Desk, shop: Shop, target: datetime) -> list[Any]:
    """Move a sandbox clock with `by` steps (each within the schema's 6 digits)."""
    answers = []
    days = (target - desk.now(shop)).days
    while days > 0:
        step = min(days, 999_999)
        answers.append(desk.client.post("/api/v1/clock/advance", json={"by": f"{step}d"},
                                        headers=shop.auth("admin")))
        days -= step
    return answers


def test_clock_advanced_by_duration_to_year_9999_then_opening_a_case_is_not_500(desk: Desk) -> None:
    """POST /clock/advance {"by": "999999d"} (admin) is accepted although `to` is capped at
    2200 (schemas/common._sane_time): three steps reach 9999-12-29. A buyer then opening a
    case computes a deadline past datetime.max (domain/deadlines.py:99 `start +
    rule.duration`, via casework.save) → OverflowError → 500."""
    shop = desk.shop()
    order = desk.order(shop, now=datetime(2100, 1, 1, tzinfo=UTC))
    for res in _advance_to(desk, shop, datetime(9999, 12, 29, tzinfo=UTC)):
        _not_500(res)
    _not_500(desk.open_case(shop, order, expect=None, type="refund_only", reason="not_received"))


def test_a_clock_advance_beyond_2200_is_refused_and_moves_nothing(desk: Desk) -> None:
    """`to` was capped at 2200 but `by` was not: three steps of "999999d" reached
    9999-12-23, where the next advance failed (500) after moving the clock, and every
    later one too. Now `by` has the same cap as `to`."""
    shop = desk.shop()
    before = desk.now(shop)
    res = desk.client.post("/api/v1/clock/advance", json={"by": "999999d"},
                           headers=shop.auth("admin"))
    assert_error(res, 422, "invalid_duration")
    assert desk.now(shop) == before


# --- PostgreSQL: VARCHAR widths and NUL ----------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize(("field", "length"), [("name", 400), ("link", 1500), ("category", 80)])
def test_order_line_text_the_schema_allows_is_stored_on_postgresql(
        pg: Desk, field: str, length: int) -> None:
    """POST /orders (platform): LineIn allows name ≤ 500, link ≤ 2000, category ≤ 100
    characters (schemas/orders.py), the columns are VARCHAR(300/1000/60) (tables.py:118,
    119, 124) → StringDataRightTruncation → 500 on PostgreSQL (SQLite stores it: 201)."""
    shop = pg.shop()
    body = pg.order_body(shop)
    body["lines"][0][field] = "x" * length
    res = pg.client.post("/api/v1/orders", json=body, headers=shop.auth("platform"))
    _not_500(res)


@pytest.mark.postgres
def test_queue_cursor_with_nul_in_its_case_id_is_refused_on_postgresql(pg: Desk) -> None:
    """GET /cases?cursor= (agent): queries._decode checks the id encodes, not NUL; psycopg
    refuses NUL in a text parameter → DataError → 500 on PostgreSQL (SQLite: 200)."""
    shop = pg.shop()
    pg.open_case(shop, pg.order(shop))
    cursor = _cursor(["2026-01-01T00:00:00+00:00", "a\u0000b"])
    res = pg.client.get("/api/v1/cases", params={"cursor": cursor}, headers=shop.auth("agent"))
    assert_error(res, 422, "invalid_cursor")


@pytest.mark.parametrize("email", ["a" * 301 + "@example.com", "ops\u0000@example.com",
                                   "two@a.cn,three@b.cn"], ids=["long", "nul", "two"])
def test_a_policy_refuses_an_alert_email_it_could_not_mail(desk: Desk, email: str) -> None:
    """`extra` was stored unchecked: an address over the recipient column's 300
    characters or with a NUL later failed every mail on PostgreSQL — a bad rating's
    request (500) and, worse, the deadline that queued one (marked failed: the platform's
    automatic outcome never happened)."""
    shop = desk.shop()
    res = desk.client.put("/api/v1/shop/policy", json={"extra": {"alert_email": email}},
                          headers=shop.auth("admin"))
    assert_error(res, 422, "invalid_policy")


@pytest.mark.postgres
def test_an_alert_email_stored_before_the_check_stops_no_deadline(pg: Desk) -> None:
    """A policy written before the check (or by hand) may hold such an address: mail to
    it is skipped, and the deadline still fires."""
    shop = pg.shop()
    with pg.app.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE shops SET policy = %(p)s WHERE id = %(id)s",
            {"p": json.dumps({"extra": {"alert_email": "a" * 400}}), "id": shop.id})
    case = pg.open_case(shop, pg.order(shop), reason="quality_issue")
    fired = pg.advance(shop, "6d")["fired"]
    kinds = [e["kind"] for e in pg.case(shop, case["id"])["events"]]
    assert "deadline_failed" not in kinds, kinds
    assert [f["case_id"] for f in fired] == [case["id"]], fired
    rated = pg.client.post(f"/api/v1/cases/{case['id']}/rating", json={"stars": 1},
                           headers=shop.auth("buyer"))
    _not_500(rated)


def test_a_case_naming_one_line_twice_is_refused(desk: Desk) -> None:
    """Two entries for a one-unit line were accepted (201): the case claimed two units."""
    shop = desk.shop()
    order = desk.order(shop)
    line = order["lines"][0]["id"]
    res = desk.client.post("/api/v1/cases", json={
        "order_id": order["id"], "type": "refund_only", "reason": "not_as_described",
        "lines": [{"line_id": line, "quantity": 1}, {"line_id": line, "quantity": 1}]},
        headers=shop.auth("buyer"))
    assert_error(res, 422, "duplicate_line")
