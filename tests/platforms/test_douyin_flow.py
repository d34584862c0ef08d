"""Douyin end to end over real HTTP, on both databases: the fake 抖店 pushes to the served
API, which verifies the push, re-fetches the detail and applies it; `aftersales connect`
and `aftersales sync` from the command line. Each push is the platform's word only after
the detail fetch: forged pushes are refused, replays change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

from aftersales.adapters.db import tables as t
from aftersales.adapters.platforms.connections import connection_for
from aftersales.adapters.platforms.douyin_sign import push_sign
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import shops, writeback
from api.helpers import served_api
from platforms.fake_douyin import APP_KEY, APP_SECRET, CLI, control, fake_douyin


@dataclass
class World:
    app: App
    shop_id: str
    api: str
    fake: str
    env: dict[str, str]
    headers: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), *args], env=self.env, capture_output=True, text=True,
                              timeout=60)

    def cases(self) -> list[dict[str, object]]:
        reply = httpx.get(f"{self.api}/api/v1/cases", headers=self.headers, timeout=10)
        reply.raise_for_status()
        return list(reply.json()["items"])

    def count(self, table: str) -> int:
        """Rows of `table` for this test's shop."""
        tab = t.metadata.tables[table]
        query = select(func.count()).select_from(tab)
        if "shop_id" in tab.c:
            query = query.where(tab.c.shop_id == self.shop_id)
        with self.app.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def push_url(self) -> str:
        return f"{self.api}/api/v1/push/douyin/{self.shop_id}"


@pytest.fixture(scope="module")
def served(db_url: str, engine: object, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str, Path]]:
    """One API server per database for the module (each test has its own shop and fake)."""
    key = Fernet.generate_key().decode()
    data = tmp_path_factory.mktemp("data")
    with served_api(db_url, data, AFTERSALES_SECRET_KEY=key) as api:
        yield api, key, data


@pytest.fixture
def world(db_url: str, served: tuple[str, str, Path], tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    api, key, data = served
    monkeypatch.setenv("AFTERSALES_SECRET_KEY", key)
    app = bootstrap(db_url, evidence_dir=data / "evidence")
    shop = shops.create_shop(app.deps, "抖店小店", "douyin").shop.id
    token = shops.create_token(app.deps, shop, "agent")
    env = {**os.environ, "AFTERSALES_SECRET_KEY": key, "AFTERSALES_DATABASE_URL": db_url,
           "AFTERSALES_DATA_DIR": str(data)}
    with fake_douyin(tmp_path / "fake.log") as fake:
        w = World(app, shop, api, fake, env, {"Authorization": f"Bearer {token}"})
        done = w.cli("connect", "--shop", shop, "--platform", "douyin", "--app-key", APP_KEY,
                     "--app-secret", APP_SECRET, "--base-url", fake)
        assert done.returncode == 0, done.stderr
        assert APP_SECRET not in done.stdout and "****" in done.stdout
        control(fake, "config", {"push_url": w.push_url()})
        yield w
    app.engine.dispose()


def _one(world: World) -> dict[str, object]:
    (case,) = world.cases()
    return case


def test_a_push_puts_the_case_in_the_queue_with_the_platforms_deadline(world: World) -> None:
    made = control(world.fake, "aftersales", {"aftersale_type": 1, "refund_amount": 4590})
    detail = control(world.fake, f"aftersales/{made['aftersale_id']}")
    deadline = detail["process_info"]["after_sale_info"]["status_deadline"]
    case = _one(world)
    assert case["state"] == "requested"
    assert case["deadline"]["source"] == "platform"  # type: ignore[index]
    at = datetime.fromisoformat(case["deadline"]["at"])  # type: ignore[index]
    assert at == datetime.fromtimestamp(deadline, UTC)


def test_duplicated_and_out_of_order_pushes_change_nothing(world: World) -> None:
    made = control(world.fake, "aftersales", {"aftersale_type": 1})["aftersale_id"]
    control(world.fake, "clock", {"advance": 48 * 3600 + 5})  # the platform auto-agrees
    # the clock route answers after its pushes (201, 206) went out
    after = _one(world)
    assert after["state"] == "completed"
    events = world.count("case_events")
    sent = control(world.fake, "replay", {"aftersale_id": made, "reverse": True, "times": 2})
    assert sent["sent"] == 6
    assert _one(world) == after and world.count("case_events") == events


def test_a_forged_push_is_refused_401_and_nothing_is_stored(world: World) -> None:
    data = json.dumps({"aftersale_id": "7301234567890123456", "aftersale_status": 6})
    body = json.dumps([{"tag": "200", "msg_id": "x", "data": data}]).encode()
    before = {n: world.count(n) for n in ("cases", "orders", "case_events")}
    for sign in (push_sign(APP_KEY, body, "guessed-secret"), "", None):
        headers = {"app-id": APP_KEY, **({"event-sign": sign} if sign is not None else {})}
        reply = httpx.post(world.push_url(), content=body, headers=headers, timeout=10)
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "push_signature_invalid"
    assert {n: world.count(n) for n in before} == before


def test_sync_pulls_what_no_push_brought(world: World) -> None:
    control(world.fake, "config", {"push_url": "http://127.0.0.1:9/nowhere"})
    made = {control(world.fake, "aftersales", {"refund_amount": 100 + i})["aftersale_id"]
            for i in range(3)}
    assert world.cases() == []
    done = world.cli("sync", "--shop", world.shop_id)
    assert done.returncode == 0, done.stderr
    assert "3 applied" in done.stdout
    assert len(world.cases()) == 3
    again = world.cli("sync", "--shop", world.shop_id)
    assert "0 applied" in again.stdout  # the cursor's second comes back: unchanged
    del made


def _approve(world: World, case_id: object) -> httpx.Response:
    return httpx.post(f"{world.api}/api/v1/cases/{case_id}/actions/approve", json={},
                      headers=world.headers, timeout=10)


def _applied(world: World, aftersale_id: str) -> list[dict[str, object]]:
    return [a for a in control(world.fake, "applied")["applied"]
            if a["aftersale_id"] == aftersale_id]


def _rows(world: World) -> list[tuple[str, int, str | None]]:
    with world.app.deps.uow() as uow:
        return [(r.status, r.attempts, r.last_error) for r in uow.outbox.list(world.shop_id)]


def test_an_approve_reaches_the_platform_exactly_once(world: World) -> None:
    made = control(world.fake, "aftersales", {"aftersale_type": 1})["aftersale_id"]
    case = _one(world)
    assert _approve(world, case["id"]).status_code == 200
    assert _approve(world, case["id"]).status_code == 409  # refused: no second row
    assert _rows(world) == [("pending", 0, None)]
    assert _applied(world, made) == []  # nothing left before the drain
    assert writeback.drain(world.app.deps, connection_for).confirmed == 1
    assert writeback.drain(world.app.deps, connection_for).confirmed == 0  # nothing due
    with world.app.engine.begin() as conn:  # a drain died after the call: delivered again
        conn.execute(update(t.outbox).where(t.outbox.c.shop_id == world.shop_id)
                     .values(status="sent", next_attempt_at=datetime.now(UTC)))
    assert writeback.drain(world.app.deps, connection_for).confirmed == 1
    assert [a["type"] for a in _applied(world, made)] == [201]
    detail = control(world.fake, f"aftersales/{made}")["process_info"]["after_sale_info"]
    assert detail["after_sale_status"] == 12  # 售后成功 on the platform
    listed = world.cli("outbox", "list", "--shop", world.shop_id)
    assert "confirmed" in listed.stdout and "agree_refund" in listed.stdout


def test_rate_limited_write_backs_back_off_and_succeed_later(world: World) -> None:
    made = [control(world.fake, "aftersales", {"aftersale_type": 1})["aftersale_id"]
            for _ in range(3)]
    for case in world.cases():
        assert _approve(world, case["id"]).status_code == 200
    control(world.fake, "config", {"qps": 1})
    time.sleep(1.1)
    first = writeback.drain(world.app.deps, connection_for, rng=lambda: 0.0)
    assert (first.confirmed, first.retried) == (1, 2)
    waiting = [r for r in _rows(world) if r[0] == "pending"]
    assert all("60000 isv.traffic-limited" in (e or "") for _, _, e in waiting)
    for _ in range(6):
        time.sleep(1.1)  # the platform's window, and our backoff (at least its retry_after)
        writeback.drain(world.app.deps, connection_for, rng=lambda: 0.0)
        if all(s == "confirmed" for s, _, _ in _rows(world)):
            break
    assert [s for s, _, _ in _rows(world)] == ["confirmed"] * 3
    assert all(len(_applied(world, m)) == 1 for m in made)


def test_the_platform_deciding_first_fails_the_write_back_with_its_words(world: World) -> None:
    control(world.fake, "aftersales", {"aftersale_type": 1})
    case = _one(world)
    assert _approve(world, case["id"]).status_code == 200
    control(world.fake, "config", {"push_url": "http://127.0.0.1:9/nowhere"})
    control(world.fake, "clock", {"advance": 48 * 3600 + 5})  # its timer agreed first
    drained = writeback.drain(world.app.deps, connection_for)
    assert drained.failed == 1
    ((status, _, error),) = _rows(world)
    assert status == "failed" and error is not None and "20309541" in error
    with world.app.deps.uow() as uow:
        (row,) = uow.outbox.list(world.shop_id)
    listed = world.cli("outbox", "list", "--shop", world.shop_id, "--status", "failed")
    assert "20309541" in listed.stdout
    again = world.cli("outbox", "retry", "--shop", world.shop_id, row.id)
    assert again.returncode == 0, again.stderr
    twice = world.cli("outbox", "retry", "--shop", world.shop_id, row.id)
    assert twice.returncode == 1 and "outbox_not_failed" in twice.stderr


def test_the_worker_pulls_each_connected_shop_and_drains_its_outbox(world: World) -> None:
    from aftersales.entrypoints.worker import platform_pass

    control(world.fake, "config", {"push_url": "http://127.0.0.1:9/nowhere"})
    made = control(world.fake, "aftersales", {"aftersale_type": 1})["aftersale_id"]
    deps = world.app.deps
    platform_pass(deps, deps.clock.now())
    case = _one(world)
    with deps.uow() as uow:
        record = uow.connections.get(world.shop_id)
    assert record is not None and record.cursor and record.last_error is None
    assert record.lag_seconds is not None and record.last_pull_at is not None
    assert _approve(world, case["id"]).status_code == 200
    platform_pass(deps, deps.clock.now())  # within the pull interval: only the outbox
    assert [a["type"] for a in _applied(world, made)] == [201]


def test_a_reject_goes_back_as_a_refusal_with_its_reason(world: World) -> None:
    made = control(world.fake, "aftersales", {"aftersale_type": 0})["aftersale_id"]  # 退货退款
    case = _one(world)
    reply = httpx.post(f"{world.api}/api/v1/cases/{case['id']}/actions/reject",
                       json={"reason_code": "other", "explanation": "商品已拆封影响二次销售"},
                       headers=world.headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert writeback.drain(world.app.deps, connection_for).confirmed == 1
    assert [a["type"] for a in _applied(world, made)] == [202]
    detail = control(world.fake, f"aftersales/{made}")["process_info"]["after_sale_info"]
    assert detail["after_sale_status"] == 27  # 商家一次拒绝
