"""Builders for the domain tests: orders, profiles, cases and their contexts.

Every builder has sensible defaults so a test states only what its rule is about.
Profiles are built from dicts with `profile_from_dict` (the same validation the TOML
files go through); `all_profiles()` adds the shipped platform profiles once they exist.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aftersales.domain.case import ActionRequest, Case, CaseContext, CaseLine, Inspection
from aftersales.domain.events import Actor
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.money import Money
from aftersales.domain.orders import Extra, Order, OrderLine
from aftersales.domain.profile import Profile, profile_from_dict
from aftersales.domain.refunds import refundable
from aftersales.domain.vocabulary import CaseType, Condition, PaymentMethod, Reason, Role, State

# A fixed "now": 2026-03-02 10:00 in Shanghai. Nothing in the domain reads the wall clock.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SHANGHAI = "Asia/Shanghai"

AGENT = Actor(Role.agent, "a1")
ADMIN = Actor(Role.admin, "root")
WAREHOUSE = Actor(Role.warehouse, "w1")
FINANCE = Actor(Role.finance, "f1")
BUYER = Actor(Role.buyer)
PLATFORM = Actor(Role.platform)
SYSTEM = Actor(Role.system)
ACTORS = {r: Actor(r, "x1") for r in Role}


def cny(amount: int) -> Money:
    return Money(amount, "CNY")


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def d(days: float) -> timedelta:
    return timedelta(days=days)


# --- orders -----------------------------------------------------------------------------

def extra(name: str, price: int, currency: str = "CNY") -> Extra:
    return Extra(name, Money(price, currency))


def make_line(line_id: str = "L1", *, sku: str | None = None, unit_price: int = 10000,
              quantity: int = 1, paid: int | None = None, currency: str = "CNY",
              category: str | None = None, no_reason_excluded: bool = False,
              gifts: Iterable[Extra] = (), accessories: Iterable[Extra] = ()) -> OrderLine:
    paid_amount = unit_price * quantity if paid is None else paid
    return OrderLine(
        id=line_id, sku=sku or f"SKU-{line_id}", name=f"product {line_id}",
        unit_price=Money(unit_price, currency), quantity=quantity,
        paid_amount=Money(paid_amount, currency), category=category,
        no_reason_excluded=no_reason_excluded, gifts=tuple(gifts), accessories=tuple(accessories),
    )


def make_order(lines: Iterable[OrderLine] | None = None, *, freight: int = 0,
               free_shipping: bool | None = None, currency: str = "CNY",
               paid_at: datetime | None = None, shipped_at: datetime | None = None,
               delivered_at: datetime | None = None, completed_at: datetime | None = None,
               order_id: str = "O1") -> Order:
    return Order(
        id=order_id, shop_id="S1", platform_order_id=f"P-{order_id}", buyer_id="B1",
        paid_at=paid_at or T0 - d(5), payment_method=PaymentMethod.alipay, currency=currency,
        freight=Money(freight, currency),
        free_shipping=(freight == 0) if free_shipping is None else free_shipping,
        lines=tuple(lines) if lines is not None else (make_line(),),
        shipped_at=shipped_at, delivered_at=delivered_at, completed_at=completed_at,
    )


def delivered_order(**kw: Any) -> Order:
    """Shipped four days ago, signed for two days ago: inside every window."""
    kw.setdefault("shipped_at", T0 - d(4))
    kw.setdefault("delivered_at", T0 - d(2))
    return make_order(**kw)


# --- profiles ---------------------------------------------------------------------------

def sourced(value: Any, confidence: str = "official") -> dict[str, Any]:
    return {"value": value, "source": "test", "confidence": confidence}


def deadline_rule(rule: str, state: str, outcome: str, *, hours: int | None = None,
                  days: int | None = None, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"rule": rule, "state": state, "outcome": outcome, "source": "test",
                             "confidence": "secondary", "zh": f"{rule} 到期", "en": f"{rule} passed"}
    if hours is not None:
        entry["hours"] = hours
    if days is not None:
        entry["days"] = days
    entry.update(more)
    return entry


def profile_dict(pid: str = "testplat", *, rules: Mapping[str, Any] | None = None,
                 deadlines: Iterable[Mapping[str, Any]] = (),
                 freight: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "profile": {"id": pid, "version": "test-1", "name": f"Test {pid}", "currencies": ["CNY"]},
        "rules": {k: sourced(v) for k, v in (rules or {}).items()},
        "deadlines": [dict(x) for x in deadlines],
        "freight": {k: dict(v) for k, v in (freight or {}).items()},
        "status_map": {},
    }


def make_profile(pid: str = "testplat", **kw: Any) -> Profile:
    return profile_from_dict(profile_dict(pid, **kw), f"{pid}.toml")


def taobao_like() -> Profile:
    """The Taobao rows of PLATFORMS.md, as a test profile (independent of the shipped TOML)."""
    return make_profile(
        "taobao",
        rules={
            "no_reason_days": 7,
            "after_sales_window_days_after_completion": 15,
            "once_per_line": True,
            "cannot_refuse": ["unshipped", "no_reason", "online_game"],
            "resubmission_allowed": True,
        },
        deadlines=[
            deadline_rule("taobao.unshipped_refund_only", "requested", "auto_refund", hours=24,
                          types=["refund_only"], when={"order_shipped": False}),
            deadline_rule("taobao.shipped_refund_only", "requested", "auto_approve", hours=36,
                          types=["refund_only"],
                          when={"order_shipped": True, "order_delivered": False}),
            deadline_rule("taobao.return_review", "requested", "auto_approve", days=5,
                          types=["return_refund"]),
            deadline_rule("taobao.buyer_ship_return", "awaiting_return", "auto_close", days=7),
            deadline_rule("taobao.seller_confirm_receipt", "return_in_transit",
                          "auto_confirm_receipt", days=10),
            deadline_rule("taobao.after_rejection", "rejected", "auto_close", days=5),
        ],
        freight={
            "merchant": {"outbound_refunded": True, "return_paid_by": "merchant"},
            "carrier": {"outbound_refunded": True, "return_paid_by": "merchant"},
            "buyer": {"outbound_refunded": False, "return_paid_by": "buyer"},
            "tracking": {"outbound_refunded": True, "return_paid_by": "buyer"},
            "proof": {"outbound_refunded": True, "return_paid_by": "buyer"},
            "agent": {"outbound_refunded": True, "return_paid_by": "buyer"},
        },
    )


def kuaishou_like() -> Profile:
    """The Kuaishou rows of PLATFORMS.md (7 d vs 10 d receipt conflict kept as alternatives)."""
    return make_profile(
        "kuaishou",
        rules={"resubmission_allowed": True},
        deadlines=[
            deadline_rule("kuaishou.merchant_review", "requested", "auto_approve", hours=48,
                          types=["refund_only", "return_refund"]),
            deadline_rule("kuaishou.buyer_ship_return", "awaiting_return", "auto_close", days=10),
            deadline_rule("kuaishou.confirm_receipt", "return_in_transit", "auto_confirm_receipt",
                          days=7, alternatives=[{"days": 10, "source": "merchant guide",
                                                 "confidence": "unconfirmed"}]),
            deadline_rule("kuaishou.reissue_ship", "awaiting_reshipment", "flag_overdue",
                          hours=24, types=["reissue"]),
            deadline_rule("kuaishou.refused_delivery", "requested", "auto_refund", days=5,
                          when={"buyer_refused_delivery": True}),
        ],
    )


def aliexpress_like() -> Profile:
    return make_profile(
        "aliexpress",
        rules={"dispute_window_from_days_after_shipment": 11,
               "dispute_window_to_days_after_delivery": 15},
        deadlines=[
            deadline_rule("aliexpress.seller_respond", "requested", "auto_refund", days=5),
            deadline_rule("aliexpress.buyer_ship_return", "awaiting_return", "pay_seller", days=10),
            deadline_rule("aliexpress.confirm_receipt", "return_in_transit",
                          "auto_confirm_receipt", days=30),
        ],
    )


def own_store_like() -> Profile:
    return make_profile(
        "own_store",
        rules={"escalation_allowed": False},
        deadlines=[deadline_rule("own_store.first_response", "requested", "flag_overdue", hours=24)],
    )


def bundled_profiles() -> dict[str, Profile]:
    """The platform profiles shipped with the product: the loader when it exists, else the
    TOML files read directly; empty while neither has landed."""
    try:
        from aftersales.adapters.profiles import load_all  # type: ignore[import-not-found]
    except ImportError:
        load_all = None
    if load_all is not None:
        loaded = load_all()
        items = loaded.values() if isinstance(loaded, Mapping) else loaded
        return {p.id: p for p in items}
    folder = Path(__file__).resolve().parents[2] / "src" / "aftersales" / "profiles"
    found: dict[str, Profile] = {}
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as fh:
            profile = profile_from_dict(tomllib.load(fh), path.name)
        found[profile.id] = profile
    return found


def all_profiles() -> dict[str, Profile]:
    """Every shipped profile, plus the test profiles for platforms not shipped yet."""
    profiles = {p.id: p for p in (taobao_like(), kuaishou_like(), aliexpress_like(), own_store_like())}
    profiles = {f"test_{k}": v for k, v in profiles.items()}
    profiles.update(bundled_profiles())
    return profiles


# --- cases ------------------------------------------------------------------------------

def make_case(case_type: CaseType = CaseType.return_refund, reason: Reason = Reason.quality_issue,
              *, order: Order | None = None, lines: Iterable[tuple[str, int]] | None = None,
              requested: int | None = None, opened_at: datetime = T0,
              profile: Profile | None = None, state: State = State.requested,
              currency: str = "CNY") -> Case:
    order = order or delivered_order()
    if lines is None:
        lines = [(ln.id, ln.quantity) for ln in order.lines]
    case_lines = tuple(CaseLine(lid, q) for lid, q in lines)
    if requested is None:
        requested = sum(
            order.line(lid).paid_amount.share(q, order.line(lid).quantity).amount
            if q < order.line(lid).quantity else order.line(lid).paid_amount.amount
            for lid, q in lines
        )
    profile = profile or make_profile()
    return Case(
        id="C1", shop_id="S1", order_id=order.id, buyer_id=order.buyer_id, type=case_type,
        reason=reason, lines=case_lines, requested_amount=Money(requested, currency),
        opened_at=opened_at, profile_id=profile.id, profile_version=profile.version, state=state,
    )


def make_ctx(case: Case, order: Order | None = None, profile: Profile | None = None, *,
             refunded_by_line: Mapping[str, Money] | None = None, order_refunded: int = 0,
             policy: MerchantPolicy | None = None, offline_pending: bool = False,
             timezone: str = SHANGHAI) -> CaseContext:
    order = order or delivered_order()
    profile = profile or make_profile()
    left = refundable(order, [(ln.line_id, ln.quantity) for ln in case.lines],
                      refunded_by_line or {}, Money(order_refunded, order.currency))
    return CaseContext(order=order, profile=profile, refundable=left,
                       offline_pending=offline_pending, timezone=timezone,
                       policy=policy or MerchantPolicy())


def setup(case_type: CaseType = CaseType.return_refund, reason: Reason = Reason.quality_issue, *,
          order: Order | None = None, profile: Profile | None = None, **kw: Any
          ) -> tuple[Case, CaseContext]:
    """A case and its context over the same order and profile."""
    order = order or delivered_order()
    profile = profile or make_profile()
    ctx_kw = {k: kw.pop(k) for k in ("refunded_by_line", "order_refunded", "policy",
                                     "offline_pending", "timezone") if k in kw}
    case = make_case(case_type, reason, order=order, profile=profile, **kw)
    return case, make_ctx(case, order, profile, **ctx_kw)


def req(**kw: Any) -> ActionRequest:
    return ActionRequest(**kw)


def inspection(verdict: str = "accept", *, condition: Condition = Condition.new,
               sku_matches: bool = True, accessories_complete: bool = True,
               gifts_returned: bool = True, note: str | None = None, **more: Any) -> Inspection:
    return Inspection(verdict=verdict, condition=condition, sku_matches=sku_matches,
                      accessories_complete=accessories_complete, gifts_returned=gifts_returned,
                      note=note, **more)


# Actions (with actor and payload) that walk a case along the happy path.
STEPS: dict[str, tuple[Actor, ActionRequest]] = {
    "approve": (AGENT, ActionRequest()),
    "reject": (AGENT, ActionRequest(reason_code="policy", explanation="not eligible")),
    "ship_return": (BUYER, ActionRequest(carrier="SF", waybill="SF123", prepaid=True)),
    "receive": (WAREHOUSE, ActionRequest(prepaid=True)),
    "inspect_accept": (WAREHOUSE, ActionRequest(inspection=Inspection(
        "accept", Condition.new, True, True, True))),
    "inspect_refuse": (WAREHOUSE, ActionRequest(inspection=Inspection(
        "refuse", Condition.used, True, True, True, note="used"))),
    "escalate": (BUYER, ActionRequest(statement="the merchant is wrong")),
    "refund_succeeded": (SYSTEM, ActionRequest()),
    "reship": (WAREHOUSE, ActionRequest(carrier="SF", waybill="SF999")),
}


def walk(case: Case, ctx: CaseContext, *steps: str, at: datetime | None = None) -> Case:
    """Apply happy-path steps by name, one hour apart."""
    now = at or case.state_entered_at or T0
    for step in steps:
        now = now + h(1)
        actor, body = STEPS[step]
        action = step.split("_")[0] if step.startswith("inspect") else step
        case.act(action, actor, now, ctx, body)
    return case


def snapshot(case: Case) -> dict[str, Any]:
    """Every field of the case, for before/after comparisons. Containers are copied (the
    event log, fired keys); what they hold is frozen, so a shallow copy is enough."""
    return {f.name: copy.copy(getattr(case, f.name)) for f in dataclasses.fields(case)}


# Re-exported for the tests' convenience.
__all__ = [
    "ACTORS", "ADMIN", "AGENT", "BUYER", "FINANCE", "PLATFORM", "SHANGHAI", "STEPS", "SYSTEM", "T0",
    "WAREHOUSE", "Condition", "aliexpress_like", "all_profiles", "bundled_profiles", "cny", "d",
    "deadline_rule", "delivered_order", "extra", "h", "inspection", "kuaishou_like", "make_case",
    "make_ctx", "make_line", "make_order", "make_profile", "own_store_like", "profile_dict", "req",
    "setup", "snapshot", "sourced", "taobao_like", "walk",
]
