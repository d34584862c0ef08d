"""Every token role against every action in every state, from the transition table itself.

For each state a case is built through the API; each (role, action) pair then expects:
- no row of domain.transitions.TABLE for (state, action, type, branch) → 409 invalid_transition;
- a row, but not for this role → 403 forbidden;
- a row for this role → neither (200, or 422 when a guard of the row refuses), tried on a
  fresh case in that state since it changes the case.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from aftersales.domain.transitions import PUBLIC_ACTIONS, TABLE, candidates
from aftersales.domain.vocabulary import CaseType, Role, State

from .helpers import Desk, Shop

TOKEN_ROLES = ("admin", "agent", "warehouse", "finance", "platform", "buyer")
_waybills = itertools.count(1)

BRANCH = {"receive": "prepaid", "inspect": "accept", "rule": "buyer"}
ACCEPT = {"verdict": "accept", "condition": "new", "sku_matches": True,
          "accessories_complete": True, "gifts_returned": True}


def body_for(action: str) -> dict[str, Any]:
    n = next(_waybills)
    return {
        "reject": {"reason_code": "used", "explanation": "吊牌已剪 / tags cut off"},
        "counter_offer": {"amount": {"amount": 1000, "currency": "CNY"}},
        "ship_return": {"carrier": "SF", "waybill": f"SFM{n}", "prepaid": True},
        "receive": {"prepaid": True},
        "inspect": ACCEPT,
        "reship": {"carrier": "YTO", "waybill": f"YTO{n}"},
        "ship_order": {"carrier": "SF", "waybill": f"SFO{n}"},
        "escalate": {"statement": "the merchant refused a real defect"},
        "rule": {"in_favor_of": "buyer"},
        "mark_refunded": {"reference": f"BANK-{n}"},
    }.get(action, {})


Builder = Callable[[Desk, Shop], dict[str, Any]]


def _open(desk: Desk, shop: Shop, type: str = "return_refund", reason: str = "quality_issue",
          **extra: Any) -> dict[str, Any]:
    return desk.open_case(shop, desk.order(shop), type=type, reason=reason, **extra)


def _then(desk: Desk, shop: Shop, case: dict[str, Any], *steps: tuple[str, str]) -> dict[str, Any]:
    for action, role in steps:
        case = desk.act(shop, case["id"], action, role, body_for(action)).json()
    return case


BUILDERS: dict[str, tuple[str, Builder]] = {
    "requested": ("return_refund", lambda d, s: _open(d, s)),
    "requested_with_offer": ("return_refund", lambda d, s: _then(
        d, s, _open(d, s), ("counter_offer", "agent"))),
    "awaiting_return": ("return_refund", lambda d, s: _then(d, s, _open(d, s), ("approve", "agent"))),
    "return_in_transit": ("return_refund", lambda d, s: _then(
        d, s, _open(d, s), ("approve", "agent"), ("ship_return", "buyer"))),
    "inspecting": ("return_refund", lambda d, s: _then(
        d, s, _open(d, s), ("approve", "agent"), ("ship_return", "buyer"), ("receive", "warehouse"))),
    "awaiting_reshipment": ("reissue", lambda d, s: _then(
        d, s, _open(d, s, "reissue", "missing_item"), ("approve", "agent"))),
    "refunding": ("refund_only", lambda d, s: _then(
        d, s, _open(d, s, "refund_only", "not_as_described", refund_method="offline"),
        ("approve", "agent"))),
    "rejected": ("return_refund", lambda d, s: _then(d, s, _open(d, s), ("reject", "agent"))),
    "disputed": ("return_refund", lambda d, s: _then(
        d, s, _open(d, s), ("reject", "agent"), ("escalate", "buyer"))),
    "completed": ("refund_only", lambda d, s: _then(
        d, s, _open(d, s, "refund_only", "not_as_described"), ("approve", "agent"))),
    "closed": ("return_refund", lambda d, s: _then(d, s, _open(d, s), ("cancel", "buyer"))),
}


def expected(state: str, case_type: str, action: str, role: str) -> int | None:
    """403 when this role can never take the action, 409 when not in this state;
    None when this role may try."""
    if not any(t.action == action and Role(role) in t.roles for t in TABLE):
        return 403
    rows = candidates(State(state.removesuffix("_with_offer")), action, CaseType(case_type),
                      BRANCH.get(action))
    if not rows:
        return 409
    roles = frozenset().union(*(r.roles for r in rows))
    return None if Role(role) in roles else 403


@pytest.mark.parametrize("state", list(BUILDERS))
def test_every_role_against_every_action(desk: Desk, state: str) -> None:
    shop = desk.shop("taobao")
    case_type, build = BUILDERS[state]
    base = build(desk, shop)
    assert base["state"] == state.removesuffix("_with_offer"), base["state"]
    wrong: list[str] = []
    for action in sorted(PUBLIC_ACTIONS):
        for role in TOKEN_ROLES:
            want = expected(state, case_type, action, role)
            if want is None:
                fresh = build(desk, shop)
                res = desk.act(shop, fresh["id"], action, role, body_for(action), expect=None)
                if res.status_code not in (200, 422):
                    wrong.append(f"{action} as {role}: want 200/422, got {res.status_code} {res.text}")
                continue
            res = desk.act(shop, base["id"], action, role, body_for(action), expect=None)
            code = {409: "invalid_transition", 403: "forbidden"}[want]
            if res.status_code != want or res.json()["error"]["code"] != code:
                wrong.append(f"{action} as {role}: want {want}, got {res.status_code} {res.text}")
    assert not wrong, "\n".join(wrong)
    after = desk.case(shop, base["id"])
    assert after["version"] == base["version"], "a refused action changed the case"


def test_allowed_roles_really_move_the_case(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = _open(desk, shop)
    moved = desk.act(shop, case["id"], "approve", "admin").json()
    assert moved["state"] == "awaiting_return"
    assert moved["events"][-1]["actor"].startswith("admin")


def test_mark_refunded_checks_role_and_state_first(desk: Desk) -> None:
    shop = desk.shop("taobao")
    case = _open(desk, shop)
    res = desk.act(shop, case["id"], "mark_refunded", "buyer", {"reference": "X"}, expect=None)
    assert res.status_code == 403
    res = desk.act(shop, case["id"], "mark_refunded", "finance", {"reference": "X"}, expect=None)
    assert res.status_code == 409


# --- the routes that are not case actions ----------------------------------------------------
# Who may call each route (the service or the route checks it): every other token role must
# answer 403 `forbidden`. A route added to the API without a row here fails the last test.
STAFF = ("admin", "agent", "warehouse", "finance")
EVERYONE = TOKEN_ROLES
ROUTE_ROLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/shop"): STAFF,  # the merchant policy: not the platform's, not the buyer's
    ("PUT", "/shop/policy"): ("admin",),
    ("GET", "/clock"): EVERYONE,
    ("POST", "/clock/advance"): ("admin",),
    ("GET", "/reports/summary"): ("admin", "agent", "finance"),
    ("POST", "/orders"): ("admin", "platform"),
    ("GET", "/orders/{order_id}"): EVERYONE,
    ("POST", "/cases"): ("admin", "agent", "platform", "buyer"),
    ("GET", "/cases/{case_id}"): EVERYONE,
    ("GET", "/cases"): EVERYONE,
    ("POST", "/parcels/scan"): ("admin", "warehouse"),
    ("GET", "/parcels"): ("admin", "agent", "warehouse"),
    ("POST", "/parcels/{parcel_id}/attach"): ("admin", "agent", "warehouse"),
    ("GET", "/refunds"): ("admin", "agent", "finance"),
    ("GET", "/reconciliation/differences"): ("admin", "finance"),
    ("POST", "/cases/{case_id}/nudge"): ("admin", "agent"),
    ("POST", "/cases/{case_id}/evidence"): EVERYONE,
    ("GET", "/cases/{case_id}/evidence"): EVERYONE,
    ("GET", "/cases/{case_id}/evidence/{evidence_id}"): EVERYONE,
    ("POST", "/cases/{case_id}/messages"): EVERYONE,
    ("GET", "/cases/{case_id}/messages"): EVERYONE,
    ("POST", "/cases/{case_id}/rating"): ("buyer",),
    ("POST", "/cases/{case_id}/upstream-claims"): ("admin", "agent"),
    ("GET", "/cases/{case_id}/upstream-claims"): ("admin", "agent", "finance"),
    ("GET", "/upstream-claims"): ("admin", "agent", "finance"),
    ("GET", "/upstream-claims/unrecovered"): ("admin", "agent", "finance"),
    ("GET", "/upstream-claims/{claim_id}"): ("admin", "agent", "finance"),
    ("POST", "/upstream-claims/{claim_id}/recovery"): ("admin", "finance"),
    ("POST", "/upstream-claims/{claim_id}/refuse"): ("admin", "agent", "finance"),
    ("POST", "/upstream-claims/{claim_id}/withdraw"): ("admin", "agent"),
}
# Routes nobody needs a role for, and the case actions (the matrix above covers them).
# A platform push carries the platform's signature, not a token (tests/platforms/).
UNCHECKED = {("GET", "/health"), ("GET", "/health/live"), ("GET", "/health/ready"),
             ("POST", "/cases/{case_id}/actions/{action}"), ("POST", "/push/{platform}/{shop_id}")}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _call(desk: Desk, shop: Shop, method: str, path: str, role: str, ids: dict[str, str]) -> Any:
    url = "/api/v1" + path.format(**ids)
    if path == "/reports/summary":
        url += "?from=2020-01-01T00:00:00%2B08:00&to=2040-01-01T00:00:00%2B08:00"
    if path == "/refunds":
        url += f"?case_id={ids['case_id']}"
    headers = shop.auth(role)
    if path.endswith("/evidence") and method == "POST":
        return desk.client.post(url, files={"file": ("a.png", PNG, "image/png")}, headers=headers)
    bodies: dict[str, Any] = {
        "/orders": desk.order_body(shop), "/clock/advance": {"by": "1m"},
        "/parcels/scan": {"waybill": "SF-ROLE-1"}, "/cases/{case_id}/rating": {"stars": 5},
        "/shop/policy": {}, "/cases/{case_id}/messages": {"body": "hello"},
        "/parcels/{parcel_id}/attach": {"case_id": ids["case_id"]},
        "/cases": {"order_id": ids["order_id"], "type": "refund_only", "reason": "no_reason",
                   "lines": [{"line_id": ids["line_id"], "quantity": 1}]},
        "/cases/{case_id}/upstream-claims": {"supplier": "S", "supplier_order_id": "1",
                                             "amount": 100, "description": "d",
                                             "evidence_count": 0},
        "/upstream-claims/{claim_id}/recovery": {"amount": 1, "currency": "CNY"},
    }
    return desk.client.request(method, url, json=bodies.get(path, {}) if method != "GET" else None,
                               headers=headers)


def test_every_route_answers_403_to_the_roles_it_is_not_for(desk: Desk) -> None:
    """Each (route, role): 403 `forbidden` exactly when the role is not in ROUTE_ROLES (an
    allowed role may still meet a 404 or a 409 of the record itself, never a 403)."""
    shop = desk.shop("alibaba_1688")
    order = desk.order(shop)
    case = _open(desk, shop)
    ids = {"case_id": case["id"], "order_id": order["id"], "line_id": order["lines"][0]["id"],
           "evidence_id": "missing", "parcel_id": "missing", "claim_id": "missing"}
    wrong: list[str] = []
    for (method, path), allowed in ROUTE_ROLES.items():
        for role in TOKEN_ROLES:
            res = _call(desk, shop, method, path, role, ids)
            forbidden = res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
            if forbidden == (role in allowed):
                wrong.append(f"{method} {path} as {role}: {res.status_code} {res.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_every_api_route_has_its_roles_listed(desk: Desk) -> None:
    """Every operation of the OpenAPI document has a row above (the case actions aside)."""
    paths = desk.client.get("/api/v1/openapi.json").json()["paths"]
    routes = {(method.upper(), path.removeprefix("/api/v1")) for path, ops in paths.items()
              for method in ops
              if "/actions/" not in path and method != "parameters"}
    assert routes - UNCHECKED == set(ROUTE_ROLES), routes ^ set(ROUTE_ROLES)
