"""Read-side queries: the case queue with filters and cursor pagination."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from aftersales.adapters.db import tables as t
from aftersales.adapters.db.mapping import case_from_row
from aftersales.adapters.ids import ID
from aftersales.domain.case import Case
from aftersales.domain.errors import InvalidInput
from aftersales.service.ports import CaseFilter

FAR = "9999-12-31T00:00:00+00:00"


def _encode(deadline_at: datetime | None, case_id: str) -> str:
    raw = json.dumps([deadline_at.isoformat() if deadline_at else FAR, case_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    """A cursor this module made, or invalid_cursor: it comes back from the client, so
    anything else (nested JSON, a time without its offset, an id that is not text) is
    refused here rather than by the database."""
    malformed = InvalidInput("malformed cursor", code="invalid_cursor")
    if len(cursor) > 400:  # ours are under 150 characters
        raise malformed
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, case_id = json.loads(raw)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(case_id, str) or not ID.fullmatch(case_id):
            raise malformed
        return when.astimezone(UTC), case_id  # (year 1 at +05:00 is no time in UTC)
    except (ValueError, TypeError, RecursionError, OverflowError):
        raise malformed from None


def list_cases(conn: Connection, shop_id: str, flt: CaseFilter) -> tuple[list[Case], str | None]:
    """Soonest deadline first (cases without one last), then by id; keyset pagination."""
    c = t.cases.c
    far = datetime.fromisoformat(FAR)
    due = func.coalesce(c.deadline_at, far)
    stmt = select(t.cases).where(c.shop_id == shop_id)
    if flt.state:
        stmt = stmt.where(c.state == flt.state)
    if flt.states:
        stmt = stmt.where(c.state.in_(list(flt.states)))
    if flt.open_only:
        stmt = stmt.where(c.state.not_in(["completed", "closed"]))
    if flt.type:
        stmt = stmt.where(c.type == flt.type)
    if flt.reason:
        stmt = stmt.where(c.reason == flt.reason)
    if flt.platform:
        stmt = stmt.where(c.profile_id == flt.platform)
    if flt.buyer_id:
        stmt = stmt.where(c.buyer_id == flt.buyer_id)
    if flt.due_before:
        stmt = stmt.where(c.deadline_at <= flt.due_before)
    if flt.overdue is not None:
        stmt = stmt.where(c.overdue == flt.overdue)
    if flt.q:
        stmt = stmt.where(_search(shop_id, flt.q.strip()))
    if flt.cursor:
        at, case_id = _decode(flt.cursor)
        stmt = stmt.where(or_(due > at, and_(due == at, c.id > case_id)))
    limit = max(1, min(flt.limit, 200))
    rows = conn.execute(stmt.order_by(due, c.id).limit(limit + 1)).all()
    items = [case_from_row(r) for r in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = _encode(last.deadline_at, last.id)
    return items, nxt


def _search(shop_id: str, q: str) -> Any:
    """Order id (ours or the platform's), buyer, waybill, SKU."""
    c, o, ln = t.cases.c, t.orders.c, t.order_lines.c
    like = f"%{q}%"
    orders = select(o.id).where(o.shop_id == shop_id, or_(o.platform_order_id == q, o.id == q))
    skus = select(ln.order_id).where(ln.shop_id == shop_id, or_(ln.sku == q, ln.name.like(like)))
    return or_(c.id == q, c.buyer_id == q, c.return_waybill == q, c.reship_waybill == q,
               c.platform_case_id == q, c.order_id.in_(orders), c.order_id.in_(skus))
