"""What an action on a case reads, in one query: each table's rows as JSON, decoded here.

The case, its shop and its order come as one JSON object each, the order's lines, its
ledger entries and the case's events as JSON arrays: one row of six columns, whatever the
number of lines, entries or events. A row of a hundred plain columns costs more: the
driver describes every column of every result (psycopg builds an object per column) and
SQLAlchemy runs a converter per value; JSON arrives as one string (SQLite) or one parsed
value (psycopg) and the few conversions JSON cannot express (UTC times, SQLite's 0/1
booleans) are done below, by column type, from the table definitions.

PostgreSQL spells it `row_to_json` / `json_agg`; SQLite `json_object` / `json_group_array`,
with `json(...)` around JSON columns so they nest instead of arriving as strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Boolean, ColumnElement, Table, and_, bindparam, func, literal_column, select
from sqlalchemy.types import JSON

from aftersales.adapters.db import tables as t
from aftersales.adapters.db.hints import unindexed

Record = dict[str, Any]


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _converters(table: Table) -> list[tuple[str, Callable[[Any], Any]]]:
    out: list[tuple[str, Callable[[Any], Any]]] = []
    for column in table.columns:
        if isinstance(column.type, t.UtcDateTime):
            out.append((column.name, _utc))
        elif isinstance(column.type, Boolean):
            out.append((column.name, _bool))
    return out


_CONVERT = {table.name: _converters(table) for table in
            (t.cases, t.shops, t.orders, t.order_lines, t.refunds, t.case_events)}


def decode(table: str, record: Record) -> Record:
    """A row from JSON, with the values the table's column types would have given."""
    for name, convert in _CONVERT[table]:
        record[name] = convert(record.get(name))
    return record


def loads(text: str | bytes) -> Any:
    """JSON text to values: orjson, or json for what orjson refuses (a lone surrogate)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> str:
    """Values to JSON text, as every JSON column is written (the engines' serializer):
    orjson, several times faster than json on an event's data; json for what orjson
    refuses (an integer beyond 64 bits, a lone surrogate). Keys that are not strings
    become strings, as json makes them."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


def parse(raw: Any) -> Any:
    """A JSON column: a string from SQLite, already parsed by psycopg (with `loads`)."""
    return loads(raw) if isinstance(raw, str) else raw


# --- the statements -----------------------------------------------------------------------
def _object(table: Table, alias: Any, pg: bool) -> ColumnElement[Any]:
    if pg:
        return func.row_to_json(literal_column(alias.name))
    pairs: list[Any] = []
    for column in table.columns:
        value = alias.c[column.name]
        pairs += [literal_column(f"'{column.name}'"),
                  func.json(value) if isinstance(column.type, JSON) else value]
    return func.json_object(*pairs)


def _array(table: Table, alias: Any, pg: bool, where: Any) -> ColumnElement[Any]:
    element = _object(table, alias, pg)
    agg = func.json_agg(element) if pg else func.json_group_array(element)
    return select(agg).select_from(alias).where(where).scalar_subquery()


def _order_parts(shop: Any, order: Any, pg: bool) -> list[ColumnElement[Any]]:
    lines, refunds = t.order_lines.alias("l"), t.refunds.alias("r")
    return [
        _object(t.shops, shop, pg).label("shop"),
        _object(t.orders, order, pg).label("ord"),
        _array(t.order_lines, lines, pg, and_(lines.c.order_id == order.c.id,
                                              lines.c.shop_id == order.c.shop_id)).label("lines"),
        _array(t.refunds, refunds, pg, and_(refunds.c.order_id == order.c.id,
                                            refunds.c.shop_id == order.c.shop_id)).label("refunds"),
    ]


def case_bundle(pg: bool, lock: ColumnElement[bool] | None = None) -> Any:
    """Keys k_shop, k_id: the case (with its events), its shop, its order and ledger.

    `lock` (PostgreSQL): a condition that takes the locks to hold before the case row's
    (the pending deadline rows, an InitPlan); the case row is then locked FOR UPDATE and the
    row carries `snapshot_version`, the case's version in the statement's snapshot. When the
    lock had to wait for a transaction that changed the case, READ COMMITTED hands back the
    case row as that transaction left it but everything else (events, ledger, the snapshot
    version) as the statement found it: the versions then differ and the caller reads the
    bundle again, now that the case is its own (store.get_case_bundle)."""
    case, shop, order = t.cases.alias("c"), t.shops.alias("s"), t.orders.alias("o")
    events = t.case_events.alias("e")
    history = _array(t.case_events, events, pg, and_(
        unindexed(events.c.shop_id) == case.c.shop_id, events.c.case_id == case.c.id))
    stmt = (select(_object(t.cases, case, pg).label("case"), *_order_parts(shop, order, pg),
                   history.label("history"))
            .select_from(case.join(shop, shop.c.id == case.c.shop_id)
                         .join(order, and_(order.c.id == case.c.order_id,
                                           order.c.shop_id == case.c.shop_id)))
            .where(case.c.shop_id == bindparam("k_shop"), case.c.id == bindparam("k_id")))
    if lock is None:
        return stmt
    c = t.cases.c
    snapshot = select(c.version).where(c.shop_id == bindparam("k_shop"), c.id == bindparam("k_id"))
    return (stmt.add_columns(snapshot.scalar_subquery().label("snapshot_version"))
            .where(lock).with_for_update(of=case))


def order_bundle(pg: bool) -> Any:
    """Keys k_shop, k_id (the order's id): the shop, the order and its ledger."""
    shop, order = t.shops.alias("s"), t.orders.alias("o")
    return (select(*_order_parts(shop, order, pg))
            .select_from(shop.join(order, order.c.shop_id == shop.c.id))
            .where(shop.c.id == bindparam("k_shop"), order.c.id == bindparam("k_id")))


def order_ledger(pg: bool) -> Any:
    """Keys k_shop, k_order: the order's ledger entries as one JSON array."""
    refunds = t.refunds.alias("r")
    return select(_array(t.refunds, refunds, pg, and_(
        refunds.c.order_id == bindparam("k_order"), refunds.c.shop_id == bindparam("k_shop")
    )).label("refunds"))


def order_cases(pg: bool) -> Any:
    """Keys k_shop, k_order: the order's cases as one JSON array."""
    cases = t.cases.alias("c")
    return select(_array(t.cases, cases, pg, and_(
        cases.c.shop_id == bindparam("k_shop"), cases.c.order_id == bindparam("k_order")
    )).label("cases"))
