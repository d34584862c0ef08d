"""The deadlines repository: what the deadline worker asks — claim due rows, mark alerts,
settle rows. The cases repository (store.py) writes the one pending row per case; this
reads and settles the `deadlines` rows the workers claim. Claims use
FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers share the due rows without
waiting for each other; both claims walk the partial index on pending `due_at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from aftersales.adapters.db import tables as t
from aftersales.adapters.db.repo import SqlRepository
from aftersales.service.ports import DueDeadline


class SqlDeadlines(SqlRepository):
    def _pending_due(self, condition: Any, limit: int, shop_id: str | None,
               live_only: bool) -> list[DueDeadline]:
        d = t.deadlines.c
        stmt = select(d.id, d.shop_id, d.case_id, d.key, d.due_at, d.outcome).where(
            d.status == "pending", condition)
        if shop_id is not None:
            stmt = stmt.where(d.shop_id == shop_id)
        if live_only:  # sandbox shops fire only when their own clock is advanced
            stmt = stmt.where(d.shop_id.not_in(select(t.shops.c.id).where(t.shops.c.sandbox)))
        stmt = stmt.order_by(d.due_at).limit(limit)
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return [DueDeadline(r.id, r.shop_id, r.case_id, r.key, r.due_at, r.outcome)
                for r in self.conn.execute(stmt).all()]

    def claim_due(self, now: datetime, limit: int, shop_id: str | None = None, *,
                  live_only: bool = False) -> list[DueDeadline]:
        return self._pending_due(t.deadlines.c.due_at <= now, limit, shop_id, live_only)

    def claim_near_due(self, until: datetime, limit: int, *, live_only: bool = False,
                       shop_id: str | None = None) -> list[DueDeadline]:
        """Pending deadlines due by `until` whose near-timeout alert has not gone out."""
        d = t.deadlines.c
        return self._pending_due((d.due_at <= until) & d.warned_at.is_(None), limit, shop_id, live_only)

    def mark_warned(self, deadline_ids: Sequence[str], now: datetime) -> None:
        if deadline_ids:
            self.conn.execute(update(t.deadlines).where(t.deadlines.c.id.in_(list(deadline_ids)))
                              .values(warned_at=now))

    def settle_deadline(self, deadline_id: str, status: str, now: datetime) -> None:
        self.conn.execute(update(t.deadlines).where(t.deadlines.c.id == deadline_id)
                          .values(status=status, settled_at=now))

    def next_due(self, shop_id: str, until: datetime) -> datetime | None:
        d = t.deadlines.c
        value = self.conn.execute(select(func.min(d.due_at)).where(
            d.shop_id == shop_id, d.status == "pending", d.due_at <= until)).scalar()
        return t.UtcDateTime().process_result_value(value, self.conn.dialect)
