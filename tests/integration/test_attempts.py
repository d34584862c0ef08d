"""Optimistic attempts (Deps.attempt, PostgreSQL): an action without a transaction.

The attempt reads the case without locks and writes it back in one version-checked
statement. These tests hold it to the promise that makes that safe: one outcome per
command. It either lands whole, or writes nothing and leaves the command to the locking
transaction, which decides against the case as it then is. They also check the statement's
lock order against the deadline worker's.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import insert

from aftersales.adapters.clock import FixedClock
from aftersales.adapters.db import tables as t
from aftersales.domain.case import ActionRequest
from aftersales.domain.errors import InvalidTransition
from aftersales.domain.events import SYSTEM
from aftersales.domain.vocabulary import Role, State
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal, UnitOfWork
from conftest import T0, Make, migrated_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: App) -> App:
    return pg_app  # (Make and the tests below run on PostgreSQL only)


class Counted:
    """A deps whose two kinds of unit of work count how often they were opened."""

    def __init__(self, deps: Deps, on_attempt_read: Callable[[], None] | None = None) -> None:
        self.attempts = self.transactions = 0
        self.on_attempt_read = on_attempt_read
        assert deps.attempt is not None
        attempt, uow = deps.attempt, deps.uow

        def counted_attempt() -> UnitOfWork:
            self.attempts += 1
            unit = attempt()
            if self.on_attempt_read is None:
                return unit
            return _AfterRead(unit, self.on_attempt_read)  # type: ignore[return-value]

        def counted_uow() -> UnitOfWork:
            self.transactions += 1
            return uow()

        self.deps = dataclasses.replace(deps, attempt=counted_attempt, uow=counted_uow)


class _AfterRead:
    """An attempt whose store runs `hook` right after it has read the case (once)."""

    def __init__(self, unit: UnitOfWork, hook: Callable[[], None]) -> None:
        self.unit, self.hook = unit, hook

    def __enter__(self) -> UnitOfWork:
        entered = self.unit.__enter__()
        store: Any = entered.store
        read = store.get_case_bundle

        def read_then_hook(*args: Any, **kwargs: Any) -> Any:
            found = read(*args, **kwargs)
            store.get_case_bundle = read
            self.hook()
            return found

        store.get_case_bundle = read_then_hook
        return entered

    def __exit__(self, *exc: object) -> None:
        self.unit.__exit__(*exc)


def _agent(shop_id: str) -> Principal:
    return Principal(shop_id, Role.agent, None, "agent1")


def _events(app: App, case_id: str) -> list[str]:
    with app.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(
            "SELECT kind FROM case_events WHERE case_id = %(c)s ORDER BY seq", {"c": case_id})]


def test_sqlite_has_no_attempt(tmp_path: Any) -> None:
    with migrated_engine(f"sqlite:///{tmp_path / 'a.db'}") as engine:
        assert bootstrap(engine=engine).deps.attempt is None


def test_a_plain_action_is_one_attempt_and_no_transaction(app: App, make: Make) -> None:
    case = make.case(make.shop()).case
    counted = Counted(app.deps)
    view = cases.act_view(counted.deps, _agent(case.shop_id), case.id, "approve")
    assert (counted.attempts, counted.transactions) == (1, 0)
    assert view["state"] == "awaiting_return" and view["version"] == case.version + 1
    assert [e["kind"] for e in view["events"]] == _events(app, case.id) == ["opened", "approve"]
    with app.engine.connect() as conn:
        pending = conn.exec_driver_sql(
            "SELECT key FROM deadlines WHERE case_id = %(c)s AND status = 'pending'",
            {"c": case.id}).scalars().all()
    assert len(pending) == 1 and pending[0].endswith(view["deadline"]["rule"])


def test_an_action_that_starts_a_refund_becomes_a_transaction_and_refunds_once(
        app: App, make: Make) -> None:
    """Approving a refund-only case writes ledger entries: at the first of them the attempt
    takes the locks and becomes a transaction, and does the whole action in it."""
    case = make.case(make.shop(), type="refund_only", reason="not_as_described").case
    counted = Counted(app.deps)
    done = cases.act(counted.deps, _agent(case.shop_id), case.id, "approve")
    assert (counted.attempts, counted.transactions) == (1, 0)
    assert done.case.state in (State.refunding, State.completed)
    with app.engine.connect() as conn:
        entries = conn.exec_driver_sql("SELECT kind, status FROM refunds WHERE case_id = %(c)s",
                                       {"c": case.id}).all()
    assert [kind for kind, _ in entries] == ["goods"]
    assert _events(app, case.id).count("approve") == 1
    assert _events(app, case.id) == ["opened", *(e.kind for e in done.case.events)]


def test_a_case_changed_before_the_attempt_turns_into_a_transaction_is_decided_again(
        app: App, make: Make) -> None:
    """A message lands between the attempt's read and its first ledger write: the check
    under the locks sees another version, nothing is written, and the locking path
    approves the case as it now is — once."""
    case = make.case(make.shop(), type="refund_only", reason="not_as_described").case
    agent = _agent(case.shop_id)
    counted = Counted(app.deps, lambda: cases.add_message(app.deps, agent, case.id, "稍等"))
    cases.act(counted.deps, agent, case.id, "approve")
    assert (counted.attempts, counted.transactions) == (1, 1)
    kinds = _events(app, case.id)
    assert kinds[:3] == ["opened", "message", "approve"] and kinds.count("approve") == 1
    with app.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM refunds WHERE case_id = %(c)s",
                                    {"c": case.id}).scalar_one() == 1


def test_an_attempt_turned_transaction_holds_the_locks_and_commits_only_at_the_end(
        app: App, make: Make, pg_url: str) -> None:
    case = make.case(make.shop()).case
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    task = {"id": app.deps.new_id(), "case_id": case.id, "kind": "x", "created_at": T0,
            "note": "x"}
    assert app.deps.attempt is not None
    with psycopg.connect(dsn, autocommit=True) as probe:
        probe.execute("SET lock_timeout = '100ms'")
        with app.deps.attempt() as uow:
            store: Any = uow.store
            assert store.get_case_bundle(case.shop_id, case.id, lock=True) is not None
            store.add_task(case.shop_id, task)  # the first write: locks taken here
            with pytest.raises(psycopg.errors.LockNotAvailable):
                probe.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case.id,))
            with pytest.raises(psycopg.errors.LockNotAvailable):
                probe.execute("SELECT id FROM deadlines WHERE case_id = %s AND status = "
                              "'pending' FOR UPDATE", (case.id,))
            # leaving without commit: nothing of it stays
        assert probe.execute("SELECT count(*) FROM tasks WHERE id = %s",
                             (task["id"],)).fetchone() == (0,)
        with app.deps.attempt() as uow:
            store = uow.store
            store.get_case_bundle(case.shop_id, case.id, lock=True)
            store.add_task(case.shop_id, task)
            uow.commit()
        assert probe.execute("SELECT count(*) FROM tasks WHERE id = %s",
                             (task["id"],)).fetchone() == (1,)
        probe.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case.id,))  # released


def test_a_case_changed_after_the_read_is_decided_again_under_the_lock(app: App,
                                                                       make: Make) -> None:
    """Another approval commits between the attempt's read and its save: the attempt's
    statement matches no row (version), writes nothing, and the locking transaction then
    refuses the second approval against the case as it now is."""
    case = make.case(make.shop()).case
    agent = _agent(case.shop_id)
    counted = Counted(app.deps, lambda: cases.act(app.deps, agent, case.id, "approve"))
    with pytest.raises(InvalidTransition):
        cases.act(counted.deps, agent, case.id, "approve")
    assert (counted.attempts, counted.transactions) == (1, 1)
    assert _events(app, case.id) == ["opened", "approve"]


def test_a_case_changed_after_the_read_can_still_take_a_compatible_action(app: App,
                                                                         make: Make) -> None:
    """As before attempts existed: two different actions racing on one case both land
    when the second is still allowed after the first (a message, then an approval)."""
    case = make.case(make.shop()).case
    agent = _agent(case.shop_id)
    counted = Counted(app.deps, lambda: cases.add_message(app.deps, agent, case.id, "稍等"))
    done = cases.act(counted.deps, agent, case.id, "approve")
    assert done.case.state is State.awaiting_return
    assert _events(app, case.id) == ["opened", "message", "approve"]


def test_the_save_locks_deadline_rows_before_the_case(app: App, make: Make, pg_url: str) -> None:
    """The deadline worker locks a case's pending deadline row, then the case. An attempt's
    save takes them in the same order: while the worker holds the deadline row, the save
    waits without holding the case row, so the worker can go on (no deadlock)."""
    case = make.case(make.shop()).case
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    result: list[object] = []
    with psycopg.connect(dsn) as worker, psycopg.connect(dsn, autocommit=True) as probe:
        worker.execute("SELECT id FROM deadlines WHERE case_id = %s AND status = 'pending' "
                       "FOR UPDATE", (case.id,))

        def approve() -> None:
            try:
                result.append(cases.act(app.deps, _agent(case.shop_id), case.id, "approve"))
            except Exception as exc:  # handed to the test thread
                result.append(exc)

        acting = threading.Thread(target=approve)
        acting.start()
        waited = time.monotonic() + 10
        while time.monotonic() < waited and not probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'WITH l AS%%'").fetchone()[0]:  # type: ignore[index]
            time.sleep(0.02)
        # the save is waiting for the deadline row: the case row must still be free
        probe.execute("SET lock_timeout = '200ms'")
        with probe.transaction():
            probe.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case.id,))
        # the worker, holding the deadline row, takes the case row and moves on
        worker.execute("UPDATE cases SET version = version WHERE id = %s", (case.id,))
        worker.commit()
        acting.join(30)
    assert isinstance(result[0], cases.Loaded), result
    assert result[0].case.state is State.awaiting_return


def test_an_attempt_refuses_any_write_after_its_one_statement_save(app: App,
                                                                   make: Make) -> None:
    """The save committed by itself: running the command again would act twice, so a
    later write is a bug, not a reason to retry."""
    case = make.case(make.shop()).case
    assert app.deps.attempt is not None
    with app.deps.attempt() as uow:
        store: Any = uow.store
        found = store.get_case_bundle(case.shop_id, case.id, lock=True)
        found.case.record("note", SYSTEM, T0, "一条备注")
        store.save_case(found.case, None, T0)
        with pytest.raises(RuntimeError):
            store.conn.execute(insert(t.tasks).values(
                id=app.deps.new_id(), shop_id=case.shop_id, case_id=case.id, kind="x",
                created_at=T0, note="x"))
        with pytest.raises(RuntimeError):
            store.save_case(found.case, None, T0)
    assert _events(app, case.id) == ["opened", "note"]


def test_values_reach_postgresql_as_the_transaction_sends_them(app: App, make: Make) -> None:
    """Through libpq the values travel as text: the same actions with and without the
    attempt store the same row and the same events (JSON, times, booleans, amounts)."""
    from aftersales.domain.money import Money

    shop = make.shop()
    stored = []
    for deps in (app.deps, dataclasses.replace(app.deps, attempt=None)):
        case = make.case(shop).case
        buyer = Principal(shop.shop.id, Role.buyer, case.buyer_id)
        warehouse = Principal(shop.shop.id, Role.warehouse, None, "w1")
        cases.act(deps, _agent(shop.shop.id), case.id, "approve", ActionRequest(note="同意 ok"))
        cases.act(deps, buyer, case.id, "ship_return", ActionRequest(
            carrier="顺丰 \"SF\"", waybill="SF-1", prepaid=False,
            return_freight=Money(1200, "CNY")))
        cases.act(deps, warehouse, case.id, "receive", ActionRequest(prepaid=False))
        with app.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT state, state_seq, return_carrier, return_waybill, return_prepaid, "
                "return_freight, received_at, approved_amount, first_response_at, "
                "deadline_at, deadline_rule, version, event_count "
                "FROM cases WHERE id = %(c)s", {"c": case.id}).one()
            events = conn.exec_driver_sql(
                "SELECT seq, kind, actor, from_state, to_state, explanation, data::text, at "
                "FROM case_events WHERE case_id = %(c)s ORDER BY seq", {"c": case.id}).all()
            pending = conn.exec_driver_sql(
                "SELECT key, due_at, outcome, rule FROM deadlines WHERE case_id = %(c)s "
                "AND status = 'pending'", {"c": case.id}).all()
        stored.append((tuple(row), [tuple(e) for e in events], [tuple(p) for p in pending]))
    assert stored[0] == stored[1]
    # (a cash-on-delivery return is refused at the warehouse: back to awaiting_return)
    assert stored[0][0][0] == "awaiting_return" and stored[0][0][4] is False
    assert [e[1] for e in stored[0][1]] == ["opened", "approve", "ship_return",
                                            "parcel_refused_cod"]



def test_an_attempt_whose_connection_dies_fails_and_the_next_one_works(
        make: Make, pg_url: str) -> None:
    """The server ends the attempt's connection between its read and its save: the action
    fails (as it would in a transaction) and the pool does not hand that connection out
    again — the next action, on a pool of one, works."""
    from sqlalchemy.exc import DBAPIError

    from aftersales.adapters.db.engine import make_engine

    one = make_engine(pg_url, pool_size=1, max_overflow=0)
    app = bootstrap(engine=one, clock=FixedClock(T0))
    shop = make.shop()
    first, second = make.case(shop).case, make.case(shop).case
    agent = _agent(shop.shop.id)
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    seen: list[Any] = []

    class Killing(_AfterRead):
        def __enter__(self) -> UnitOfWork:
            entered = super().__enter__()
            seen.append(entered.store.conn.connection.driver_connection.info.backend_pid)  # type: ignore[attr-defined]
            return entered

    def kill() -> None:
        with psycopg.connect(dsn, autocommit=True) as probe:
            probe.execute("SELECT pg_terminate_backend(%s)", (seen[0],))

    assert app.deps.attempt is not None
    attempt = app.deps.attempt
    deps = dataclasses.replace(app.deps, attempt=lambda: Killing(attempt(), kill))  # type: ignore[arg-type,return-value]
    try:
        with pytest.raises(DBAPIError):
            cases.act(deps, agent, first.id, "approve")
        assert _events(app, first.id) == ["opened"]
        assert cases.act(app.deps, agent, second.id, "approve").case.state \
            is State.awaiting_return
    finally:
        one.dispose()


def test_a_nul_character_is_refused_as_the_transaction_refuses_it(app: App, make: Make) -> None:
    """libpq would end a text value at a NUL byte and store the rest cut off; psycopg
    refuses it. The attempt refuses it too, and nothing is written."""
    from sqlalchemy.exc import DataError

    shop = make.shop()
    for deps in (app.deps, dataclasses.replace(app.deps, attempt=None)):
        case = make.case(shop).case
        with pytest.raises(DataError):
            cases.act(deps, _agent(shop.shop.id), case.id, "approve",
                      ActionRequest(note="ok\x00 and the rest"))
        assert _events(app, case.id) == ["opened"]
