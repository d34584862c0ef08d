"""Every service flow, end to end, on SQLite and on PostgreSQL.

The service tests over fakes say the handlers decide right; these say that what they
decide survives the real storage: states, events, deadlines and ledger rows as stored,
read back by a new unit of work.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from aftersales.adapters.platforms import adapter_for
from aftersales.domain.case import ActionRequest, Inspection
from aftersales.domain.errors import Forbidden, InvalidTransition, RuleRefused
from aftersales.domain.events import Event
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import Condition, Role, State
from aftersales.entrypoints.bootstrap import App
from aftersales.service import cases, parcels, timers
from aftersales.service.casework import Loaded, load_case
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal
from aftersales.service.sync import apply_snapshot
from conftest import T0, Make

FIXTURES = Path(__file__).parent.parent / "fixtures" / "platforms"
SHIP = ActionRequest(carrier="顺丰速运", waybill="SF1234567890", prepaid=True)
ACCEPT = ActionRequest(inspection=Inspection("accept", Condition.new, True, True, True))


def _stored(app: App, loaded: Loaded) -> Loaded:
    """The case as a fresh unit of work reads it back."""
    with app.deps.uow() as uow:
        found = load_case(app.deps, uow, loaded.case.shop_id, loaded.case.id)
        assert found is not None
        return found


def _kinds(app: App, loaded: Loaded) -> list[str]:
    with app.deps.uow() as uow:
        return [e.kind for e in uow.cases.events(loaded.case.shop_id, loaded.case.id)]


def test_return_refund_in_a_sandbox_shop_ends_completed_with_the_ledger_settled(app: App, make: Make) -> None:
    shop = make.shop("taobao", sandbox=True)
    loaded = make.case(shop, type="return_refund", reason="no_reason")
    for action, role, req in (("approve", "agent", None), ("ship_return", "buyer", SHIP),
                              ("receive", "warehouse", ActionRequest(prepaid=True)),
                              ("inspect", "warehouse", ACCEPT)):
        make.act(loaded, action, role, req)
    back = _stored(app, loaded)
    assert back.case.state is State.completed and back.case.resolved_at is not None
    assert _kinds(app, loaded) == ["opened", "approve", "ship_return", "receive", "inspect",
                                   "refund_planned", "refund_succeeded"]
    assert back.ledger and all(e.status == "succeeded" for e in back.ledger)
    assert back.case.first_response_at is not None
    found = parcels.scan(app.deps, make.principal(shop, "warehouse"), "sf1234567890")
    assert found is not None and found.case.id == loaded.case.id


def test_cash_on_delivery_parcel_is_refused_and_the_buyer_waits_again(app: App, make: Make, clock) -> None:
    shop = make.shop("kuaishou")
    loaded = make.case(shop)
    make.act(loaded, "approve")
    make.act(loaded, "ship_return", "buyer", ActionRequest(carrier="中通", waybill="ZT1", prepaid=False))
    clock.at = T0 + timedelta(days=2)
    back = make.act(loaded, "receive", "warehouse", ActionRequest(prepaid=False))
    assert back.case.state is State.awaiting_return
    stored = _stored(app, loaded)
    assert stored.case.state_entered_at == T0 + timedelta(days=2)  # the buyer's deadline restarts
    assert _kinds(app, loaded)[-1] == "parcel_refused_cod"
    with app.deps.uow() as uow:
        due = uow.deadlines.claim_due(T0 + timedelta(days=12, hours=1), 100, shop.shop.id)
    assert [d.case_id for d in due] == [loaded.case.id]
    assert due[0].due_at == T0 + timedelta(days=12)


def test_reject_escalate_ruling_for_the_buyer_then_finance_marks_the_refund(app: App, make: Make) -> None:
    shop = make.shop("pinduoduo")
    loaded = make.case(shop, reason="not_as_described")
    make.act(loaded, "reject", request=ActionRequest(reason_code="no_quality_problem", explanation="无问题"))
    make.act(loaded, "escalate", "buyer", ActionRequest(statement="申请平台介入"))
    make.act(loaded, "rule", "platform", ActionRequest(in_favor_of="buyer"))
    back = _stored(app, loaded)
    assert back.case.state is State.refunding  # a live shop: the payment waits for confirmation
    assert back.ledger and all(e.status == "pending" for e in back.ledger)
    make.act(loaded, "mark_refunded", "finance", ActionRequest(reference="BANK-2026-001"))
    back = _stored(app, loaded)
    assert back.case.state is State.completed
    assert {e.reference for e in back.ledger} == {"BANK-2026-001"}


def test_offline_refund_waits_for_finance_in_a_sandbox(app: App, make: Make) -> None:
    shop = make.shop("douyin", sandbox=True)
    loaded = make.case(shop, type="refund_only", reason="damaged_in_transit", refund_method="offline")
    make.act(loaded, "approve")
    assert _stored(app, loaded).case.state is State.refunding
    with pytest.raises(Forbidden):
        make.act(loaded, "mark_refunded", "warehouse", ActionRequest(reference="X"))
    make.act(loaded, "mark_refunded", "finance", ActionRequest(reference="线下转账-001"))
    assert _stored(app, loaded).case.state is State.completed


def test_counter_offer_accepted_refunds_the_offer(app: App, make: Make) -> None:
    shop = make.shop("kuaishou", sandbox=True)
    loaded = make.case(shop, type="refund_only", reason="quality_issue")
    make.act(loaded, "counter_offer", request=ActionRequest(amount=Money(5000, "CNY"), note="补偿50元"))
    make.act(loaded, "accept_offer", "buyer")
    back = _stored(app, loaded)
    assert back.case.state is State.completed and back.case.approved_amount == Money(5000, "CNY")
    assert sum(e.amount.amount for e in back.ledger) == 5000


def test_reissue_and_exchange_complete_when_reshipped(app: App, make: Make) -> None:
    shop = make.shop("wechat_shop", sandbox=True)
    reissue = make.case(shop, type="reissue", reason="missing_item")
    make.act(reissue, "approve")
    make.act(reissue, "reship", "warehouse", ActionRequest(carrier="中通", waybill="ZT77"))
    assert _stored(app, reissue).case.state is State.completed
    exchange = make.case(shop, type="exchange", reason="no_reason")
    for action, role, req in (("approve", "agent", None), ("ship_return", "buyer", SHIP),
                              ("receive", "warehouse", ActionRequest(prepaid=True)),
                              ("inspect", "warehouse", ACCEPT)):
        make.act(exchange, action, role, req)
    assert _stored(app, exchange).case.state is State.awaiting_reshipment
    make.act(exchange, "reship", "agent", ActionRequest(carrier="顺丰", waybill="SF88"))
    back = _stored(app, exchange)
    assert back.case.state is State.completed and back.case.reship_waybill == "SF88"
    assert not back.ledger  # an exchange moves goods, not money


def test_cancel_then_a_bad_rating_opens_a_follow_up_task(app: App, make: Make) -> None:
    shop = make.shop("taobao")
    loaded = make.case(shop)
    cases.add_message(app.deps, make.buyer(loaded.order), loaded.case.id, "不要了，谢谢")
    make.act(loaded, "cancel", "buyer")
    cases.rate(app.deps, make.buyer(loaded.order), loaded.case.id, 2)
    back = _stored(app, loaded)
    assert back.case.state is State.closed and back.case.rating == 2
    with app.deps.uow() as uow:
        assert [m["body"] for m in uow.records.messages(shop.shop.id, loaded.case.id)] == ["不要了，谢谢"]
        tasks = uow.conn.exec_driver_sql(
            f"SELECT kind FROM tasks WHERE case_id = '{loaded.case.id}'").scalars().all()
    assert tasks == ["bad_rating_follow_up"]


def test_refusals_wrong_state_wrong_role_other_shop(app: App, make: Make) -> None:
    shop, other = make.shop(), make.shop()
    loaded = make.case(shop)
    with pytest.raises(InvalidTransition):
        make.act(loaded, "receive", "warehouse", ActionRequest(prepaid=True))
    with pytest.raises(Forbidden):
        make.act(loaded, "approve", "buyer")
    with pytest.raises(NotFound):
        cases.act(app.deps, make.principal(other), loaded.case.id, "approve")
    with pytest.raises(RuleRefused):
        make.case(shop, loaded.order, requested_amount=10**7)
    assert _kinds(app, loaded) == ["opened"]


def test_a_live_deadline_fires_through_the_sweep_as_system(app: App, make: Make, clock) -> None:
    shop = make.shop("kuaishou")
    loaded = make.case(shop)
    clock.at = T0 + timedelta(hours=47)
    assert loaded.case.id not in {f.case_id for f in timers.sweep(app.deps, clock.at, shop_id=shop.shop.id)}
    clock.at = T0 + timedelta(hours=49)
    fired = timers.sweep(app.deps, clock.at, shop_id=shop.shop.id)
    assert [(f.case_id, f.outcome) for f in fired] == [(loaded.case.id, "auto_approve")]
    with app.deps.uow() as uow:
        last = uow.cases.events(shop.shop.id, loaded.case.id)[-1]
    assert last.actor == "system" and "48" in last.explanation and last.to_state is State.awaiting_return
    assert timers.sweep(app.deps, clock.at, shop_id=shop.shop.id) == []  # fired once


def test_sandbox_clock_advance_fires_in_time_order(app: App, make: Make, clock) -> None:
    shop = make.shop("kuaishou", sandbox=True)
    admin = make.principal(shop, "admin")
    first = make.case(shop)  # review deadline: 48 h → auto-approve
    timers.advance_clock(app.deps, admin, by="30h")
    second = make.case(shop)  # due 30 h later than the first
    reissue = make.case(shop, type="reissue", reason="missing_item")
    make.act(reissue, "approve")  # reship deadline: 24 h → flagged overdue
    clock.at = T0 + timedelta(days=365)  # the wall clock plays no part in a sandbox
    _, fired = timers.advance_clock(app.deps, admin, by="3d")
    ats = [f.at for f in fired]
    assert ats == sorted(ats) and len(fired) >= 3
    order = [f.case_id for f in fired]
    assert order.index(first.case.id) < order.index(reissue.case.id) < order.index(second.case.id)
    with app.deps.uow() as uow:
        for f in fired:
            events = [e for e in uow.cases.events(shop.shop.id, f.case_id) if e.actor == "system"]
            assert events and events[0].at == f.at  # performed at its own due time, not at the end
    assert _stored(app, reissue).case.overdue is True
    with pytest.raises(Exception) as info:
        timers.advance_clock(app.deps, make.principal(make.shop(), "admin"), by="1h")
    assert getattr(info.value, "code", "") == "not_a_sandbox"


def _history(app: App, loaded: Loaded) -> list[Event]:
    with app.deps.uow() as uow:
        return uow.cases.events(loaded.case.shop_id, loaded.case.id)


def test_a_synced_case_opens_with_one_event_unless_the_platform_is_further_on(
        app: App, make: Make) -> None:
    """The opening event carries the platform status and version; a case first seen past the
    request (a speed refund) also records the platform's move (PLATFORMS.md, Kuaishou)."""
    shop = make.shop("kuaishou")
    platform = Principal(shop.shop.id, Role.platform)
    adapter = adapter_for("kuaishou")
    lines = [json.loads(x) for x in (FIXTURES / "kuaishou" / "sync.jsonl").read_text("utf-8")
             .splitlines() if x.strip()]
    first = adapter.parse(lines[0])
    assert first.state is State.requested
    opened, _ = apply_snapshot(app.deps, platform, first)
    events = _history(app, opened)
    assert [e.kind for e in events] == ["opened"]
    assert f"status {first.platform_status}" in events[0].explanation
    assert str(first.version) in events[0].explanation
    later = adapter.parse({**lines[-1], "refundId": "KS-SPEED-1", "oid": "KS-SPEED-ORDER"})
    assert later.state is not State.requested
    moved, _ = apply_snapshot(app.deps, platform, later)
    kinds = [(e.kind, e.to_state) for e in _history(app, moved)]
    assert kinds == [("opened", State.requested), ("platform_sync", later.state)]


def test_platform_sync_creates_updates_and_ignores_older_versions(app: App, make: Make) -> None:
    shop = make.shop("kuaishou")
    platform = Principal(shop.shop.id, Role.platform)
    lines = (FIXTURES / "kuaishou" / "sync.jsonl").read_text("utf-8").splitlines()
    snaps = [adapter_for("kuaishou").parse(json.loads(x)) for x in lines if x.strip()]
    results = [apply_snapshot(app.deps, platform, s)[1] for s in snaps]
    assert results[0] == "created" and set(results[1:]) <= {"updated", "unchanged"}
    replay = [apply_snapshot(app.deps, platform, s)[1] for s in snaps]
    assert set(replay) == {"unchanged"}
    loaded, _ = apply_snapshot(app.deps, platform, snaps[-1])
    assert loaded.case.platform_version == max(s.version for s in snaps)
    assert loaded.case.state is snaps[-1].state or results[-1] == "unchanged"
