"""Decisions on one order take turns (PostgreSQL; SQLite's writer transaction already
serialises them): opening a case and planning a refund hold the order row, and what they
count — the order's other cases, its ledger — is read after the lock.

Each test pauses the first decision just before its commit, still holding the order, and
checks that the second waits for it and then counts what the first wrote. Without the
lock the second finishes at once and counts without the first.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aftersales.adapters.clock import FixedClock
from aftersales.domain.errors import DomainError
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal, UnitOfWork
from conftest import T0, Make, migrated_engine, postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def app(pg_url: str) -> Iterator[App]:
    with migrated_engine(pg_url) as engine:
        yield bootstrap(engine=engine, clock=FixedClock(T0))


@pytest.fixture
def make(app: App) -> Make:
    return Make(app)


class _PausedCommit:
    """A unit of work whose commit waits for `go` after saying it got there."""

    def __init__(self, unit: UnitOfWork, there: threading.Event, go: threading.Event) -> None:
        self.unit, self.there, self.go = unit, there, go

    def __enter__(self) -> _PausedCommit:
        self.unit.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unit.__exit__(*exc)

    @property
    def store(self) -> Any:
        return self.unit.store

    def commit(self) -> None:
        self.there.set()
        assert self.go.wait(10)
        self.unit.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unit, name)


def _paused(deps: Deps, there: threading.Event, go: threading.Event) -> Deps:
    """`deps` whose units of work (both kinds) pause before committing."""
    def wrap(make_unit: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
        return lambda: _PausedCommit(make_unit(), there, go)  # type: ignore[return-value]

    attempt = None if deps.attempt is None else wrap(deps.attempt)
    return dataclasses.replace(deps, uow=wrap(deps.uow), attempt=attempt)


def _one_after_the_other(first: Callable[[], Any], second: Callable[[], Any],
                         there: threading.Event, go: threading.Event) -> list[Any]:
    """Run `first` until it pauses before its commit, then `second`; check `second` waits,
    let `first` commit; each one's result or error, in that order."""
    results: list[Any] = [None, None]

    def run(i: int, work: Callable[[], Any]) -> None:
        try:
            results[i] = work()
        except DomainError as exc:
            results[i] = exc

    one = threading.Thread(target=run, args=(0, first))
    one.start()
    assert there.wait(10), "the first decision did not reach its commit"
    two = threading.Thread(target=run, args=(1, second))
    two.start()
    two.join(0.5)
    waited = two.is_alive()
    go.set()
    one.join(10)
    two.join(10)
    assert waited, "the second decision did not wait for the first's order"
    return results


def test_a_second_opening_on_the_line_waits_and_is_refused(app: App, make: Make) -> None:
    shop = make.shop("taobao")
    order = make.order(shop)
    buyer = make.buyer(order)
    request = cases.NewCase(order_id=order.id, type="refund_only", reason="not_as_described",
                            lines=((order.lines[0].id, 1),), description="")
    there, go = threading.Event(), threading.Event()
    first, second = _one_after_the_other(
        lambda: cases.open_case(_paused(app.deps, there, go), buyer, request),
        lambda: cases.open_case(app.deps, buyer, request), there, go)
    assert not isinstance(first, Exception), first
    assert isinstance(second, DomainError) and second.code == "after_sales_already_used", second


def test_a_second_refund_on_the_order_waits_and_counts_the_first(app: App, make: Make) -> None:
    shop = make.shop("kuaishou", sandbox=True)
    order = make.order(shop, price=10000)
    one, two = (make.case(shop, order, type="refund_only", reason="not_as_described").case
                for _ in range(2))
    agent = Principal(shop.shop.id, Role.agent, None, "agent1")
    there, go = threading.Event(), threading.Event()
    _one_after_the_other(
        lambda: cases.act(_paused(app.deps, there, go), agent, one.id, "approve"),
        lambda: cases.act(app.deps, agent, two.id, "approve"), there, go)
    with app.engine.connect() as conn:
        paid = conn.exec_driver_sql(
            "SELECT case_id, amount FROM refunds WHERE order_id = %(o)s AND status = "
            "'succeeded'", {"o": order.id}).all()
    assert dict(paid) == {one.id: 10000}, paid
