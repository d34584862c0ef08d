"""The store's SQL, built once: prebuilt statements (SQLAlchemy then reuses the compiled SQL
without recomputing a cache key from every value, see bench/RESULTS.md), the one-statement
case save of PostgreSQL, and the bundle reads run as SQL compiled once per dialect.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC
from operator import itemgetter
from typing import Any, NamedTuple, NoReturn

from sqlalchemy import (
    Connection,
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

from aftersales.adapters.db import bundles, libpq
from aftersales.adapters.db import tables as t
from aftersales.adapters.db.hints import unindexed
from aftersales.domain.events import Event
from aftersales.domain.vocabulary import State
from aftersales.service.errors import Conflict

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
# The same locks, in the same order, and the case's version only: an optimistic attempt
# turning into a transaction checks that the case is still the one it read.
LOCK_CASE_PG = select(_c.version).where(
    _c.shop_id == bindparam("k_shop"), _c.id == bindparam("k_id"),
    _PENDING_LOCKED.is_not(None)).with_for_update()
# A key held for the rest of the transaction (SqlStore.hold)
HOLD_PG = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")
# An order held for the rest of the transaction (SqlStore.lock_order)
LOCK_ORDER_PG = select(t.orders.c.id).where(
    t.orders.c.shop_id == bindparam("k_shop"), t.orders.c.id == bindparam("k_id")
).with_for_update()
SELECT_CASE_BUNDLE_PG = bundles.case_bundle(pg=True)
SELECT_CASE_BUNDLE_SQLITE = bundles.case_bundle(pg=False)
SELECT_ORDER_BUNDLE_PG = bundles.order_bundle(pg=True)
SELECT_ORDER_LEDGER = {True: bundles.order_ledger(pg=True), False: bundles.order_ledger(pg=False)}
SELECT_ORDER_CASES = {True: bundles.order_cases(pg=True), False: bundles.order_cases(pg=False)}
SELECT_ORDER_BUNDLE_SQLITE = bundles.order_bundle(pg=False)


_EVENT_COLUMNS = [c.name for c in t.case_events.columns]
_DEADLINE_FIELDS = ("id", "key", "due_at", "outcome", "source", "rule")
_PG_WRITES: dict[tuple[tuple[str, ...], int, str | None, bool], Any] = {}


def pg_save_statement(columns: tuple[str, ...], events: int, deadline: str | None,
                      alone: bool) -> Any:
    """PostgreSQL: a case's whole save in one statement (one round trip instead of three).

    The versioned UPDATE of the changed columns returns the case id; the event inserts and
    the deadline work run only if it matched, and the statement answers how many cases it
    updated (0: a version conflict, nothing written). `deadline`: "replace" supersedes the
    other pending rows and upserts the new one, "supersede" only ends the pending ones (the
    case needs no deadline any more), None leaves the deadline rows alone. Data-modifying
    CTEs all see the statement's snapshot and touch disjoint rows. Built once per shape.

    `alone`: a save that is its own transaction (an optimistic attempt, which read the case
    without locks). The case's pending deadline rows are locked first, in an InitPlan of
    the case UPDATE, so the statement takes its locks in the deadline worker's order
    (deadline rows, then the case) and cannot deadlock with it; the caller reads the count.
    Otherwise the save is inside a transaction that holds the case, sent without waiting
    for its answer (`write_behind`, then the COMMIT in the same round trip): the server
    checks the one case row was updated — aftersales_one_case raises SAVE_CONFLICT
    otherwise (migration 0005), which aborts the transaction before its COMMIT."""
    shape = (columns, events, deadline, alone)
    stmt = _PG_WRITES.get(shape)
    if stmt is not None:
        return stmt
    binds: list[Any] = []

    def bind(name: str, column: Any) -> str:
        # typed: SQLAlchemy converts the value (JSON, UTC times) and psycopg's dialect
        # renders a cast without length (no explicit CAST: one to VARCHAR(n) truncates)
        binds.append(bindparam(name, type_=column.type))
        return f":{name}"

    sets = ", ".join(f"{n} = {bind('c_' + n, t.cases.c[n])}" for n in (*columns, *ALWAYS_WRITTEN))
    parts, locked = [], ""
    if alone:
        parts.append("l AS (SELECT id FROM deadlines WHERE case_id = :k_id AND shop_id = :k_shop "
                     "AND status = 'pending' FOR UPDATE)")
        # an uncorrelated sub-select: an InitPlan, run before the scan's first row is
        # locked (test_attempts.py: test_the_save_locks_deadline_rows_before_the_case)
        locked = "AND (SELECT count(*) FROM l) >= 0 "
    parts.append(f"c AS (UPDATE cases SET {sets} WHERE shop_id = :k_shop AND id = :k_id "
                 f"AND version = :k_version {locked}RETURNING id)")
    if events:
        rows = ", ".join(
            "(" + ", ".join(bind(f"e{i}_{n}", t.case_events.c[n]) for n in _EVENT_COLUMNS) + ")"
            for i in range(events))
        names = ", ".join(_EVENT_COLUMNS)
        parts.append(f"e AS (INSERT INTO case_events ({names}) SELECT * FROM (VALUES {rows}) "
                     f"AS v ({names}) WHERE EXISTS (SELECT 1 FROM c))")
    if deadline is not None:
        binds.append(bindparam("k_now", type_=t.UtcDateTime()))
        d = {n: bind("d_" + n, t.deadlines.c[n]) for n in _DEADLINE_FIELDS} \
            if deadline == "replace" else {}
        other = f"AND key <> {d['key']} " if d else ""
        parts.append(
            "s AS (UPDATE deadlines SET status = 'superseded', settled_at = :k_now "
            f"WHERE case_id = :k_id AND shop_id = :k_shop AND status = 'pending' {other}"
            "AND EXISTS (SELECT 1 FROM c))")
        if d:
            parts.append(
                "d AS (INSERT INTO deadlines (id, shop_id, case_id, key, due_at, outcome, source, "
                f"rule, status) SELECT {d['id']}, :k_shop, :k_id, {d['key']}, {d['due_at']}, "
                f"{d['outcome']}, {d['source']}, {d['rule']}, 'pending' "
                "WHERE EXISTS (SELECT 1 FROM c) ON CONFLICT (case_id, key) DO UPDATE SET "
                "due_at = excluded.due_at, outcome = excluded.outcome, source = excluded.source, "
                "rule = excluded.rule, status = 'pending', settled_at = NULL)")
    answer = "(SELECT count(*) FROM c)" if alone else \
        "aftersales_one_case((SELECT count(*) FROM c), :k_id)"
    stmt = text("WITH " + ", ".join(parts) + f" SELECT {answer} AS n").bindparams(*binds)
    if len(_PG_WRITES) < 1024:
        _PG_WRITES[shape] = stmt
    return stmt


_RAW: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}


class _Compiled(NamedTuple):
    stmt: Any  # held, so that the id in the cache key stays this statement's
    sql: str
    procs: dict[str, Any]  # bind processors by parameter name
    fixed: dict[str, Any]  # the values the statement carries itself (`status == 'pending'`)
    order: Any  # params → the positional tuple (SQLite's qmark), or None for named ones
    row: Any  # a row type naming the selected columns, for selects
    pq: libpq.Prepared | None  # PostgreSQL: the statement as libpq takes it (libpq.py)


def _compiled(conn: Connection, stmt: Any, keys: tuple[str, ...]) -> _Compiled:
    """The statement compiled once per dialect and parameter set (an INSERT without
    explicit values names the columns its parameters give)."""
    key = (id(stmt), conn.dialect.name, keys)
    found = _RAW.get(key)
    if found is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
        names = [c.key for c in getattr(stmt, "exported_columns", ())]  # (RETURNING too)
        procs = {k: f for k, f in compiled._bind_processors.items() if f is not None}
        fixed = {k: procs[k](v) if k in procs else v
                 for k, v in compiled.construct_params(_check=False).items() if k not in keys}
        sql = str(compiled)
        kept = len(_RAW) < 4096  # a few dozen statement shapes in practice
        found = _Compiled(
            stmt, sql, procs, fixed,
            _positional(tuple(compiled.positiontup)) if compiled.positional else None,
            namedtuple("Row", names) if names else None,  # type: ignore[misc]
            # a server-side prepared statement only for a statement kept here: one made
            # afresh each call would leave a new one on the connection every time
            libpq.prepared(sql) if kept and conn.dialect.name == "postgresql" else None)
        if kept:
            _RAW[key] = found
    return found


def _positional(names: tuple[str, ...]) -> Any:
    if len(names) == 1:
        (name,) = names
        return lambda params: (params[name],)
    return itemgetter(*names) if names else (lambda params: ())


def _bound(found: _Compiled, params: dict[str, Any]) -> Any:
    """The driver's parameters: the statement's own values, the caller's converted."""
    if found.procs or found.fixed:
        given, params = params, {**found.fixed, **params}
        for name, convert in found.procs.items():
            if name in given:
                params[name] = convert(given[name])
    return params if found.order is None else found.order(params)


def raw_execute(conn: Connection, stmt: Any, params: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """Run a prebuilt statement on the driver's own cursor, in `conn`'s transaction.

    For the statements every action runs (lock, bundle read, case update, events,
    deadline): SQLAlchemy's execution context and result object cost 35–80 µs of CPU a
    statement here, as much as the driver's whole call (bench/RESULTS.md). The SQL is
    compiled once and the parameters go through the column types' own bind processors
    (JSON, UTC times, SQLite's booleans), so the values sent are SQLAlchemy's; results come
    as the driver gives them, so this is for statements whose results need no conversion
    (counts, ids, JSON bundles decoded by bundles.py). A list of parameter sets runs as one
    executemany. A driver error goes to SQLAlchemy's handler, which wraps it as a
    DBAPIError (IntegrityError, …) and invalidates a connection that was lost, as for any
    statement. Answers the driver's cursor — or, for a PostgreSQL connection in autocommit
    (an optimistic attempt), libpq.Result, which has the cursor's `fetchone` and
    `rowcount` and nothing else."""
    return _run(conn, stmt, params)[0]


def raw_read(conn: Connection, stmt: Any, params: dict[str, Any]) -> Any:
    """`raw_execute` of a select: its first row with the columns as attributes, or None."""
    cursor, found = _run(conn, stmt, params)
    row = cursor.fetchone()
    return None if row is None else found.row._make(row)


def raw_reads(conn: Connection, batch: list[tuple[Any, dict[str, Any]]]) -> list[Any]:
    """`raw_read` of each select in `batch`, in order: on PostgreSQL in a transaction all of
    them in one round trip (libpq.execute_all), elsewhere one after the other."""
    queued: list[tuple[Any, dict[str, Any]]] = conn.info.pop(BEHIND, None) or []
    done = _batch(conn, queued + batch)[len(queued):]
    return [None if (row := cursor.fetchone()) is None else found.row._make(row)
            for cursor, found in done]


# Connection info: writes whose answer nobody reads, waiting to go out with the connection's
# next statement (`write_behind`).
BEHIND = "aftersales_behind"


def write_behind(conn: Connection, stmt: Any, params: dict[str, Any]) -> None:
    """`raw_execute` of a write whose answer nobody reads (an insert, a settlement): on
    PostgreSQL in a transaction it waits and goes out in the same round trip as the
    connection's next statement — a raw one here, one sent through SQLAlchemy (engine.py
    sends it first), or the COMMIT (uow.py) — so it still runs before anything after it,
    and an error it meets is raised there. Elsewhere it runs now."""
    driver = conn.connection.driver_connection
    if conn.dialect.name != "postgresql" or driver is None or driver.autocommit:
        raw_execute(conn, stmt, params)
        return
    conn.info.setdefault(BEHIND, []).append((stmt, params))


def flush_behind(conn: Connection, *, commit: bool = False) -> None:
    """Send the writes waiting on `conn` (`write_behind`) now; with `commit`, the COMMIT in
    the same round trip where libpq.execute_all can (the caller still commits through
    SQLAlchemy, which then finds nothing left to send)."""
    queued = conn.info.pop(BEHIND, None)
    if queued:
        _batch(conn, queued, commit=commit)


def _batch(conn: Connection, batch: list[tuple[Any, dict[str, Any]]], commit: bool = False
           ) -> list[tuple[Any, _Compiled]]:
    found = [_compiled(conn, stmt, tuple(params)) for stmt, params in batch]
    if (len(batch) > 1 or commit) and conn.dialect.name == "postgresql" and all(f.pq for f in found):
        bound = [_bound(f, params) for f, (_, params) in zip(found, batch, strict=True)]
        try:
            done = libpq.execute_all(conn, [(f.pq, b) for f, b in zip(found, bound, strict=True)],
                                     commit=commit)
        except Exception as exc:
            i = getattr(exc, "aftersales_index", 0)  # the statement that failed (libpq.py)
            sql, params = (found[i].sql, batch[i][1]) if i < len(found) else ("COMMIT", {})
            _failed(conn, exc, sql, params)
        if done is not None:
            return list(zip(done, found, strict=True))
    return [_run_one(conn, f, params) for f, (_, params) in zip(found, batch, strict=True)]


# SQLSTATE of aftersales_one_case (migration 0005): a guarded save found its case changed.
SAVE_CONFLICT = "ASV01"


def _failed(conn: Connection, exc: Exception, sql: str, params: Any) -> NoReturn:
    """Raise a driver error as SQLAlchemy does (DBAPIError, …, and a lost connection
    invalidated), except a guarded save's refusal: Conflict, as the save would have raised
    reading its own answer."""
    if getattr(exc, "sqlstate", None) == SAVE_CONFLICT:
        raise Conflict(exc.diag.message_primary or "the case was changed by someone else; "  # type: ignore[attr-defined]
                       "reload and retry") from exc
    conn._handle_dbapi_exception(exc, sql, params, None, None)  # always raises
    raise exc


def _run(conn: Connection, stmt: Any, params: dict[str, Any] | list[dict[str, Any]]
         ) -> tuple[Any, _Compiled]:
    queued = conn.info.pop(BEHIND, None)
    if queued:  # writes waiting for this statement (write_behind): before it, together
        if isinstance(params, list):
            _batch(conn, queued)
        else:
            return _batch(conn, [*queued, (stmt, params)])[-1]
    many = isinstance(params, list)
    found = _compiled(conn, stmt, tuple(params[0] if many else params))  # type: ignore[arg-type]
    return _run_one(conn, found, params)


def _run_one(conn: Connection, found: _Compiled, params: dict[str, Any] | list[dict[str, Any]]
             ) -> tuple[Any, _Compiled]:
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        if isinstance(params, list):
            cursor = driver.cursor()
            cursor.executemany(found.sql, [_bound(found, p) for p in params])
            return cursor, found
        bound = _bound(found, params)
        if found.pq is not None:  # PostgreSQL: libpq itself where it applies (libpq.py)
            direct = libpq.execute(conn, found.pq, bound)
            if direct is not None:
                return direct, found
        return driver.execute(found.sql, bound), found
    except Exception as exc:
        _failed(conn, exc, found.sql, params)


def event_from_json(x: dict[str, Any]) -> Event:
    return Event(x["at"], x["actor"], x["kind"],
                 None if x["from_state"] is None else State(x["from_state"]),
                 None if x["to_state"] is None else State(x["to_state"]), x["explanation"],
                 x["reason_code"], dict(x["data"] or {}))


def as_stored(e: Event) -> Event:
    """An event as reading it back would give it: UTC time, data through JSON."""
    return Event(e.at.astimezone(UTC), e.actor, e.kind, e.from_state, e.to_state,
                 e.explanation, e.reason_code, bundles.loads(bundles.dumps(e.data)))
