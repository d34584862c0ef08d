"""Idempotency-Keys never stay stuck: a claim is a lease, and keys expire (issue 19).

A request that died with its process leaves its claim row with no answer. The rows are
written here as such a request leaves them (the claim of a request whose work never ran,
or whose work committed before the process died), and aged past the lease or the
retention; the retry then goes through the app on SQLite and PostgreSQL.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db import tables
from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.api.settings import ApiSettings
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.worker import purge_idempotency_keys

from .helpers import Desk, Shop, assert_error

LEASE = 30.0
K = tables.idempotency_keys.c


@pytest.fixture(scope="module")
def lease_app(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root: Path = tmp_path_factory.mktemp("lease")
    app = bootstrap(db_url, evidence_dir=root / "evidence")
    upgrade(app.engine)
    yield app
    app.engine.dispose()


@pytest.fixture(scope="module")
def desk(lease_app: App) -> Iterator[Desk]:
    settings = ApiSettings(idempotency_wait_seconds=0.3, idempotency_lease_seconds=LEASE)
    with TestClient(create_app(lease_app, settings=settings),
                    raise_server_exceptions=False) as client:
        yield Desk(client, lease_app)


def keyed(shop: Shop, role: str, key: str) -> dict[str, str]:
    return {**shop.auth(role), "Idempotency-Key": key}


def age(app: App, shop: Shop, key: str, seconds: float, *, answered: bool) -> None:
    """Make the key's row `seconds` old; unanswered, as a request killed mid-way leaves it."""
    values: dict[str, object] = {"created_at": datetime.now(UTC) - timedelta(seconds=seconds)}
    if not answered:
        values |= {"status_code": None, "response": None}
    with app.engine.begin() as conn:
        done = conn.execute(update(tables.idempotency_keys).where(
            K.shop_id == shop.id, K.key == key).values(**values))
        assert done.rowcount == 1


def orphan(app: App, shop: Shop, key: str, like: str, seconds: float) -> None:
    """A claim for `key` whose request never got to its work: the row a request with the
    same hash as `like`'s leaves when its process is killed after claiming."""
    with app.engine.begin() as conn:
        digest = conn.execute(select(K.request_hash).where(
            K.shop_id == shop.id, K.key == like)).scalar_one()
        conn.execute(tables.idempotency_keys.insert().values(
            shop_id=shop.id, key=key, request_hash=digest,
            created_at=datetime.now(UTC) - timedelta(seconds=seconds)))


def messages(desk: Desk, shop: Shop, case_id: str) -> list[str]:
    res = desk.client.get(f"/api/v1/cases/{case_id}/messages", headers=shop.auth("buyer"))
    assert res.status_code == 200, res.text
    return [m["body"] for m in res.json()["items"]]


def test_a_dead_claim_blocks_only_until_its_lease_ends(desk: Desk, lease_app: App) -> None:
    shop = desk.shop()
    case = desk.open_case(shop, desk.order(shop))
    url = f"/api/v1/cases/{case['id']}/messages"
    assert desk.client.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "a")
                            ).status_code == 201
    orphan(lease_app, shop, "fresh", like="a", seconds=1)
    assert_error(desk.client.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "fresh")),
                 409, "idempotency_in_progress")  # within the lease: maybe still running
    orphan(lease_app, shop, "dead", like="a", seconds=LEASE + 5)
    retry = desk.client.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "dead"))
    assert retry.status_code == 201, retry.text  # the work runs, once
    assert messages(desk, shop, case["id"]) == ["hi", "hi"]
    again = desk.client.post(url, json={"body": "hi"}, headers=keyed(shop, "buyer", "dead"))
    assert again.content == retry.content and again.headers["idempotent-replayed"] == "true"


def test_rerunning_work_that_had_committed_moves_no_money_twice(desk: Desk, lease_app: App
                                                                ) -> None:
    """The process died after the refund committed and before the answer was stored: the
    retry past the lease runs the approval again, which the case's state refuses."""
    shop = desk.shop("kuaishou")
    order = desk.order(shop)
    case = desk.open_case(shop, order, type="refund_only", reason="not_as_described")
    desk.act(shop, case["id"], "approve", "agent", headers={"Idempotency-Key": "pay"})
    age(lease_app, shop, "pay", LEASE + 5, answered=False)
    retry = desk.act(shop, case["id"], "approve", "agent", expect=None,
                     headers={"Idempotency-Key": "pay"})
    assert_error(retry, 409, "invalid_transition")
    refunds = desk.client.get("/api/v1/refunds", params={"order_id": order["id"]},
                              headers=shop.auth("finance")).json()["items"]
    assert len(refunds) == 1, refunds
    approvals = [e for e in desk.case(shop, case["id"])["events"] if e["kind"] == "approve"]
    assert len(approvals) == 1


def test_an_expired_key_is_reusable_with_another_body(desk: Desk, lease_app: App) -> None:
    shop = desk.shop()
    first = desk.client.post("/api/v1/orders", json=desk.order_body(shop),
                             headers=keyed(shop, "platform", "old"))
    assert first.status_code == 201
    other = desk.order_body(shop)
    assert_error(desk.client.post("/api/v1/orders", json=other,
                                  headers=keyed(shop, "platform", "old")), 409,
                 "idempotency_key_reused")
    age(lease_app, shop, "old", 25 * 3600, answered=True)
    fresh = desk.client.post("/api/v1/orders", json=other, headers=keyed(shop, "platform", "old"))
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["id"] != first.json()["id"] and "idempotent-replayed" not in fresh.headers


def test_the_worker_purges_expired_keys(desk: Desk, lease_app: App) -> None:
    shop = desk.shop()
    for key in ("keep", "drop"):
        assert desk.client.post("/api/v1/orders", json=desk.order_body(shop),
                                headers=keyed(shop, "platform", key)).status_code == 201
    age(lease_app, shop, "drop", 25 * 3600, answered=True)
    assert purge_idempotency_keys(lease_app.deps, datetime.now(UTC)) >= 1
    with lease_app.engine.connect() as conn:
        left = conn.execute(select(K.key).where(K.shop_id == shop.id)).scalars().all()
    assert left == ["keep"]


def test_a_late_first_request_does_not_overwrite_the_retry(lease_app: App, desk: Desk) -> None:
    """The first request, slower than its lease, finishes after a retry took the key over:
    its answer is not stored over the retry's, and its release leaves the retry's claim."""
    shop = desk.shop()
    t0 = datetime.now(UTC) - timedelta(seconds=LEASE + 5)
    t1 = datetime.now(UTC)
    bounds = {"lease_before": t1 - timedelta(seconds=LEASE),
              "expired_before": t1 - timedelta(days=1)}
    with lease_app.deps.uow() as uow:
        assert uow.idempotency.claim_idempotency(shop.id, "slow", "h", t0, **bounds)
        assert uow.idempotency.claim_idempotency(shop.id, "slow", "h", t1, **bounds)
        assert not uow.idempotency.claim_idempotency(shop.id, "slow", "h", t1, **bounds)
        assert uow.idempotency.finish_idempotency(shop.id, "slow", 201, "late", t0) is False
        uow.idempotency.release_idempotency(shop.id, "slow", t0)
        assert uow.idempotency.get_idempotency(shop.id, "slow") == ("h", None, None)
        assert uow.idempotency.finish_idempotency(shop.id, "slow", 201, "retry", t1) is True
        assert uow.idempotency.get_idempotency(shop.id, "slow") == ("h", 201, "retry")
        uow.commit()
