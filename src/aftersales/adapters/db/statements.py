"""The store's SQL, built once at import: prebuilt statements with named parameters, which
SQLAlchemy compiles once and reuses (its cache key is the statement, not the values), and
which psycopg prepares on the server once a connection has run them a few times
(engine.py: `prepare_threshold`). Everything goes through `Connection.execute`.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import (
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from aftersales.adapters.db import bundles
from aftersales.adapters.db import tables as t
from aftersales.adapters.db.hints import unindexed
from aftersales.domain.events import Event
from aftersales.domain.vocabulary import State

_c, _d = t.cases.c, t.deadlines.c
ALL_CASE_COLUMNS = [col.name for col in t.cases.columns]
CASE_COLUMNS = [col.name for col in t.cases.columns if col.name not in ("id", "shop_id")]
UPDATE_CASE = update(t.cases).where(
    _c.shop_id == bindparam("k_shop"), _c.id == bindparam("k_id"),
    _c.version == bindparam("k_version"),
).values({name: bindparam(name) for name in CASE_COLUMNS})
ALWAYS_WRITTEN = ("version", "event_count")
_UPDATE_CASE_BY_COLUMNS: dict[tuple[str, ...], Any] = {}


def update_case_statement(columns: tuple[str, ...]) -> Any:
    """The case UPDATE writing only `columns` (plus version and event count), built once per
    column set: an action changes a few of the 45 columns, and each bound value costs."""
    stmt = _UPDATE_CASE_BY_COLUMNS.get(columns)
    if stmt is None:
        stmt = update(t.cases).where(
            _c.shop_id == bindparam("k_shop"), _c.id == bindparam("k_id"),
            _c.version == bindparam("k_version"),
        ).values({name: bindparam(name) for name in (*columns, *ALWAYS_WRITTEN)})
        if len(_UPDATE_CASE_BY_COLUMNS) < 1024:  # a handful of sets in practice
            _UPDATE_CASE_BY_COLUMNS[columns] = stmt
    return stmt
SUPERSEDE_PENDING = update(t.deadlines).where(
    _d.case_id == bindparam("k_case"), _d.shop_id == bindparam("k_shop"),
    _d.status == "pending").values(status="superseded", settled_at=bindparam("k_now"))
MOVE_PENDING = update(t.deadlines).where(
    _d.case_id == bindparam("k_case"), _d.shop_id == bindparam("k_shop"),
    _d.key == bindparam("k_key"), _d.status == "pending").values(
    due_at=bindparam("due_at"), outcome=bindparam("outcome"), source=bindparam("source"))


def _upsert_deadline(dialect_insert: Any) -> Any:
    stmt = dialect_insert(t.deadlines)
    return stmt.on_conflict_do_update(
        index_elements=["case_id", "key"],
        set_={"due_at": stmt.excluded.due_at, "outcome": stmt.excluded.outcome,
              "source": stmt.excluded.source, "rule": stmt.excluded.rule,
              "status": "pending", "settled_at": None})


UPSERT_DEADLINE_PG = _upsert_deadline(pg_insert)
UPSERT_DEADLINE_SQLITE = _upsert_deadline(sqlite_insert)
# PostgreSQL: supersede the other pending rows and upsert the new one in one round trip.
# The CTE leaves a pending row with the new key alone (the upsert moves it), so no row is
# modified twice by the one statement. Text: SQLAlchemy 2.1 mis-binds INSERT.add_cte().
REPLACE_DEADLINE_PG = text(
    "WITH superseded AS (UPDATE deadlines SET status = 'superseded', settled_at = :k_now "
    "WHERE case_id = :case_id AND shop_id = :shop_id AND status = 'pending' AND key <> :key) "
    "INSERT INTO deadlines (id, shop_id, case_id, key, due_at, outcome, source, rule, status) "
    "VALUES (:id, :shop_id, :case_id, :key, :due_at, :outcome, :source, :rule, 'pending') "
    "ON CONFLICT (case_id, key) DO UPDATE SET due_at = excluded.due_at, "
    "outcome = excluded.outcome, source = excluded.source, rule = excluded.rule, "
    "status = 'pending', settled_at = NULL",
).bindparams(bindparam("k_now", type_=t.UtcDateTime()), bindparam("due_at", type_=t.UtcDateTime()))
SELECT_SHOP = select(t.shops).where(t.shops.c.id == bindparam("k_id"))
_LINE_COLS = [c.label(f"line_{c.name}") for c in t.order_lines.columns]
SELECT_ORDER_WITH_LINES = select(t.orders, *_LINE_COLS).join(
    t.order_lines, t.order_lines.c.order_id == t.orders.c.id).where(
    t.orders.c.shop_id == bindparam("k_shop"), t.orders.c.id == bindparam("k_id"),
    unindexed(t.order_lines.c.shop_id) == bindparam("k_shop"))


class LineRow:
    """A joined row seen as an order_lines row (attributes without the `line_` prefix)."""

    __slots__ = ("_row",)

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, f"line_{name}")


SELECT_LINES = select(t.order_lines).where(t.order_lines.c.order_id == bindparam("k_order"),
                                           unindexed(t.order_lines.c.shop_id) == bindparam("k_shop"))
SELECT_EVENTS = select(t.case_events).where(
    t.case_events.c.shop_id == bindparam("k_shop"), t.case_events.c.case_id == bindparam("k_case")
).order_by(t.case_events.c.seq)
SELECT_CASE = select(t.cases).where(_c.shop_id == bindparam("k_shop"), _c.id == bindparam("k_id"))
INSERT_EVENT = insert(t.case_events)
INSERT_CASE = insert(t.cases)
SELECT_CANCELLED = select(t.case_events.c.case_id).where(
    unindexed(t.case_events.c.shop_id) == bindparam("k_shop"),
    t.case_events.c.case_id.in_(bindparam("k_cases", expanding=True)),
    t.case_events.c.kind == "cancel")
# PostgreSQL, locking: the case's pending deadline rows first, then the case — the order
# the deadline worker takes them (claim_due, then fire_one); the other order deadlocks
# when an agent acts on a case the worker is firing. The deadline rows are locked in an
# uncorrelated sub-select (an InitPlan, run before the case row is locked), the case row
# by the bundle read itself (bundles.case_bundle explains how a wait is noticed).
_PENDING_LOCKED = select(func.count()).select_from(
    select(_d.id).where(_d.case_id == bindparam("k_id"), _d.shop_id == bindparam("k_shop"),
                        _d.status == literal_column("'pending'"))
    .with_for_update().subquery("pending_deadlines")).scalar_subquery()
SELECT_CASE_BUNDLE_LOCKED_PG = bundles.case_bundle(pg=True, lock=_PENDING_LOCKED.is_not(None))
# A key held for the rest of the transaction (SqlUnitOfWork.hold, turns.py)
HOLD_PG = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")
# An order held for the rest of the transaction (SqlOrders.lock_order, turns.py)
LOCK_ORDER_PG = select(t.orders.c.id).where(
    t.orders.c.shop_id == bindparam("k_shop"), t.orders.c.id == bindparam("k_id")
).with_for_update()
SELECT_CASE_BUNDLE_PG = bundles.case_bundle(pg=True)
SELECT_CASE_BUNDLE_SQLITE = bundles.case_bundle(pg=False)
SELECT_ORDER_BUNDLE_PG = bundles.order_bundle(pg=True)
SELECT_ORDER_LEDGER = {True: bundles.order_ledger(pg=True), False: bundles.order_ledger(pg=False)}
SELECT_ORDER_CASES = {True: bundles.order_cases(pg=True), False: bundles.order_cases(pg=False)}
SELECT_ORDER_BUNDLE_SQLITE = bundles.order_bundle(pg=False)


def event_from_json(x: dict[str, Any]) -> Event:
    return Event(x["at"], x["actor"], x["kind"],
                 None if x["from_state"] is None else State(x["from_state"]),
                 None if x["to_state"] is None else State(x["to_state"]), x["explanation"],
                 x["reason_code"], dict(x["data"] or {}))


def as_stored(e: Event) -> Event:
    """An event as reading it back would give it: UTC time, data through JSON."""
    return Event(e.at.astimezone(UTC), e.actor, e.kind, e.from_state, e.to_state,
                 e.explanation, e.reason_code, bundles.loads(bundles.dumps(e.data)))
