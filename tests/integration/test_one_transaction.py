"""Every command is one transaction (PostgreSQL here): it locks the case while it decides,
in the deadline worker's lock order, and writes everything or nothing.

Kept from the optimistic attempts' tests when that path was deleted (issue 16): a case
changed while an action waits is decided against the case as it then is, a compatible
action still lands, the locks are the worker's order, a dead connection or a refused value
writes nothing and leaves the pool working.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from aftersales.adapters.clock import FixedClock
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.store import SqlCases
from aftersales.domain.case import ActionRequest
from aftersales.domain.errors import InvalidTransition
from aftersales.domain.vocabulary import Role, State
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases
from aftersales.service.ports import Principal
from conftest import T0, Make
from integration.locks import plain

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: App) -> App:
    return pg_app  # (Make and the tests below run on PostgreSQL only)


def _agent(shop_id: str) -> Principal:
    return Principal(shop_id, Role.agent, None, "agent1")


def _events(app: App, case_id: str) -> list[str]:
    with app.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(
            "SELECT kind FROM case_events WHERE case_id = %(c)s ORDER BY seq", {"c": case_id})]


def _lock_waits(probe: psycopg.Connection[Any], count: int = 1) -> None:
    waited = time.monotonic() + 10
    while probe.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()").fetchone()[0] < count:  # type: ignore[index]
        assert time.monotonic() < waited, "nothing waited on a lock"
        time.sleep(0.02)


@pytest.fixture
def slow_first_read(monkeypatch: pytest.MonkeyPatch
                    ) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first locked case read of the test holds its lock until `go` is set; `taken`
    is set once it has read (and locked) the case."""
    original = SqlCases.get_case_bundle
    go, taken = threading.Event(), threading.Event()

    def read(self: SqlCases, *args: Any, **kwargs: Any) -> Any:
        found = original(self, *args, **kwargs)
        if kwargs.get("lock") and not taken.is_set():
            taken.set()
            go.wait(10)
        return found

    monkeypatch.setattr(SqlCases, "get_case_bundle", read)
    yield go, taken
    go.set()


def _in_thread(fn: Any, out: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # handed to the test thread
            out.append(exc)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_case_changed_while_an_action_waits_is_decided_again_under_the_lock(
        app: App, make: Make, pg_url: str,
        slow_first_read: tuple[threading.Event, threading.Event]) -> None:
    """A second approval waits for the first one's lock; after the first commits it reads
    the case as it now is (the bundle read again after its lock waited) and is refused."""
    go, taken = slow_first_read
    case = make.case(make.shop()).case
    agent = _agent(case.shop_id)
    first: list[Any] = []
    one = _in_thread(lambda: cases.act(app.deps, agent, case.id, "approve"), first)
    with psycopg.connect(plain(pg_url), autocommit=True) as probe:
        assert taken.wait(10)
        second: list[Any] = []
        two = _in_thread(lambda: cases.act(app.deps, agent, case.id, "approve"), second)
        _lock_waits(probe)
        go.set()
        one.join(10), two.join(10)
    assert isinstance(first[0], cases.Loaded), first
    assert isinstance(second[0], InvalidTransition), second
    assert _events(app, case.id) == ["opened", "approve"]


def test_a_case_changed_while_an_action_waits_can_still_take_a_compatible_action(
        app: App, make: Make, pg_url: str,
        slow_first_read: tuple[threading.Event, threading.Event]) -> None:
    """Two different actions racing on one case both land when the second is still allowed
    after the first (a message, then an approval), and the approval's answer has the
    message in its history."""
    go, taken = slow_first_read
    case = make.case(make.shop()).case
    agent = _agent(case.shop_id)
    first: list[Any] = []
    one = _in_thread(lambda: cases.add_message(app.deps, agent, case.id, "稍等"), first)
    with psycopg.connect(plain(pg_url), autocommit=True) as probe:
        assert taken.wait(10)  # (the message holds the case)
        second: list[Any] = []
        two = _in_thread(lambda: cases.act_view(app.deps, agent, case.id, "approve"), second)
        _lock_waits(probe)
        go.set()
        one.join(10), two.join(10)
    assert isinstance(first[0], dict), first
    assert second[0]["state"] == "awaiting_return", second
    assert [e["kind"] for e in second[0]["events"]] == ["opened", "message", "approve"]
    assert _events(app, case.id) == ["opened", "message", "approve"]


def test_an_action_holds_the_deadline_rows_and_the_case_until_it_commits(
        app: App, make: Make, pg_url: str) -> None:
    case = make.case(make.shop()).case
    task = {"id": app.deps.new_id(), "case_id": case.id, "kind": "x", "created_at": T0,
            "note": "x"}
    with psycopg.connect(plain(pg_url), autocommit=True) as probe:
        probe.execute("SET lock_timeout = '100ms'")
        with app.deps.uow() as uow:
            assert uow.cases.get_case_bundle(case.shop_id, case.id, lock=True) is not None
            uow.records.add_task(case.shop_id, task)
            with pytest.raises(psycopg.errors.LockNotAvailable):
                probe.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case.id,))
            with pytest.raises(psycopg.errors.LockNotAvailable):
                probe.execute("SELECT id FROM deadlines WHERE case_id = %s AND status = "
                              "'pending' FOR UPDATE", (case.id,))
            # leaving without commit: nothing of it stays
        assert probe.execute("SELECT count(*) FROM tasks WHERE id = %s",
                             (task["id"],)).fetchone() == (0,)
        with app.deps.uow() as uow:
            uow.cases.get_case_bundle(case.shop_id, case.id, lock=True)
            uow.records.add_task(case.shop_id, task)
            uow.commit()
        assert probe.execute("SELECT count(*) FROM tasks WHERE id = %s",
                             (task["id"],)).fetchone() == (1,)
        probe.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case.id,))  # released


def test_an_action_locks_deadline_rows_before_the_case(app: App, make: Make, pg_url: str) -> None:
    """The deadline worker locks a case's pending deadline row, then the case. An action
    takes them in the same order: while the worker holds the deadline row, the action
    waits without holding the case row, so the worker can go on (no deadlock)."""
    case = make.case(make.shop()).case
    result: list[object] = []
    with psycopg.connect(plain(pg_url)) as worker, \
            psycopg.connect(plain(pg_url), autocommit=True) as probe:
        worker.execute("SELECT id FROM deadlines WHERE case_id = %s AND status = 'pending' "
                       "FOR UPDATE", (case.id,))
        acting = _in_thread(lambda: cases.act(app.deps, _agent(case.shop_id), case.id,
                                              "approve"), result)
        _lock_waits(probe)
        # the action is waiting for the deadline row: the case row must still be free
        probe.execute("SET lock_timeout = '200ms'")
        with probe.transaction():
            probe.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case.id,))
        # the worker, holding the deadline row, takes the case row and moves on
        worker.execute("UPDATE cases SET version = version WHERE id = %s", (case.id,))
        worker.commit()
        acting.join(30)
    assert isinstance(result[0], cases.Loaded), result
    assert result[0].case.state is State.awaiting_return


def test_an_action_that_starts_a_refund_refunds_once(app: App, make: Make) -> None:
    case = make.case(make.shop(), type="refund_only", reason="not_as_described").case
    done = cases.act(app.deps, _agent(case.shop_id), case.id, "approve")
    assert done.case.state in (State.refunding, State.completed)
    with app.engine.connect() as conn:
        entries = conn.exec_driver_sql("SELECT kind, status FROM refunds WHERE case_id = %(c)s",
                                       {"c": case.id}).all()
    assert [kind for kind, _ in entries] == ["goods"]
    assert _events(app, case.id) == ["opened", *(e.kind for e in done.case.events)]


def test_an_action_whose_connection_dies_writes_nothing_and_the_next_one_works(
        make: Make, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server ends the action's connection between its read and its save: the action
    fails and the pool does not hand that connection out again — the next action, on a
    pool of one, works."""
    from sqlalchemy.exc import DBAPIError

    one = make_engine(pg_url, pool_size=1, max_overflow=0)
    app = bootstrap(engine=one, clock=FixedClock(T0))
    shop = make.shop()
    first, second = make.case(shop).case, make.case(shop).case
    agent = _agent(shop.shop.id)
    original = SqlCases.get_case_bundle
    killed: list[int] = []

    def read_then_die(self: SqlCases, *args: Any, **kwargs: Any) -> Any:
        found = original(self, *args, **kwargs)
        if not killed:
            killed.append(self.conn.connection.driver_connection.info.backend_pid)
            with psycopg.connect(plain(pg_url), autocommit=True) as probe:
                probe.execute("SELECT pg_terminate_backend(%s, 5000)", (killed[0],))
        return found

    monkeypatch.setattr(SqlCases, "get_case_bundle", read_then_die)
    try:
        with pytest.raises(DBAPIError):
            cases.act(app.deps, agent, first.id, "approve")
        assert killed and _events(app, first.id) == ["opened"]
        assert cases.act(app.deps, agent, second.id, "approve").case.state \
            is State.awaiting_return
    finally:
        one.dispose()


def test_a_nul_character_is_refused_and_nothing_is_written(app: App, make: Make) -> None:
    """PostgreSQL text cannot hold a NUL byte; psycopg refuses the value (rather than
    storing it cut off) and the action writes nothing."""
    from sqlalchemy.exc import DataError

    case = make.case(make.shop()).case
    with pytest.raises(DataError):
        cases.act(app.deps, _agent(case.shop_id), case.id, "approve",
                  ActionRequest(note="ok\x00 and the rest"))
    assert _events(app, case.id) == ["opened"]
