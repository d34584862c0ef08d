"""The SQL repositories on both databases: what goes in comes out, and the constraints hold.

Why by hand and not only through the handlers: a field the mapping forgets (say, the
inspection's dispositions, or a platform deadline's state sequence) is silently lost on
the next load; comparing every field of a fully populated case catches that at once.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from aftersales.adapters.clock import FixedClock
from aftersales.adapters.db import tables as t
from aftersales.domain.case import Case, CaseLine, Inspection, Offer
from aftersales.domain.deadlines import Deadline
from aftersales.domain.events import SYSTEM, Actor
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import CaseType, Condition, Outcome, Reason, RefundMethod, Role, State
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service.errors import Conflict
from aftersales.service.ports import LedgerEntry
from conftest import T0, Make, migrated_engine

AGENT = Actor(Role.agent, "a1")


def _full_case(app: App, make: Make) -> Case:
    shop = make.shop("taobao")
    order = make.order(shop, quantity=2)
    cny = lambda v: Money(v, "CNY")  # noqa: E731
    return Case(
        id=app.deps.new_id(), shop_id=shop.shop.id, order_id=order.id, buyer_id=order.buyer_id,
        type=CaseType.exchange, reason=Reason.not_as_described,
        lines=(CaseLine(order.lines[0].id, 2),), requested_amount=cny(39800), opened_at=T0,
        profile_id="taobao", profile_version="2026-11-21", refund_method=RefundMethod.balance,
        description="颜色与图片不符 / not the colour shown", state=State.inspecting,
        state_entered_at=T0 + timedelta(hours=5), state_seq=3, approved_amount=cny(30000),
        offer=Offer(cny(12000), "部分退款"), overdue=True, fired={"1:taobao.x", "2:taobao.y"},
        received_at=T0 + timedelta(hours=5), return_carrier="顺丰速运", return_waybill="SF123",
        return_prepaid=False, return_freight=cny(1200), reship_carrier="中通", reship_waybill="ZT9",
        inspection=Inspection("accept", Condition.opened, True, False, True, tags_intact=False,
                              seal_intact=True, packaging_only_flaw=True, quality_problem_found=False,
                              note="吊牌已剪", dispositions={order.lines[0].id: "refurbish"}),
        buyer_refused_delivery=True, resubmissions=2, platform_case_id=f"PC-{app.deps.new_id()}",
        platform_status="WAIT_SELLER_CONFIRM_GOODS", platform_version=17,
        platform_deadline_at=T0 + timedelta(days=3), platform_deadline_seq=3, rating=4,
        first_response_at=T0 + timedelta(minutes=7), resolved_at=None,
    )


def _deadline(at_hours: int, key: str = "3:taobao.rule") -> Deadline:
    return Deadline(at=T0 + timedelta(hours=at_hours), outcome=Outcome.auto_confirm_receipt,
                    source="profile", rule="taobao.rule", key=key, started_at=T0,
                    confidence="official", explanation_zh="到期", explanation_en="due")


def test_order_round_trip(app: App, make: Make) -> None:
    shop = make.shop()
    order = make.order(shop, quantity=3, freight=800, gifts=(("面膜小样", 2500), ("发圈", 900)),
                       accessories=(("吊牌", 0), ("防尘袋", 500)))
    with app.deps.uow() as uow:
        assert uow.orders.get_order(shop.shop.id, order.id) == order
        assert uow.orders.find_order(shop.shop.id, order.platform_order_id) == order
        assert uow.orders.get_order("another-shop", order.id) is None


def test_case_with_every_field_round_trips(app: App, make: Make) -> None:
    case = _full_case(app, make)
    with app.deps.uow() as uow:
        uow.cases.add_case(case)
        uow.cases.save_case(case, _deadline(48), T0)
        uow.commit()
    with app.deps.uow() as uow:
        back = uow.cases.get_case(case.shop_id, case.id)
        by_platform = uow.cases.find_case_by_platform_id(case.shop_id, case.platform_case_id or "")
        bundle = uow.cases.get_case_bundle(case.shop_id, case.id)  # the JSON read path
        shop = uow.shops.get_shop(case.shop_id)
        order = uow.orders.get_order(case.shop_id, case.order_id)
        ledger = uow.ledger.refunds_for_order(case.shop_id, case.order_id)
    assert back is not None and by_platform is not None and by_platform.id == case.id
    assert bundle is not None
    assert (bundle.shop, bundle.order, bundle.ledger) == (shop, order, ledger)
    skip = {"events", "event_base", "events_saved"}
    for f in dataclasses.fields(Case):
        if f.name not in skip:
            assert getattr(back, f.name) == getattr(case, f.name), f.name
            assert getattr(bundle.case, f.name) == getattr(case, f.name), f.name
    assert bundle.case.event_base == back.event_base


def test_events_are_numbered_across_saves_and_a_stale_copy_conflicts(app: App, make: Make) -> None:
    loaded = make.case(make.shop())  # "opened" is event 1
    case_id, shop_id = loaded.case.id, loaded.case.shop_id
    with app.deps.uow() as uow:
        case = uow.cases.get_case(shop_id, case_id, lock=True)
        assert case is not None and case.event_base == 1
        case.record("message", AGENT, T0, "第一条")
        case.record("message", AGENT, T0, "second")
        uow.cases.save_case(case, None, T0)
        case.record("message", AGENT, T0, "third")
        uow.cases.save_case(case, None, T0)
        uow.commit()
    with app.deps.uow() as uow:
        stale = uow.cases.get_case(shop_id, case_id)
        events = uow.cases.events(shop_id, case_id)
        seqs = uow.conn.execute(select(t.case_events.c.seq).where(
            t.case_events.c.case_id == case_id).order_by(t.case_events.c.seq)).scalars().all()
    assert [e.explanation for e in events][1:] == ["第一条", "second", "third"]
    assert seqs == [1, 2, 3, 4]
    assert stale is not None
    with app.deps.uow() as uow:
        fresh = uow.cases.get_case(shop_id, case_id, lock=True)
        assert fresh is not None
        fresh.record("message", AGENT, T0, "fourth")
        uow.cases.save_case(fresh, None, T0)
        uow.commit()
    with app.deps.uow() as uow, pytest.raises(Conflict):
        stale.record("message", SYSTEM, T0, "lost update")
        uow.cases.save_case(stale, None, T0)


def test_deadline_rows_follow_the_case(app: App, make: Make) -> None:
    loaded = make.case(make.shop())
    case = loaded.case
    d = t.deadlines.c

    def rows() -> list[tuple[str, str]]:
        with app.deps.uow() as uow:
            return sorted((r.key, r.status) for r in uow.conn.execute(
                select(d.key, d.status).where(d.case_id == case.id)).all())

    def save(deadline: Deadline | None) -> None:
        with app.deps.uow() as uow:
            fresh = uow.cases.get_case(case.shop_id, case.id, lock=True)
            assert fresh is not None
            uow.cases.save_case(fresh, deadline, T0)
            uow.commit()

    save(_deadline(48, "9:a"))
    save(_deadline(48, "9:a"))  # unchanged: kept, not rewritten
    assert [r for r in rows() if r[0] == "9:a"] == [("9:a", "pending")]
    save(_deadline(72, "9:b"))
    assert ("9:a", "superseded") in rows() and ("9:b", "pending") in rows()
    save(_deadline(96, "9:a"))  # the same key again with another time: one row, pending
    assert [r for r in rows() if r[0] == "9:a"] == [("9:a", "pending")]
    save(None)
    assert all(status == "superseded" for _, status in rows())


def _entry(app: App, case: Case, kind: str = "goods") -> LedgerEntry:
    return LedgerEntry(id=app.deps.new_id(), shop_id=case.shop_id, case_id=case.id,
                       order_id=case.order_id, round=1, kind=kind, amount=Money(19900, "CNY"),
                       method="original", status="pending", created_at=T0,
                       lines={case.lines[0].line_id: 19900})


def test_a_refund_entry_is_recorded_exactly_once(app: App, make: Make) -> None:
    case = make.case(make.shop()).case
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def add() -> None:
        barrier.wait()  # on SQLite the transactions then queue at BEGIN IMMEDIATE
        with app.deps.uow() as uow:
            results.append(uow.ledger.add_refund(_entry(app, case)))
            uow.commit()

    threads = [threading.Thread(target=add) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False, False, False, True]
    with app.deps.uow() as uow:
        assert len(uow.ledger.refunds(case.shop_id, case_id=case.id)) == 1
        assert uow.ledger.add_refund(_entry(app, case, "freight")) is True  # another kind: its own entry
        uow.ledger.settle_refund(case.shop_id, uow.ledger.refunds(case.shop_id, case.id)[0].id,
                                "succeeded", "ref-1", T0)
        uow.commit()
    with app.deps.uow() as uow:
        entries = uow.ledger.refunds(case.shop_id, order_id=case.order_id)
        bundle = uow.cases.get_case_bundle(case.shop_id, case.id)
    assert bundle is not None and bundle.ledger == entries  # the JSON read path, same entries
    assert {e.kind for e in entries} == {"goods", "freight"}
    assert any(e.status == "succeeded" and e.reference == "ref-1" for e in entries)
    assert entries[0].lines == {case.lines[0].line_id: 19900}


def test_idempotency_key_is_claimed_once(app: App, make: Make) -> None:
    shop, other = make.shop(), make.shop()
    with app.deps.uow() as uow:
        assert uow.idempotency.claim_idempotency(shop.shop.id, "key-1", "h1", T0) is True
        assert uow.idempotency.claim_idempotency(shop.shop.id, "key-1", "h2", T0) is False
        assert uow.idempotency.get_idempotency(shop.shop.id, "key-1") == ("h1", None, None)
        uow.idempotency.finish_idempotency(shop.shop.id, "key-1", 201, '{"id": "x"}')
        uow.commit()
    with app.deps.uow() as uow:
        assert uow.idempotency.get_idempotency(shop.shop.id, "key-1") == ("h1", 201, '{"id": "x"}')
        assert uow.idempotency.claim_idempotency(other.shop.id, "key-1", "h1", T0) is True  # per shop


def test_claim_due_leaves_sandbox_shops_to_their_clock(app: App, make: Make, clock) -> None:
    live = make.case(make.shop("kuaishou")).case
    sandbox_shop = make.shop("kuaishou", sandbox=True)
    sandboxed = make.case(sandbox_shop).case
    later = T0 + timedelta(days=30)
    with app.deps.uow() as uow:
        every = {d.case_id for d in uow.deadlines.claim_due(later, 10_000)}
        live_only = {d.case_id for d in uow.deadlines.claim_due(later, 10_000, live_only=True)}
        one_shop = {d.case_id for d in uow.deadlines.claim_due(later, 10_000, sandbox_shop.shop.id)}
    assert {live.id, sandboxed.id} <= every
    assert live.id in live_only and sandboxed.id not in live_only
    assert one_shop == {sandboxed.id}
    with app.deps.uow() as uow:
        total = uow.conn.execute(select(func.count()).select_from(t.shops)).scalar_one()
    assert total >= 2


def test_a_locked_read_after_waiting_sees_what_the_lock_holder_committed(app: App, make: Make) -> None:
    """A second transaction waiting for the case lock must see, once it gets it, the ledger
    entries and events the first one committed (PostgreSQL's READ COMMITTED re-checks only
    the locked row of a statement that waited: the locking read notices the case's version
    moved and reads the bundle again)."""
    case = make.case(make.shop()).case
    got: list[object] = []
    history: list[list[str]] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait()
        with app.deps.uow() as uow:
            got.append(uow.cases.get_case_bundle(case.shop_id, case.id, lock=True))
            history.append([e.kind for e in uow.cases.events(case.shop_id, case.id)])

    waiter = threading.Thread(target=second)
    with app.deps.uow() as uow:
        first = uow.cases.get_case_bundle(case.shop_id, case.id, lock=True)
        assert first is not None and first.ledger == []
        waiter.start()
        holding.set()
        waiter.join(0.5)  # PostgreSQL: blocked on the case lock; SQLite: on BEGIN IMMEDIATE
        uow.ledger.add_refund(_entry(app, case))
        first.case.record("note", AGENT, T0, "while the other waits")
        uow.cases.save_case(first.case, None, T0)
        uow.commit()
    waiter.join(30)
    bundle = got[0]
    assert bundle is not None and [e.kind for e in bundle.ledger] == ["goods"]  # type: ignore[attr-defined]
    assert bundle.case.version == first.case.version  # type: ignore[attr-defined]
    assert history[0][-1] == "note"


def test_a_stale_save_writes_nothing_at_all(app: App, make: Make) -> None:
    """On a version conflict neither the case row, nor its events, nor its new deadline
    may be written: the versioned UPDATE comes first and refuses. The row changes under the
    loaded copy inside the same transaction here, as another writer's commit would change
    it."""
    case = make.case(make.shop()).case
    d, e, c = t.deadlines.c, t.case_events.c, t.cases.c

    def state(conn: Connection) -> tuple[list[tuple[str, str]], int, int]:
        rows = sorted((r.key, r.status) for r in conn.execute(
            select(d.key, d.status).where(d.case_id == case.id)).all())
        events = conn.execute(select(func.count()).where(e.case_id == case.id)).scalar_one()
        version = conn.execute(select(c.version).where(c.id == case.id)).scalar_one()
        return rows, int(events), int(version)

    with app.engine.connect() as conn:
        before = state(conn)
    with app.deps.uow() as uow:
        stale = uow.cases.get_case_bundle(case.shop_id, case.id, lock=True)
        assert stale is not None
        uow.conn.execute(t.cases.update().where(c.id == case.id).values(version=c.version + 1))
        stale.case.record("message", SYSTEM, T0, "lost update")
        with pytest.raises(Conflict):
            uow.cases.save_case(stale.case, _deadline(20, "9:stale"), T0)
            uow.commit()
    with app.engine.connect() as conn:
        assert state(conn) == before
    assert ("9:stale", "pending") not in before[0]


def test_sqlite_reads_a_cases_rows_by_case_not_by_shop(tmp_path: Path) -> None:
    """Without statistics SQLite would read a case's events, cancellations and refunds, or
    an order's lines, through an index on shop_id — every row of the shop (hints.py)."""
    from aftersales.adapters.db import records, shops_orders
    from aftersales.adapters.db import store as s

    with migrated_engine(f"sqlite:///{tmp_path / 'plans.db'}") as engine:
        app = bootstrap(engine=engine, clock=FixedClock(T0))
        make = Make(app)
        shop = make.shop()
        loaded = make.case(shop)
        captured: list[str] = []  # as SQLite ran them, values inlined

        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.set_trace_callback(captured.append)
            orders = shops_orders.SqlOrders(conn, app.deps.new_id)
            records.SqlLedger(conn, app.deps.new_id).refunds(shop.shop.id, case_id=loaded.case.id)
            s.SqlCases(conn, app.deps.new_id).get_case_bundle(shop.shop.id, loaded.case.id)
            orders.orders_by_id(shop.shop.id, [loaded.case.order_id])
            orders.get_order(shop.shop.id, loaded.case.order_id)
            conn.execute(s.SELECT_CANCELLED, {"k_shop": shop.shop.id, "k_cases": [loaded.case.id]})
            raw.set_trace_callback(None)
            plans = [raw.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
                     for sql in captured if sql.lstrip().upper().startswith("SELECT")]
    details = [row[3] for plan in plans for row in plan]
    assert sum(1 for plan in plans if plan) >= 6  # refunds, bundle, orders, lines, …
    assert not [d for d in details if "(shop_id=?)" in d], details
