"""Many due deadlines, fast: one real case through the service, then SQL clones of it.

Why clones and not thousands of service calls: the worker tests and bench/sweep.py measure
and race the sweep, not the seeding. The template case is opened and approved through the
handlers (so its rows are exactly what the product writes); `INSERT ... SELECT` over a
number series then copies its order, line, case and deadline rows, changing only ids and
times. Each due clone gets its own order (a refund or a policy check reads the order);
clones that are merely open share the template's order and are due far in the future.

Also used by bench/ (which puts tests/ on sys.path).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, bindparam, text

from aftersales.adapters.db import tables as t
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App
from aftersales.service import cases, orders, shops
from aftersales.service.ports import Principal, ShopRecord

# kuaishou: awaiting_return closes 10 days after approval if the buyer never ships.
PLATFORM = "kuaishou"
WINDOW = timedelta(days=10)


@dataclass(frozen=True)
class Seeded:
    shop: ShopRecord
    sweep_at: datetime  # every due clone is due at this time, no open clone is
    due: int
    open: int
    tag: str


def _series(conn: Connection, n: int) -> str:
    if conn.dialect.name == "postgresql":
        return f"(SELECT generate_series(1, {int(n)}) AS i) AS seq"
    return (f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {int(n)}) "
            "SELECT i FROM s) AS seq")


def _id(conn: Connection, letter: str, tag: str) -> str:
    """A 36-character id: letter, tag, zero-padded sequence number (never a real UUIDv7)."""
    width = 36 - 1 - len(tag)
    if conn.dialect.name == "postgresql":
        return f"'{letter}{tag}' || lpad(seq.i::text, {width}, '0')"
    return f"'{letter}{tag}' || printf('%0{width}d', seq.i)"


def _lines(conn: Connection, line_id: str) -> str:
    """The case's `lines` JSON pointing at its cloned order line."""
    if conn.dialect.name == "postgresql":
        return f"json_build_array(json_build_object('line_id', {line_id}, 'quantity', 1))"
    return f"json_array(json_object('line_id', {line_id}, 'quantity', 1))"


def _clone(conn: Connection, table: Table, template_id: str, n: int,
           overrides: dict[str, str], params: dict[str, object]) -> None:
    cols = list(table.c.keys())
    exprs = [overrides.get(c, f"tpl.{c}") for c in cols]
    sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(exprs)} "
           f"FROM {table.name} AS tpl, {_series(conn, n)} WHERE tpl.id = :tpl_id")
    stmt = text(sql).bindparams(*(bindparam(k, type_=t.UtcDateTime()) for k in params))
    conn.execute(stmt, {"tpl_id": template_id, **params})


def template_case(app: App, base: datetime, *, approve: bool = True) -> tuple[ShopRecord, str, str]:
    """A kuaishou shop with one case in awaiting_return whose deadline is `base - 1 day`
    (with `approve=False`: still requested, its review deadline long past)."""
    clock = app.deps.clock
    saved = clock.at  # type: ignore[attr-defined]
    try:
        clock.at = base - WINDOW - timedelta(days=1)  # type: ignore[attr-defined]
        shop = shops.create_shop(app.deps, "压测店", PLATFORM)
        platform = Principal(shop.shop.id, Role.platform)
        now = clock.now()
        line = orders.NewLine(sku="SNEAKER-WHT-39", name="运动鞋", unit_price=26900, quantity=1,
                              paid_amount=26900, attributes={"colour": "米白", "size": "39"},
                              category="shoes")
        order, _ = orders.import_order(app.deps, platform, orders.NewOrder(
            platform_order_id=f"TPL{secrets.token_hex(6)}", buyer_id="load-buyer",
            paid_at=now - timedelta(days=5), payment_method="alipay", currency="CNY", freight=0,
            free_shipping=True, lines=(line,), shipped_at=now - timedelta(days=4),
            delivered_at=now - timedelta(days=1)))
        buyer = Principal(shop.shop.id, Role.buyer, "load-buyer")
        loaded = cases.open_case(app.deps, buyer, cases.NewCase(
            order_id=order.id, type="return_refund", reason="no_reason", lines=((order.lines[0].id, 1),)))
        if approve:
            agent = Principal(shop.shop.id, Role.agent, actor_id="seed")
            cases.act(app.deps, agent, loaded.case.id, "approve")
    finally:
        clock.at = saved  # type: ignore[attr-defined]
    return shop, order.id, loaded.case.id


def seed(app: App, *, due: int, open_: int = 0, base: datetime, approve: bool = True) -> Seeded:
    """`due` cases (the template among them) whose deadline passed at `base - 1 day`, and
    `open_` more that fall due ~10 days after `base`."""
    shop, order_id, case_id = template_case(app, base, approve=approve)
    tag = secrets.token_hex(3)
    with app.engine.begin() as conn:
        line_id = conn.execute(text("SELECT id FROM order_lines WHERE order_id = :o"),
                               {"o": order_id}).scalar_one()
        dl_id = conn.execute(text("SELECT id FROM deadlines WHERE case_id = :c AND status = 'pending'"),
                             {"c": case_id}).scalar_one()
        n = due - 1  # the template is due too
        if n > 0:
            _clone(conn, t.orders, order_id, n, {
                "id": _id(conn, "o", tag), "platform_order_id": _id(conn, "p", tag)}, {})
            _clone(conn, t.order_lines, line_id, n, {
                "id": _id(conn, "l", tag), "order_id": _id(conn, "o", tag)}, {})
            _clone(conn, t.cases, case_id, n, {
                "id": _id(conn, "c", tag), "order_id": _id(conn, "o", tag), "event_count": "0",
                "lines": _lines(conn, _id(conn, "l", tag))}, {})
            _clone(conn, t.deadlines, dl_id, n, {
                "id": _id(conn, "d", tag), "case_id": _id(conn, "c", tag)}, {})
        if open_:
            later = base + timedelta(hours=1)
            _clone(conn, t.cases, case_id, open_, {
                "id": _id(conn, "k", tag), "event_count": "0", "state_entered_at": ":later",
                "deadline_at": ":due"}, {"later": later, "due": later + WINDOW})
            _clone(conn, t.deadlines, dl_id, open_, {
                "id": _id(conn, "e", tag), "case_id": _id(conn, "k", tag), "due_at": ":due"},
                {"due": later + WINDOW})
    return Seeded(shop, base, due, open_, tag)
