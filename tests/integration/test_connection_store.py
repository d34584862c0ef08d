"""The connections and outbox repositories on both databases: credentials are sealed in
the table (a dump does not show them), come back whole to the service, masked to anyone
else; one outbox row per idempotency key; a failed row can be retried, others cannot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import tables as t
from aftersales.adapters.secrets import ENV
from aftersales.service.connection_ports import Act, Credentials, OutboundAct
from conftest import Make


@pytest.fixture(autouse=True)
def _key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("AFTERSALES_DATA_DIR", str(tmp_path / "data"))


CREDS = Credentials(app_key="7012345678901234567", app_secret="app-secret-9f8e7d6c",
                    access_token="access-token-1234abcd", refresh_token="refresh-token-5678efgh")


def test_credentials_are_sealed_at_rest_and_masked_when_shown(make: Make) -> None:
    shop = make.shop("douyin")
    deps = make.app.deps
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.connections.save(shop.shop.id, "douyin", "http://127.0.0.1:1", CREDS, now)
        uow.commit()
    with make.app.engine.connect() as conn:
        row = conn.execute(select(t.connections).where(
            t.connections.c.shop_id == shop.shop.id)).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    for secret in (CREDS.app_secret, CREDS.access_token, CREDS.refresh_token):
        assert secret is not None and secret not in stored
    with deps.uow() as uow:
        assert uow.connections.credentials(shop.shop.id) == CREDS
        record = uow.connections.get(shop.shop.id)
    assert record is not None and record.secret_masked == "****7d6c"
    assert CREDS.app_secret not in repr(record)


def test_a_pull_records_cursor_and_lag_and_an_error_keeps_the_cursor(make: Make) -> None:
    shop = make.shop("douyin")
    deps = make.app.deps
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.connections.save(shop.shop.id, "douyin", "http://127.0.0.1:1", CREDS, now)
        uow.connections.record_pull(shop.shop.id, "1764033791", now, 1.5, None)
        uow.connections.record_pull(shop.shop.id, "1764039999", now, None, "60000: 触发限流")
        uow.commit()
    with deps.uow() as uow:
        record = uow.connections.get(shop.shop.id)
    assert record is not None
    assert (record.cursor, record.lag_seconds, record.last_error) == (
        "1764033791", 1.5, "60000: 触发限流")


def test_one_outbox_row_per_idempotency_key_and_only_failed_rows_retry(make: Make) -> None:
    shop = make.shop("douyin")
    case = make.case(shop).case
    deps = make.app.deps
    now = deps.clock.now()
    act = OutboundAct(Act.agree_refund, "7301234567890123456", f"act-{case.id}-1")
    with deps.uow() as uow:
        row_id = uow.outbox.add(shop.shop.id, case.id, act, now)
        uow.commit()
    with deps.uow() as uow, pytest.raises(IntegrityError):
        uow.outbox.add(shop.shop.id, case.id, act, now)
    with deps.uow() as uow:
        (due,) = uow.outbox.due(now, 10)
        assert due.id == row_id
        assert not uow.outbox.retry(shop.shop.id, row_id, now)  # pending, not failed
        assert uow.outbox.claim(due, now, now + timedelta(seconds=60))
        assert not uow.outbox.claim(due, now, now + timedelta(seconds=60))  # taken already
        assert uow.outbox.due(now, 10) == []  # leased
        assert [r.id for r in uow.outbox.due(now + timedelta(seconds=61), 10)] == [row_id]
        uow.outbox.mark(row_id, "failed", now, error="50002: 售后状态不正确")
        assert uow.outbox.due(now, 10) == []  # failed rows wait for a retry
        assert uow.outbox.retry(shop.shop.id, row_id, now + timedelta(seconds=5))
        (row,) = uow.outbox.list(shop.shop.id)
        uow.commit()
    assert (row.status, row.attempts, row.payload["act"]) == ("pending", 1, "agree_refund")


def test_going_below_0011_refuses_to_drop_a_shops_connection(fresh_db_url: str,
                                                             tmp_path: Path) -> None:
    from aftersales.adapters.db.migrate import DowngradeRefused, current_revision, migrate_to
    from aftersales.entrypoints.bootstrap import bootstrap
    from aftersales.service import shops

    app = bootstrap(fresh_db_url, evidence_dir=tmp_path / "evidence")
    try:
        migrate_to(app.engine, "head")
        shop = shops.create_shop(app.deps, "抖店", "douyin")
        with app.deps.uow() as uow:
            uow.connections.save(shop.shop.id, "douyin", "http://x", CREDS, app.deps.clock.now())
            uow.commit()
        with pytest.raises(DowngradeRefused, match="1 rows of connections"):
            migrate_to(app.engine, "0010")
        assert current_revision(app.engine) == "0011"
        assert migrate_to(app.engine, "0010", force=True) == "0010"
    finally:
        app.engine.dispose()
