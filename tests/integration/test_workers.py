"""Deadline workers under contention: several processes, a SIGKILL, an agent in the way.

Why real processes: SKIP LOCKED, transaction boundaries and a killed connection are
properties of PostgreSQL and the driver, not of our Python; only separate processes
against a real server show that every due deadline fires exactly once, that a worker
killed mid-sweep leaves nothing half-done, and that an agent acting on a case at the same
moment as the worker leaves one consistent outcome.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import Engine

from aftersales.adapters.clock import FixedClock
from aftersales.domain.errors import DomainError
from aftersales.domain.vocabulary import State
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases, timers
from conftest import T0, Make, migrated_engine, postgres_database
from integration.seeding import seed

DUE = 2000


@pytest.fixture
def pg() -> Iterator[tuple[str, App]]:
    with postgres_database() as url, migrated_engine(url) as engine:
        yield url, bootstrap(engine=engine, clock=FixedClock(T0))


def _tick(url: str, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "aftersales.entrypoints.cli", "--database", url, "tick",
           "--now", T0.isoformat(), "--json", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _consistency(engine: Engine) -> dict[str, int]:
    """Per case: a fired deadline row ⟺ exactly one system event ⟺ the case is closed."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("""
            SELECT c.id, c.state,
                   (SELECT count(*) FROM deadlines d WHERE d.case_id = c.id AND d.status = 'fired'),
                   (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.actor = 'system')
            FROM cases c WHERE c.state IN ('awaiting_return', 'closed')""").all()
    fired = 0
    for case_id, state, dl_fired, sys_events in rows:
        assert (dl_fired, sys_events) in ((0, 0), (1, 1)), (case_id, dl_fired, sys_events)
        assert (state == "closed") == (dl_fired == 1), (case_id, state)
        fired += dl_fired
    return {"cases": len(rows), "fired": fired}


@pytest.mark.postgres
@pytest.mark.xdist_group("postgres_heavy")
@pytest.mark.parametrize("workers", [2, 4])
def test_racing_worker_processes_fire_each_deadline_exactly_once(pg: tuple[str, App], workers: int) -> None:
    url, app = pg
    seed(app, due=DUE, open_=DUE, base=T0)
    procs = [_tick(url, "--batch", "25") for _ in range(workers)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    fired = [f["case_id"] for r in reports for f in r["fired"]]
    assert len(fired) == DUE and len(set(fired)) == DUE  # no case fired by two workers
    assert sum(1 for r in reports if r["fired"]) >= 2  # they really raced
    assert _consistency(app.engine) == {"cases": 2 * DUE, "fired": DUE}
    with app.engine.connect() as conn:
        pending_due = conn.exec_driver_sql(
            "SELECT count(*) FROM deadlines WHERE status = 'pending' AND due_at <= %(t)s",
            {"t": T0}).scalar_one()
    assert pending_due == 0


@pytest.mark.postgres
@pytest.mark.xdist_group("postgres_heavy")
def test_a_worker_killed_mid_sweep_leaves_nothing_half_done(pg: tuple[str, App]) -> None:
    url, app = pg
    seed(app, due=DUE, base=T0)
    name = f"as_kill_{os.getpid()}"
    proc = _tick(f"{url}?application_name={name}", "--batch", "400")
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # one batch committed, the next one under way
            done = conn.execute("SELECT count(*) FROM deadlines WHERE status = 'fired'").fetchone()
            busy = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                                "AND xact_start < now() - interval '300 milliseconds'", (name,)).fetchone()
            if done and done[0] > 0 and busy and busy[0] > 0:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (name,)).fetchone() != (0,):
            time.sleep(0.05)  # the server notices the dead client and rolls its batch back
    after_kill = _consistency(app.engine)
    assert 0 < after_kill["fired"] < DUE, after_kill
    assert after_kill["fired"] % 400 == 1 or after_kill["fired"] % 400 == 0  # whole batches only
    rest = timers.sweep(app.deps, T0, live_only=True)
    assert len(rest) == DUE - after_kill["fired"]
    assert _consistency(app.engine) == {"cases": DUE, "fired": DUE}


@pytest.mark.xdist_group("postgres_heavy")
def test_an_agent_racing_the_worker_leaves_one_consistent_outcome(app: App, make: Make, clock) -> None:
    """give_up_goods (→ refunding) against the buyer's shipping deadline (→ closed)."""
    clock.at = T0 - timedelta(days=11)
    pairs = []
    for _ in range(8):
        shop = make.shop("kuaishou")
        loaded = make.case(shop, reason="no_reason")
        make.act(loaded, "approve")
        pairs.append((shop, loaded))
    clock.at = T0
    errors: list[BaseException] = []

    def agent(loaded: cases.Loaded, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            make.act(loaded, "give_up_goods")
        except DomainError as exc:  # the worker was first: the case moved on
            if exc.code != "invalid_transition":
                errors.append(exc)
        except BaseException as exc:
            errors.append(exc)

    def worker(shop_id: str, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            timers.sweep(app.deps, T0, shop_id=shop_id)
        except BaseException as exc:
            errors.append(exc)

    for shop, loaded in pairs:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=agent, args=(loaded, barrier)),
                   threading.Thread(target=worker, args=(shop.shop.id, barrier))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
    assert not errors, [f"{type(e).__name__}: {e}" for e in errors]
    for shop, loaded in pairs:
        with app.deps.uow() as uow:
            case = uow.cases.get_case(shop.shop.id, loaded.case.id)
            events = uow.cases.events(shop.shop.id, loaded.case.id)
            pending = uow.deadlines.claim_due(T0, 10, shop.shop.id)
        assert case is not None
        moves = [e.kind for e in events if e.from_state is State.awaiting_return
                 and e.to_state is not State.awaiting_return]
        assert moves in (["give_up_goods"], ["auto_close"]), moves
        expected = State.closed if moves == ["auto_close"] else State.refunding
        assert case.state is expected
        assert events[-1].to_state is expected or events[-1].kind == "refund_planned"
        assert pending == []  # no due deadline left behind for either outcome
