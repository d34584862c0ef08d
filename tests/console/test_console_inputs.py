"""Hostile form and query values get a clear refusal (a 4xx page or a form error), never
a 500: each of these failed before (found by a sweep of every console route, 2026-12-06).

Each test sends one bad value, as the role the route is for and with a valid CSRF token,
and expects a clear refusal: any status below 500.
"""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.entrypoints.console import mount_console
from aftersales.entrypoints.console.sample import build
from aftersales.service import cases
from aftersales.service.ports import Principal
from console.console_helpers import buyer_in, sign_in

HUGE = str(2**70)  # a whole number no BIGINT column holds


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _ok(resp) -> None:
    assert resp.status_code < 500, resp.text[:500]


def _line_id(client, sample) -> str:
    page = client.get(f"/portal/orders/{sample.order_id}/new").text
    found = re.search(r'name="qty_([0-9a-f-]{36})"', page)
    assert found
    return found.group(1)


# --- the queue's cursor and search ---------------------------------------------------------

def test_queue_cursor_of_deeply_nested_json(client, world) -> None:
    sign_in(client, "agent")
    _ok(client.get("/queue", params={"cursor": _cursor(b"[" * 20000)}))


def test_queue_cursor_with_a_naive_datetime(client, world) -> None:
    sign_in(client, "agent")
    _ok(client.get("/queue", params={"cursor": _cursor(b'["2024-01-01T00:00:00", "x"]')}))


def test_queue_cursor_with_a_lone_surrogate_id(client, world) -> None:
    sign_in(client, "agent")
    _ok(client.get("/queue", params={"cursor": _cursor(b'["2024-01-01T00:00:00+00:00", "\\ud800"]')}))


def test_queue_search_of_60k_chars(client, world) -> None:
    sign_in(client, "agent")
    _ok(client.get("/queue", params={"q": "x" * 60000}))


# --- dashboard and sandbox clock -------------------------------------------------------------

@pytest.mark.parametrize("params", [{"from": "0001-01-01"}, {"to": "0001-01-01"},
                                    {"to": "9999-12-31"}])
def test_dashboard_with_a_date_at_the_calendar_edge(client, world, params) -> None:
    sign_in(client, "agent")
    _ok(client.get("/dashboard", params=params))


@pytest.mark.parametrize("amount,unit", [("3000000", "d"), ("70000000", "h")])
def test_clock_advance_past_year_9999(client, world, amount, unit) -> None:
    token = sign_in(client, "admin")
    _ok(client.post("/clock", data={"csrf": token, "amount": amount, "unit": unit}))


# --- int() on str.isdigit(): "²" is a digit to isdigit, not to int -------------------------

def test_portal_new_case_with_superscript_quantity(client, world) -> None:
    _, sample = world
    token = buyer_in(client, sample)
    line_id = _line_id(client, sample)
    _ok(client.post(f"/portal/orders/{sample.order_id}/cases", data={
        "csrf": token, "type": "return_refund", "reason": "quality_issue",
        f"qty_{line_id}": "²", "description": "d", "refund_method": "original"}))


def test_portal_rate_with_superscript_stars(client, world) -> None:
    _, sample = world
    token = buyer_in(client, sample)
    line_id = _line_id(client, sample)
    opened = client.post(f"/portal/orders/{sample.order_id}/cases", data={
        "csrf": token, "type": "refund_only", "reason": "quality_issue", f"qty_{line_id}": "1",
        "description": "d", "refund_method": "original"})
    case_id = re.search(r"/portal/cases/([0-9a-f-]{36})", opened.headers["location"]).group(1)
    _ok(client.post(f"/portal/cases/{case_id}/rate", data={"csrf": token, "stars": "²"}))


def test_upstream_claim_with_superscript_evidence_count(client, world) -> None:
    _, sample = world
    token = sign_in(client, "agent")
    case_id = sample.other_case_ids[0]
    _ok(client.post(f"/cases/{case_id}/upstream-claims", data={
        "csrf": token, "supplier": "S", "supplier_order_id": "SO1", "amount": "1.00",
        "description": "desc", "evidence_count": "²"}))


# --- amounts no database column holds --------------------------------------------------------

def _approved_case(wired, sample, line_id) -> str:
    loaded = cases.open_case(wired.deps, Principal(sample.shop_id, Role.buyer, sample.buyer_id),
                             cases.NewCase(sample.order_id, "return_refund", "quality_issue",
                                           ((line_id, 1),), description="d"))
    cases.act(wired.deps, Principal(sample.shop_id, Role.agent, actor_id="a1"), loaded.case.id,
              "approve")
    return loaded.case.id


def test_ship_return_with_a_negative_return_freight_is_refused(client, world) -> None:
    wired, sample = world
    token = buyer_in(client, sample)
    case_id = _approved_case(wired, sample, _line_id(client, sample))
    _ok(client.post(f"/portal/cases/{case_id}/act/ship_return", data={
        "csrf": token, "carrier": "SF", "waybill": "SF1", "prepaid": "1", "return_freight": "-1"}))
    with wired.deps.uow() as uow:
        case = uow.cases.get_case(sample.shop_id, case_id)
    assert case is not None and case.return_freight is None and case.state.value == "awaiting_return"


def test_ship_return_with_a_huge_return_freight(client, world) -> None:
    wired, sample = world
    token = buyer_in(client, sample)
    line_id = _line_id(client, sample)
    loaded = cases.open_case(wired.deps, Principal(sample.shop_id, Role.buyer, sample.buyer_id),
                             cases.NewCase(sample.order_id, "return_refund", "quality_issue",
                                           ((line_id, 1),), description="d"))
    cases.act(wired.deps, Principal(sample.shop_id, Role.agent, actor_id="a1"), loaded.case.id,
              "approve")
    _ok(client.post(f"/portal/cases/{loaded.case.id}/act/ship_return", data={
        "csrf": token, "carrier": "SF", "waybill": "SF1", "prepaid": "1", "return_freight": HUGE}))


@pytest.fixture
def dropship(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """A 1688 shop (upstream claims on) with an approved refund-only case."""
    wired = bootstrap(f"sqlite:///{tmp_path}/d.db", evidence_dir=tmp_path / "evidence")
    upgrade(wired.engine)
    sample = build(wired.deps, platform="alibaba_1688", others=0)
    with wired.deps.uow() as uow:
        line_id = uow.orders.get_order(sample.shop_id, sample.order_id).lines[0].id
    loaded = cases.open_case(wired.deps, Principal(sample.shop_id, Role.buyer, sample.buyer_id),
                             cases.NewCase(sample.order_id, "refund_only", "no_reason", ((line_id, 1),)))
    cases.act(wired.deps, Principal(sample.shop_id, Role.agent, actor_id="a1"), loaded.case.id,
              "approve")
    web = FastAPI()
    mount_console(web, wired.deps, secret="t")
    with TestClient(web, follow_redirects=False) as client:
        yield client, loaded.case.id
    wired.engine.dispose()


def test_upstream_claim_with_a_huge_amount(dropship) -> None:
    client, case_id = dropship
    token = sign_in(client, "agent")
    _ok(client.post(f"/cases/{case_id}/upstream-claims", data={
        "csrf": token, "supplier": "S", "supplier_order_id": "SO1", "amount": HUGE,
        "description": "买家七天无理由退款，请供应商退回货款", "evidence_count": "1"}))


# --- the policy editor's JSON ----------------------------------------------------------------

@pytest.mark.parametrize("text", ["[" * 20000, '{"a":' * 5000, "1" * 5000],
                         ids=["nested-array", "nested-object", "5000-digit-int"])
def test_policy_json_that_json_loads_cannot_take(client, world, text) -> None:
    token = sign_in(client, "admin")
    _ok(client.post("/settings/policy", data={"csrf": token, "policy": text}))

