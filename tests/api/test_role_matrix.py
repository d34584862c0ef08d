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
