"""The failure and concurrency cases a production server meets (PostgreSQL): a backend
killed while an action waits on a lock, conflicting actions and idempotent retries on a
served API, requests whose backends are terminated.

Each test bounds its own time (timers release locks, subprocesses and clients have
timeouts), so a regression fails an assertion instead of hanging the suite."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest

from aftersales.adapters.db.migrate import upgrade
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases, orders, shops
from aftersales.service.ports import Principal
from conftest import Make
from integration.locks import Held, plain

pytestmark = pytest.mark.postgres


def _terminate(url: str, where: str) -> list[int]:
    """pg_terminate_backend on this database's backends matching `where` (SQL on
    pg_stat_activity); the pids terminated."""
    with psycopg.connect(plain(url), autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND ({where})").fetchall()]
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pids


async def _waiting(url: str, where: str, count: int = 1, within: float = 3.0) -> None:
    """Until `count` backends of the database match `where` (while the loop goes on)."""
    deadline = time.monotonic() + within
    while True:
        with psycopg.connect(plain(url), autocommit=True) as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                f"AND pid <> pg_backend_pid() AND ({where})").fetchone()[0]
        if found >= count:
            return
        assert time.monotonic() < deadline, f"only {found} of {count} backends {where}"
        await asyncio.sleep(0.05)


LOCK_WAIT = "wait_event_type = 'Lock'"


# --- in-process: the service functions on threads, as the API's thread pool runs them -----


def _on_thread(fn: Callable[[], Any], out: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # the outcome under test
            out.append(exc)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_backend_terminated_while_an_action_waits_raises_into_it_and_the_next_ones_work(
        pg_app: App, pg_url: str, held: Callable[..., Held]) -> None:
    """An action and a message waiting on a case's lock, and a plain statement sleeping:
    each gets the error when the server ends its backend, its connection is discarded, and
    later actions on the same pool succeed with no connection left checked out."""
    make = Make(pg_app)
    shop = make.shop("kuaishou")
    a, b, c = (make.case(shop, reason="no_reason") for _ in range(3))
    agent = make.principal(shop)
    lock = held(a.case.id)

    def sleeper() -> None:
        with pg_app.engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(4)")

    outcomes: list[Any] = []
    threads = [_on_thread(fn, outcomes) for fn in (
        lambda: cases.act_view(pg_app.deps, agent, a.case.id, "approve"),
        lambda: cases.add_message(pg_app.deps, agent, a.case.id, "x"),
        sleeper)]
    asyncio.run(_waiting(pg_url, LOCK_WAIT, 2))
    asyncio.run(_waiting(pg_url, "query LIKE '%pg_sleep(4)%'"))
    assert len(_terminate(pg_url, f"{LOCK_WAIT} OR query LIKE '%pg_sleep(4)%'")) == 3
    for thread in threads:
        thread.join(3)
        assert not thread.is_alive()
    lock.release()
    later = [cases.act_view(pg_app.deps, agent, a.case.id, "approve"),
             cases.act_view(pg_app.deps, agent, b.case.id, "approve"),
             cases.add_message(pg_app.deps, agent, c.case.id, "y")]
    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome, Exception), outcome
        assert "terminat" in str(outcome) or "closed" in str(outcome), outcome
    assert later[0]["state"] == later[1]["state"] == "awaiting_return"
    assert later[2]["body"] == "y"
    assert pg_app.engine.pool.checkedout() == 0


# --- a served API: uvicorn on PostgreSQL ------------------------------------------------------


def _seed(url: str, count: int) -> tuple[dict[str, str], list[str]]:
    """A sandbox Kuaishou shop with `count` requested returns; tokens by role, case ids."""
    app = bootstrap(url)
    upgrade(app.engine)
    shop = shops.create_shop(app.deps, "并发测试店", "kuaishou", sandbox=True)
    sid, now = shop.shop.id, shop.clock_at
    assert now is not None
    tokens = {role: shops.create_token(app.deps, sid, role) for role in ("agent", "platform")}
    tokens["buyer"] = shops.create_token(app.deps, sid, "buyer", "b1")
    ids = []
    for i in range(count):
        line = orders.NewLine(sku="SKU", name="商品", unit_price=10000, quantity=1,
                              paid_amount=10000)
        order, _ = orders.import_order(app.deps, Principal(sid, Role.platform), orders.NewOrder(
            platform_order_id=f"R-{i}-{time.monotonic_ns()}", buyer_id="b1",
            paid_at=now - timedelta(days=5), payment_method="alipay", currency="CNY", freight=0,
            free_shipping=True, lines=(line,), shipped_at=now - timedelta(days=4),
            delivered_at=now - timedelta(days=1)))
        ids.append(cases.open_case(app.deps, Principal(sid, Role.buyer, "b1"), cases.NewCase(
            order_id=order.id, type="return_refund", reason="no_reason",
            lines=((order.lines[0].id, 1),))).case.id)
    app.engine.dispose()
    return tokens, ids


@pytest.fixture(scope="module")
def server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One uvicorn process for the module's tests."""
    from api.helpers import served_api

    app = bootstrap(pg_url)
    upgrade(app.engine)
    app.engine.dispose()
    with served_api(pg_url, tmp_path_factory.mktemp("data")) as base:
        yield base


def _auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def _warm(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    """Each token looked up once: from then on the token cache answers for it."""
    for token in tokens.values():
        assert (await client.get("/api/v1/cases", headers=_auth(token))).status_code in (200, 403)


def _act(client: httpx.AsyncClient, token: str, case_id: str, action: str,
         body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body or {},
                       headers=_auth(token, **headers))


def _events(url: str, case_id: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(plain(url)) as conn:
        return [(k, s) for k, s in conn.execute(
            "SELECT kind, to_state FROM case_events WHERE case_id = %s ORDER BY seq",
            (case_id,)).fetchall()]


@pytest.mark.slow
def test_served_conflicting_actions_on_one_case_have_exactly_one_winner(
        server: str, pg_url: str) -> None:
    tokens, ids = _seed(pg_url, 6)
    reject = {"reason_code": "other", "explanation": "不符合"}

    async def scenario() -> list[list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=server, timeout=20,
                                     limits=httpx.Limits(max_connections=100)) as client:
            await _warm(client, tokens)
            rounds = []
            for case_id in ids:
                calls = [_act(client, tokens["agent"], case_id, "approve") for _ in range(12)]
                calls += [_act(client, tokens["agent"], case_id, "reject", reject)
                          for _ in range(12)]
                rounds.append(list(await asyncio.gather(*calls)))
            return rounds

    for case_id, answers in zip(ids, asyncio.run(scenario()), strict=True):
        codes = sorted(r.status_code for r in answers)
        assert codes.count(200) == 1, ([r.json()["state"] for r in answers if r.status_code == 200],
                                       _events(pg_url, case_id))
        assert all(c in (200, 409, 422) for c in codes), [(r.status_code, r.text[:120])
                                                           for r in answers]
        winner = next(r for r in answers if r.status_code == 200).json()
        moves = [e for e in _events(pg_url, case_id) if e[1] is not None]
        assert moves[-1][1] == winner["state"] and len(moves) == 2, moves  # opened, one move


@pytest.mark.slow
def test_served_idempotent_retries_and_plain_requests_on_one_case_agree(
        server: str, pg_url: str) -> None:
    """Requests with an Idempotency-Key and plain ones racing on one case: one approval
    happens and every keyed retry answers the same."""
    tokens, ids = _seed(pg_url, 3)

    async def scenario() -> list[tuple[list[httpx.Response], list[httpx.Response]]]:
        async with httpx.AsyncClient(base_url=server, timeout=20,
                                     limits=httpx.Limits(max_connections=100)) as client:
            await _warm(client, tokens)
            out = []
            for case_id in ids:
                keyed = [_act(client, tokens["agent"], case_id, "approve",
                              **{"Idempotency-Key": f"k-{case_id}"}) for _ in range(8)]
                bare = [_act(client, tokens["agent"], case_id, "approve") for _ in range(8)]
                got = await asyncio.gather(*keyed, *bare)
                out.append((list(got[:8]), list(got[8:])))
            return out

    for case_id, (keyed, bare) in zip(ids, asyncio.run(scenario()), strict=True):
        settled = [r for r in keyed if r.status_code != 409
                   or r.json()["error"]["code"] != "idempotency_in_progress"]
        assert len({(r.status_code, r.text) for r in settled}) == 1, \
            [(r.status_code, r.text[:100]) for r in keyed]
        wins = [r for r in keyed + bare if r.status_code == 200]
        assert len({r.text for r in wins}) <= 1  # the keyed replays repeat one answer
        approvals = [e for e in _events(pg_url, case_id) if e[1] == "awaiting_return"]
        assert len(approvals) == 1, (approvals, [(r.status_code, r.text[:80]) for r in keyed + bare])


@pytest.mark.slow
def test_served_requests_whose_backends_are_terminated_are_answered_and_the_server_recovers(
        server: str, pg_url: str) -> None:
    tokens, ids = _seed(pg_url, 6)
    stuck, others = ids[0], ids[1:]

    async def scenario() -> tuple[list[httpx.Response], list[httpx.Response], float]:
        async with httpx.AsyncClient(base_url=server, timeout=20,
                                     limits=httpx.Limits(max_connections=100)) as client:
            await _warm(client, tokens)
            hold = Held(pg_url, stuck, after=8)
            try:
                waiting = [asyncio.ensure_future(_act(client, tokens["agent"], stuck, "approve"))
                           for _ in range(10)]
                await _waiting(pg_url, LOCK_WAIT, 10)
                _terminate(pg_url, LOCK_WAIT)
                started = time.monotonic()
                first = list(await asyncio.wait_for(asyncio.gather(*waiting), 6))
                took = time.monotonic() - started
            finally:
                hold.close()
            after = list(await asyncio.gather(
                *[_act(client, tokens["agent"], c, "approve") for c in others],
                _act(client, tokens["agent"], stuck, "approve")))
            return first, after, took

    first, after, took = asyncio.run(scenario())
    assert took < 4, f"the terminated requests were answered after {took:.1f} s"
    assert all(r.status_code >= 500 for r in first), [(r.status_code, r.text[:100]) for r in first]
    assert [r.status_code for r in after] == [200] * len(after), \
        [(r.status_code, r.text[:100]) for r in after]
