"""A downgrade never deletes a merchant's rows unless told to, on both databases.

Seeded for real: an upstream claim (1688), a signed-in desk session, a 即将超时 alert
queued for a deadline. Below 0004/0003 the downgrade is refused (one line, exit 1,
nothing changed) unless --force; 0002 keeps the column of sent alerts, so a down/up
cycle never sends an alert twice.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, inspect, select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db import tables as t
from aftersales.adapters.db.migrate import (
    DowngradeRefused,
    current_revision,
    migrate_to,
    revisions,
    upgrade,
)
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.console import mount_console
from aftersales.entrypoints.console.sample import build
from aftersales.service import cases, orders, shops, timers, upstream
from aftersales.service.ports import Principal
from console.console_helpers import sign_in
from e2e.test_cli import one_line_error, run

HEAD = revisions()[-1]

KEPT = ("upstream_claims", "console_sessions", "app_secrets", "notifications", "deadlines",
        "cases", "case_events")


def _counts(app: App) -> dict[str, int]:
    with app.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        return {n: conn.execute(select(func.count()).select_from(t.metadata.tables[n])).scalar_one()
                for n in KEPT if n in names}


def _alerts(app: App) -> int:
    with app.engine.connect() as conn:
        n = t.notifications.c
        return conn.execute(select(func.count()).select_from(t.notifications)
                            .where(n.subject.like("[即将超时]%"))).scalar_one()


def _claim(app: App) -> None:
    shop = shops.create_shop(app.deps, "1688 代发", "alibaba_1688", sandbox=True)
    buyer, agent = (Principal(shop.shop.id, Role.buyer, "b1"),
                    Principal(shop.shop.id, Role.agent, None, "agent1"))
    now = app.deps.clock.now()
    order, _ = orders.import_order(app.deps, Principal(shop.shop.id, Role.platform), orders.NewOrder(
        "D-1", "b1", now - timedelta(days=5), "alipay", "CNY", 0, True,
        (orders.NewLine("SKU-1", "杯子", 15000, 1, 15000),), shipped_at=now - timedelta(days=4),
        delivered_at=now - timedelta(days=2)))
    loaded = cases.open_case(app.deps, buyer, cases.NewCase(order.id, "refund_only", "quality_issue",
                                                            ((order.lines[0].id, 1),)))
    cases.act(app.deps, agent, loaded.case.id, "approve", None)
    upstream.open_claim(app.deps, agent, loaded.case.id, "义乌供应商", "SO-1", 15000,
                        "买家收到破损商品，已退款", 2)


def _near_timeout(app: App) -> Principal:
    """A Kuaishou case 11 h before its 48 h review passes: the alert is queued once."""
    shop = shops.create_shop(app.deps, "快手旗舰店", "kuaishou", sandbox=True,
                             policy=MerchantPolicy(extra={"alert_email": "ops@shop.example"}))
    admin, buyer = Principal(shop.shop.id, Role.admin, None, "adm"), Principal(shop.shop.id, Role.buyer, "b1")
    now = app.deps.clock.now()
    order, _ = orders.import_order(app.deps, admin, orders.NewOrder(
        "KS-1", "b1", now - timedelta(days=3), "alipay", "CNY", 0, True,
        (orders.NewLine("SKU-N", "卫衣", 9900, 1, 9900),), shipped_at=now - timedelta(days=2),
        delivered_at=now - timedelta(days=1)))
    cases.open_case(app.deps, buyer, cases.NewCase(order.id, "return_refund", "no_reason",
                                                   ((order.lines[0].id, 1),)))
    timers.advance_clock(app.deps, admin, by="37h")
    assert _alerts(app) == 1
    return admin


@pytest.fixture
def populated(fresh_db_url: str, tmp_path: Path) -> Iterator[tuple[App, str, Principal]]:
    app = bootstrap(fresh_db_url, evidence_dir=tmp_path / "evidence")
    upgrade(app.engine)
    sample = build(app.deps)
    web = FastAPI()
    mount_console(web, app.deps, secret=None)
    with TestClient(web, follow_redirects=False) as client:
        sign_in(client, "agent")  # a session and the key that signs it
    del sample
    _claim(app)
    admin = _near_timeout(app)
    yield app, fresh_db_url, admin
    app.engine.dispose()


def test_a_downgrade_that_would_delete_rows_is_refused_and_changes_nothing(populated) -> None:
    app, _url, _ = populated
    before, head = _counts(app), current_revision(app.engine)
    assert before["upstream_claims"] == 1 and before["console_sessions"] >= 1
    for target in ("0003", "0002", "0001", "base"):
        with pytest.raises(DowngradeRefused, match="would delete"):
            migrate_to(app.engine, target)
        assert current_revision(app.engine) == head and _counts(app) == before


def test_the_cli_refuses_in_one_line_and_exits_non_zero(populated, tmp_path: Path) -> None:
    app, url, _ = populated
    before = _counts(app)
    result = run("migrate", "--to", "0002", cwd=tmp_path, db=url)
    line = one_line_error(result)
    assert result.returncode == 1
    assert "downgrade_refused" in line and "console_sessions" in line and "--force" in line
    assert _counts(app) == before and current_revision(app.engine) == HEAD
    bad = run("migrate", "--to", "0042", cwd=tmp_path, db=url)
    assert "unknown_revision" in one_line_error(bad)


def test_alerts_are_not_sent_again_after_a_forced_down_and_up(populated, tmp_path: Path) -> None:
    app, url, admin = populated
    down = run("migrate", "--to", "0001", "--force", cwd=tmp_path, db=url)
    assert down.returncode == 0 and "0001" in down.stdout, down.stderr
    with app.engine.connect() as conn:  # --force deleted what it said; the alerts' record stays
        assert not inspect(conn).has_table("upstream_claims")
        assert "warned_at" in {c["name"] for c in inspect(conn).get_columns("deadlines")}
    up = run("migrate", cwd=tmp_path, db=url)
    assert up.returncode == 0 and HEAD in up.stdout, up.stderr
    timers.advance_clock(app.deps, admin, by="1h")  # still near its deadline
    assert _alerts(app) == 1


def test_alerts_survive_a_plain_down_and_up(fresh_db_url: str, tmp_path: Path) -> None:
    """With no claims or sessions to lose, no --force is needed, and 0002 keeps warned_at."""
    app = bootstrap(fresh_db_url, evidence_dir=tmp_path / "evidence")
    try:
        upgrade(app.engine)
        admin = _near_timeout(app)
        assert migrate_to(app.engine, "0001") == "0001"
        assert migrate_to(app.engine, "head") == HEAD
        timers.advance_clock(app.deps, admin, by="1h")
        assert _alerts(app) == 1
    finally:
        app.engine.dispose()


def test_an_empty_database_goes_down_and_up_freely(fresh_db_url: str) -> None:
    app = bootstrap(fresh_db_url, evidence_dir=Path("unused-evidence"))
    try:
        upgrade(app.engine)
        assert migrate_to(app.engine, "0001") == "0001"
        with app.engine.connect() as conn:
            assert "warned_at" not in {c["name"] for c in inspect(conn).get_columns("deadlines")}
        assert migrate_to(app.engine, "base") is None
        assert migrate_to(app.engine, "head") == HEAD
    finally:
        app.engine.dispose()
