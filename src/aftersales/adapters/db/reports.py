"""The raw facts behind the merchant's measures for one shop and period (SQL aggregates)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from aftersales.adapters.db import tables as t
from aftersales.adapters.db.hints import unindexed


def report_data(conn: Connection, shop_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    o, c, r, d, e, ln = (t.orders.c, t.cases.c, t.refunds.c, t.deadlines.c, t.case_events.c,
                         t.order_lines.c)
    in_period = (c.shop_id == shop_id, c.opened_at >= start, c.opened_at < end)
    sales = conn.execute(select(func.count(), func.coalesce(func.sum(o.freight), 0)).where(
        o.shop_id == shop_id, o.paid_at >= start, o.paid_at < end)).one()
    line_sales = conn.execute(select(func.coalesce(func.sum(ln.paid_amount), 0)).select_from(
        t.order_lines.join(t.orders, t.orders.c.id == ln.order_id)).where(
        o.shop_id == shop_id, o.paid_at >= start, o.paid_at < end)).scalar_one()
    cases = [dict(x._mapping) for x in conn.execute(select(
        c.id, c.order_id, c.type, c.reason, c.state, c.lines, c.opened_at, c.first_response_at,
        c.resolved_at, c.overdue, c.rating, c.currency).where(*in_period)).all()]
    refunds = conn.execute(select(r.kind, r.method, func.sum(r.amount), func.count()).where(
        r.shop_id == shop_id, r.status == "succeeded", r.created_at >= start, r.created_at < end)
        .group_by(r.kind, r.method)).all()
    refunded_orders = conn.execute(select(func.count(func.distinct(r.order_id))).where(
        r.shop_id == shop_id, r.status == "succeeded", r.created_at >= start,
        r.created_at < end)).scalar_one()
    timeouts = conn.execute(select(d.outcome, func.count()).where(
        d.shop_id == shop_id, d.status == "fired", d.settled_at >= start, d.settled_at < end)
        .group_by(d.outcome)).all()
    disputes = conn.execute(select(e.case_id, e.kind, e.data, e.to_state).where(
        e.shop_id == shop_id, e.at >= start, e.at < end,
        (e.to_state == "disputed") | (e.kind == "rule"))).all()
    skus = {x.id: (x.sku, x.name) for x in conn.execute(select(ln.id, ln.sku, ln.name).where(
        unindexed(ln.shop_id) == shop_id, ln.order_id.in_({cs["order_id"] for cs in cases}))).all()}
    return {
        "orders": int(sales[0]), "sales": int(sales[1]) + int(line_sales), "cases": cases,
        "refunds": [(k, m, int(a or 0), int(n)) for k, m, a, n in refunds],
        "refunded_orders": int(refunded_orders),
        "timeouts": {str(k): int(n) for k, n in timeouts},
        "dispute_events": [(x.case_id, x.kind, dict(x.data or {}), x.to_state) for x in disputes],
        "skus": skus,
    }
