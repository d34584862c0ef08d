"""Races on PostgreSQL (READ COMMITTED): two requests at once must reach an outcome one
after the other could give. SQLite's writer transaction (BEGIN IMMEDIATE) already
serialises them.

A check that counts rows no lock covers lets two requests each decide without the other:
two cases on one once-per-line line, one refund's money spent twice, a buyer's
auto-approval limit passed twice, a clock set back; where a unique key catches the
duplicate, the second request failed with a 500 instead of the documented answer. Each
test stops the first request at a chosen point (before its commit, or after its read)
while the second runs, then lets it go. Every test here failed on the code before the
fixes (017c816, and the commit that added this module).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from aftersales.domain.errors import DomainError
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import CaseType, Reason, Role, State
from aftersales.entrypoints.bootstrap import App
from aftersales.service import cases, orders, shops, sync, timers
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal
from aftersales.service.repositories import UnitOfWork
from conftest import T0, Make

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: App) -> App:
    return pg_app  # (Make and the tests below run on PostgreSQL only)


class _PausedCommit:
    """A unit of work whose commit waits for `go` after saying it got there."""

    def __init__(self, unit: UnitOfWork, there: threading.Event, go: threading.Event) -> None:
        self.unit, self.there, self.go = unit, there, go

    def __enter__(self) -> _PausedCommit:
        self.unit.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unit.__exit__(*exc)

    def commit(self) -> None:
        self.there.set()
        assert self.go.wait(10)
        self.unit.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unit, name)


def _paused(deps: Deps, there: threading.Event, go: threading.Event) -> Deps:
    """`deps` whose units of work pause before committing."""
    def wrap(make_unit: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
        return lambda: _PausedCommit(make_unit(), there, go)  # type: ignore[return-value]

    return dataclasses.replace(deps, uow=wrap(deps.uow))


def _first_paused_then_second(first: Callable[[], Any], second: Callable[[], Any],
                              there: threading.Event, go: threading.Event, *,
                              must_wait: bool = False) -> list[Any]:
    """Run `first` until it pauses before its commit, then `second` (given half a second
    to finish or block), let `first` commit; each one's result or exception, in order.
    `must_wait`: `second` must still be waiting when `first` is let go."""
    results: list[Any] = [None, None]

    def run(i: int, work: Callable[[], Any]) -> None:
        try:
            results[i] = work()
        except Exception as exc:  # a refusal, or an IntegrityError, is an outcome here
            results[i] = exc

    one = threading.Thread(target=run, args=(0, first))
    one.start()
    assert there.wait(10), "the first request did not reach its commit"
    two = threading.Thread(target=run, args=(1, second))
    two.start()
    two.join(0.5)
    waited = two.is_alive()
    go.set()
    one.join(10)
    two.join(10)
    assert not one.is_alive() and not two.is_alive(), "a request hung"
    if must_wait:
        assert waited, "the second decision did not wait for the first's order"
    return results


def test_a_second_opening_on_the_line_waits_and_is_refused(app: App, make: Make) -> None:
    shop = make.shop("taobao")
    order = make.order(shop)
    buyer = make.buyer(order)
    request = cases.NewCase(order_id=order.id, type="refund_only", reason="not_as_described",
                            lines=((order.lines[0].id, 1),), description="")
    there, go = threading.Event(), threading.Event()
    first, second = _first_paused_then_second(
        lambda: cases.open_case(_paused(app.deps, there, go), buyer, request),
        lambda: cases.open_case(app.deps, buyer, request), there, go, must_wait=True)
    assert not isinstance(first, Exception), first
    assert isinstance(second, DomainError) and second.code == "after_sales_already_used", second


def test_a_second_refund_on_the_order_waits_and_counts_the_first(app: App, make: Make) -> None:
    shop = make.shop("kuaishou", sandbox=True)
    order = make.order(shop, price=10000)
    one, two = (make.case(shop, order, type="refund_only", reason="not_as_described").case
                for _ in range(2))
    agent = Principal(shop.shop.id, Role.agent, None, "agent1")
    there, go = threading.Event(), threading.Event()
    _first_paused_then_second(
        lambda: cases.act(_paused(app.deps, there, go), agent, one.id, "approve"),
        lambda: cases.act(app.deps, agent, two.id, "approve"), there, go, must_wait=True)
    with app.engine.connect() as conn:
        paid = conn.exec_driver_sql(
            "SELECT case_id, amount FROM refunds WHERE order_id = %(o)s AND status = "
            "'succeeded'", {"o": order.id}).all()
    assert dict(paid) == {one.id: 10000}, paid


def _succeeded(app: App, order_id: str) -> dict[str, int]:
    with app.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT case_id, amount FROM refunds WHERE order_id = %(o)s AND status = "
            "'succeeded'", {"o": order_id}).all()
    return {r[0]: r[1] for r in rows}


# --- auto-approval's "buyer's earlier cases" limit (service/cases.py: recommend) -----------
def test_a_buyers_parallel_openings_on_two_orders_are_not_both_auto_approved(
        app: App, make: Make) -> None:
    """The auto-approval rule counts the buyer's cases on every order (`max_buyer_cases`),
    which the order lock does not cover: openings by one buyer take turns (Store.hold).
    Before, two openings on two orders at once each counted 0 earlier cases and both were
    paid at once; one after the other, the second waits for an agent."""
    policy = MerchantPolicy.from_dict({"auto_approve": [{
        "max_amount": 30000, "types": ["refund_only"], "max_buyer_cases": 0,
        "no_abuse": True}], "require_evidence": False})
    shop = shops.create_shop(app.deps, "自动同意店", "kuaishou", sandbox=True, policy=policy)
    one, two = make.order(shop, price=10000), make.order(shop, price=10000)
    buyer = make.buyer(one)

    def request(order: Any) -> cases.NewCase:
        return cases.NewCase(order_id=order.id, type="refund_only", reason="not_as_described",
                             lines=((order.lines[0].id, 1),), description="")

    there, go = threading.Event(), threading.Event()
    first, second = _first_paused_then_second(
        lambda: cases.open_case(_paused(app.deps, there, go), buyer, request(one)),
        lambda: cases.open_case(app.deps, buyer, request(two)), there, go)
    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), second
    assert first.case.state is State.completed  # the rule applies to the buyer's first case
    paid = {**_succeeded(app, one.id), **_succeeded(app, two.id)}
    assert second.case.state is State.requested and paid == {first.case.id: 10000}, (
        f"both openings auto-approved and paid: {paid}")


# --- one order posted twice at once (service/orders.py: import_order) ----------------------
def test_an_order_posted_twice_at_once_returns_the_first(app: App, make: Make) -> None:
    """The second of two posts at once finds nothing on its look-up; its insert waits for
    the first's and yields to it (ON CONFLICT DO NOTHING), and it answers with the first
    order (200, created=False) as one after the other does. Before, the unique key failed
    it with an IntegrityError (HTTP 500)."""
    shop = make.shop("kuaishou")
    platform = make.principal(shop, "platform")
    line = orders.NewLine(sku="SKU-1", name="连衣裙", unit_price=10000, quantity=1,
                          paid_amount=10000)
    data = orders.NewOrder(platform_order_id="PO-TWICE", buyer_id="buyer-1",
                           paid_at=T0 - timedelta(days=3), payment_method="alipay",
                           currency="CNY", freight=0, free_shipping=True, lines=(line,))
    there, go = threading.Event(), threading.Event()
    first, second = _first_paused_then_second(
        lambda: orders.import_order(_paused(app.deps, there, go), platform, data),
        lambda: orders.import_order(app.deps, platform, data), there, go)
    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), f"the second post failed: {second!r}"
    assert second == (first[0], False)


# --- one new platform case synced twice at once (service/sync.py: apply_snapshot) ----------
def test_a_new_platform_case_synced_twice_at_once_keeps_the_newer_version(
        app: App, make: Make) -> None:
    """Locking the case finds no row while the case does not exist yet: snapshots of one
    platform case take turns on its id (Store.hold), so v2 arriving while v1 creates the
    case updates it, as one after the other. Before, v2 also created it and failed on the
    unique key (HTTP 500), its status lost until the platform sent it again."""
    shop = make.shop("kuaishou")
    order = make.order(shop, price=10000)
    platform = Principal(shop.shop.id, Role.platform, None, None)

    def snap(version: int, state: State, status: str) -> PlatformSnapshot:
        return PlatformSnapshot(
            platform="kuaishou", platform_case_id="KS-NEW-1",
            platform_order_id=order.platform_order_id, platform_status=status, state=state,
            version=version, type=CaseType.return_refund, reason=Reason.quality_issue,
            requested_amount=Money(10000, "CNY"), buyer_id=order.buyer_id)

    there, go = threading.Event(), threading.Event()
    first, second = _first_paused_then_second(
        lambda: sync.apply_snapshot(_paused(app.deps, there, go), platform,
                                    snap(1, State.requested, "WAIT_SELLER_AGREE")),
        lambda: sync.apply_snapshot(app.deps, platform,
                                    snap(2, State.awaiting_return, "WAIT_BUYER_RETURN")),
        there, go)
    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), f"the second snapshot failed: {second!r}"
    assert second[1] == "updated" and second[0].case.platform_version == 2


# --- the sandbox clock only moves forward (service/timers.py: advance_clock) ---------------
def test_two_clock_advances_at_once_never_move_the_clock_back(app: App, make: Make) -> None:
    """An advance moves the clock step by step, each step only if the clock still reads
    what the advance last set: an advance to +1 d that read the clock before an advance
    to +2 d finished stops with 409 `clock_moved` instead of setting the clock back (after
    +2 d's deadlines fired), as it did before. (Two `by="1d"` at once: the second stops
    the same way rather than both landing on one day.)"""
    shop = make.shop("kuaishou", sandbox=True)
    admin = make.principal(shop, "admin")
    start = T0
    read, done = threading.Event(), threading.Event()
    calls = 0

    def gated(make_unit: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
        def unit() -> UnitOfWork:
            nonlocal calls
            calls += 1
            if calls == 2:  # the clock has been read and checked: let the other run first
                read.set()
                assert done.wait(10)
            return make_unit()
        return unit

    late = dataclasses.replace(app.deps, uow=gated(app.deps.uow))
    results: list[Any] = [None]

    def run_late() -> None:
        try:
            results[0] = timers.advance_clock(late, admin, to=start + timedelta(days=1))
        except Exception as exc:
            results[0] = exc

    thread = threading.Thread(target=run_late)
    thread.start()
    assert read.wait(10)
    timers.advance_clock(app.deps, admin, to=start + timedelta(days=2))
    done.set()
    thread.join(10)
    now = timers.shop_now(app.deps, admin)
    assert now == start + timedelta(days=2), (
        f"the sandbox clock went back to {now} after reaching {start + timedelta(days=2)} "
        f"(the late advance answered {results[0]!r})")
    assert isinstance(results[0], DomainError) and results[0].code == "clock_moved", results[0]


# --- one username added twice at once (service/users.py: create_user) --------------------
def test_a_username_added_twice_at_once_is_taken_for_the_second(app: App, make: Make) -> None:
    """The second of two additions at once finds no such user on its look-up; its insert
    waits for the first's and yields, and it answers `username_taken` as one after the
    other does. Before, the unique key failed it with an IntegrityError (HTTP 500)."""
    from aftersales.entrypoints.console.staff import create_user

    shop = make.shop("taobao")
    there, go = threading.Event(), threading.Event()
    first, second = _first_paused_then_second(
        lambda: create_user(_paused(app.deps, there, go), shop.shop.id, "xiaomei", "pass-1234",
                            "agent"),
        lambda: create_user(app.deps, shop.shop.id, "xiaomei", "pass-1234", "agent"),
        there, go)
    assert not isinstance(first, Exception), first
    assert isinstance(second, DomainError) and second.code == "username_taken", repr(second)
