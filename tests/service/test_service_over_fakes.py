"""The service layer over the in-memory unit of work: the rules of a command, without a
database. What SQL adds (row locks, their order, concurrency) stays in tests/integration."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales.domain.errors import Forbidden, InvalidTransition
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import CaseType, Reason, Role, State
from aftersales.service import cases, sync, timers
from aftersales.service.ports import Principal
from conftest import T0
from service.conftest import World


def test_opening_a_case_stores_it_its_event_and_its_deadline_in_one_commit(world: World) -> None:
    shop = world.shop()
    order = world.order(shop)
    loaded = world.case(shop, order)
    assert world.units[-1].commits == 1
    stored = world.data.cases[loaded.case.id]
    assert stored.state is State.requested and stored.version == 2  # added, then saved
    assert [e.kind for e in world.data.events[loaded.case.id]] == ["opened"]
    pending = [r for r in world.data.deadlines.values() if r["status"] == "pending"]
    assert [(r["case_id"], r["outcome"]) for r in pending] == [(loaded.case.id, "auto_approve")]


def test_approve_refunds_once_and_a_second_approve_changes_nothing(world: World) -> None:
    shop = world.shop(sandbox=True)
    loaded = world.case(shop)
    agent = world.principal(shop)
    done = cases.act(world.deps, agent, loaded.case.id, "approve")
    assert done.case.state is State.completed
    ledger = list(world.data.ledger.values())
    assert [(e.status, e.amount) for e in ledger] == [("succeeded", Money(19900, "CNY"))]
    with pytest.raises(InvalidTransition):
        cases.act(world.deps, agent, loaded.case.id, "approve")
    assert list(world.data.ledger.values()) == ledger  # money moved exactly once
    kinds = [e.kind for e in world.data.events[loaded.case.id]]
    assert kinds.count("refund_succeeded") == 1


def test_a_refused_action_leaves_nothing_behind(world: World) -> None:
    shop = world.shop(sandbox=True)
    loaded = world.case(shop)
    buyer = Principal(shop.shop.id, Role.buyer, loaded.case.buyer_id)
    before = [e.kind for e in world.data.events[loaded.case.id]]
    with pytest.raises(Forbidden):
        cases.act(world.deps, buyer, loaded.case.id, "approve")
    assert [e.kind for e in world.data.events[loaded.case.id]] == before
    assert world.data.cases[loaded.case.id].state is State.requested and not world.data.ledger


def test_the_deadline_sweep_fires_a_due_deadline_once(world: World) -> None:
    shop = world.shop()
    loaded = world.case(shop, type="return_refund")
    assert timers.sweep(world.deps, T0 + timedelta(hours=47)) == []
    later = T0 + timedelta(hours=49)
    fired = timers.sweep(world.deps, later)
    assert [(f.case_id, f.outcome) for f in fired] == [(loaded.case.id, "auto_approve")]
    last = world.data.events[loaded.case.id][-1]
    assert last.actor == "system" and last.to_state is State.awaiting_return
    assert timers.sweep(world.deps, later) == []  # fired once
    statuses = sorted(r["status"] for r in world.data.deadlines.values())
    assert statuses.count("fired") == 1


def test_a_sync_creates_updates_and_ignores_an_older_version(world: World) -> None:
    shop = world.shop()
    order = world.order(shop, price=10000)
    platform = Principal(shop.shop.id, Role.platform)

    def snap(version: int, state: State, status: str) -> PlatformSnapshot:
        return PlatformSnapshot(
            platform="kuaishou", platform_case_id="KS-1",
            platform_order_id=order.platform_order_id, platform_status=status, state=state,
            version=version, type=CaseType.return_refund, reason=Reason.quality_issue,
            requested_amount=Money(10000, "CNY"), buyer_id=order.buyer_id)

    first, created = sync.apply_snapshot(world.deps, platform, snap(1, State.requested, "WAIT"))
    moved, updated = sync.apply_snapshot(world.deps, platform,
                                         snap(3, State.awaiting_return, "WAIT_BUYER_RETURN"))
    _, unchanged = sync.apply_snapshot(world.deps, platform, snap(2, State.requested, "WAIT"))
    assert (created, updated, unchanged) == ("created", "updated", "unchanged")
    stored = world.data.cases[first.case.id]
    assert moved.case.id == first.case.id and len(world.data.cases) == 1
    assert stored.platform_version == 3 and stored.state is State.awaiting_return
    assert stored.platform_status == "WAIT_BUYER_RETURN"


def test_an_idempotency_key_is_claimed_once_and_an_abandoned_claim_taken_over(
        world: World) -> None:
    shop = world.shop()
    bounds = {"lease_before": T0 - timedelta(seconds=30), "expired_before": T0 - timedelta(days=1)}
    with world.deps.uow() as uow:
        assert uow.idempotency.claim_idempotency(shop.shop.id, "k1", "h1", T0, **bounds)
        assert not uow.idempotency.claim_idempotency(shop.shop.id, "k1", "h2", T0, **bounds)
        assert uow.idempotency.finish_idempotency(shop.shop.id, "k1", 201, "{}", claimed_at=T0)
        assert uow.idempotency.claim_idempotency(shop.shop.id, "k2", "h1", T0)
        uow.commit()
    later = T0 + timedelta(minutes=5)
    late = {"lease_before": later - timedelta(seconds=30), "expired_before": later - timedelta(days=1)}
    with world.deps.uow() as uow:
        assert uow.idempotency.get_idempotency(shop.shop.id, "k1") == ("h1", 201, "{}")
        assert not uow.idempotency.claim_idempotency(shop.shop.id, "k1", "h3", later, **late)
        # k2 was claimed and never answered: its request died, a retry takes it over
        assert uow.idempotency.claim_idempotency(shop.shop.id, "k2", "h1", later, **late)
        assert not uow.idempotency.finish_idempotency(shop.shop.id, "k2", 200, "{}", claimed_at=T0)
    with world.deps.uow() as uow:  # not committed: the takeover is gone
        assert uow.idempotency.get_idempotency(shop.shop.id, "k2") == ("h1", None, None)


def test_a_decision_on_a_connected_shops_platform_case_is_queued_once_for_the_platform(
        world: World) -> None:
    """Issue 21's write-back rides in the action's own unit of work: one outbox row for the
    approve on a connected shop's platform case; none for a shop that is not connected."""
    from aftersales.service.connection_ports import Credentials

    def platform_case(case_id: str) -> str:
        order = world.order(shop)
        loaded, _ = sync.apply_snapshot(world.deps, Principal(shop.shop.id, Role.platform),
                                        PlatformSnapshot(
            platform="douyin", platform_case_id=case_id,
            platform_order_id=order.platform_order_id, platform_status="6",
            state=State.requested, version=1, type=CaseType.refund_only,
            reason=Reason.quality_issue, requested_amount=Money(19900, "CNY"),
            buyer_id=order.buyer_id))
        return loaded.case.id

    shop = world.shop("douyin")
    unconnected = platform_case("DY-0")
    cases.act(world.deps, world.principal(shop), unconnected, "approve")
    assert not world.data.outbox
    with world.deps.uow() as uow:
        uow.connections.save(shop.shop.id, "douyin", "http://127.0.0.1:1",
                             Credentials("key", "secret-1234"), T0)
        uow.commit()
    connected = platform_case("DY-1")
    cases.act(world.deps, world.principal(shop), connected, "approve")
    rows = list(world.data.outbox.values())
    assert [(r.case_id, r.act, r.status) for r in rows] == [(connected, "agree_refund", "pending")]
    assert world.data.connections[shop.shop.id][0].secret_masked == "****1234"
