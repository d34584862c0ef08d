"""The cases repository: cases and their events, on the unit of work's one connection.

Every statement filters on shop_id. Cases are locked with SELECT … FOR UPDATE on
PostgreSQL (a no-op on SQLite, where BEGIN IMMEDIATE already serialises writers), and
saved with a version check as a second guard.

Shops, tokens and orders are shops_orders.py's; the ledger and upstream claims records.py's;
the deadline rows workers claim claims.py's; locks that make decisions take turns turns.py's.
What a read saw (repo.Seen) lets a save write only what changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    and_,
    func,
    select,
)

from aftersales.adapters.db import bundles, queries
from aftersales.adapters.db import tables as t
from aftersales.adapters.db.mapping import case_from_row, case_row, cases_from_json, order_bundle
from aftersales.adapters.db.repo import SqlRepository
from aftersales.adapters.db.statements import (
    ALL_CASE_COLUMNS,
    ALWAYS_WRITTEN,
    CASE_COLUMNS,
    INSERT_CASE,
    INSERT_EVENT,
    MOVE_PENDING,
    REPLACE_DEADLINE_PG,
    SELECT_CANCELLED,
    SELECT_CASE,
    SELECT_CASE_BUNDLE_LOCKED_PG,
    SELECT_CASE_BUNDLE_PG,
    SELECT_CASE_BUNDLE_SQLITE,
    SELECT_EVENTS,
    SELECT_ORDER_CASES,
    SUPERSEDE_PENDING,
    UPDATE_CASE,
    UPSERT_DEADLINE_PG,
    UPSERT_DEADLINE_SQLITE,
    as_stored,
    event_from_json,
    update_case_statement,
)
from aftersales.domain.case import Case
from aftersales.domain.deadlines import Deadline
from aftersales.domain.events import Event
from aftersales.domain.vocabulary import State
from aftersales.service.errors import Conflict
from aftersales.service.ports import (
    CaseBundle,
    CaseFilter,
)


class SqlCases(SqlRepository):
    def add_case(self, case: Case) -> None:
        row = {**case_row(case, None), "version": 1, "event_count": 0}
        self.conn.execute(INSERT_CASE, row)
        self.seen.cases.clear()
        case.version = 1
        self.seen.deadlines[case.id] = None
        self.seen.rows[case.id] = row
        self.seen.added.add(case.id)
        self.seen.events[case.shop_id, case.id] = []

    def _remember(self, row: Any, values: dict[str, Any] | None = None) -> Case:
        case = case_from_row(row)
        seen = None
        if row.deadline_rule is not None and row.deadline_at is not None:
            seen = (f"{row.state_seq}:{row.deadline_rule}", row.deadline_at)
        self.seen.deadlines[case.id] = seen
        if values is None:  # a row of SELECT_CASE: the table's columns in order
            values = dict(zip(ALL_CASE_COLUMNS, row, strict=True))
        self.seen.rows[case.id] = {name: values[name] for name in CASE_COLUMNS}
        return case

    def _case(self, where: Any, lock: bool) -> Case | None:
        stmt = select(t.cases).where(where)
        if lock and self.pg:
            # Lock order: the case's pending deadline rows first, then the case — the order
            # the deadline worker takes them (claim_due, then fire_one). The other order
            # deadlocks when an agent acts on a case the worker is firing.
            d = t.deadlines.c
            self.conn.execute(select(d.id).where(
                d.case_id.in_(select(t.cases.c.id).where(where)), d.status == "pending")
                .with_for_update())
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return None if row is None else self._remember(row)

    def get_case_bundle(self, shop_id: str, case_id: str, *, lock: bool = False
                        ) -> CaseBundle | None:
        """The case (with its events), its shop, order and the order's ledger in one query;
        on PostgreSQL, locking, the same query locks the case (and its pending deadline rows
        first). SQLite's BEGIN IMMEDIATE already serialises writers."""
        keys = {"k_shop": shop_id, "k_id": case_id}
        if self.pg and lock:
            row = self.conn.execute(SELECT_CASE_BUNDLE_LOCKED_PG, keys).first()
            if row is not None and row.case["version"] != row.snapshot_version:
                # the lock waited for a transaction that changed the case: read it again
                row = self.conn.execute(SELECT_CASE_BUNDLE_PG, keys).first()
        else:
            row = self.conn.execute(SELECT_CASE_BUNDLE_PG if self.pg else SELECT_CASE_BUNDLE_SQLITE,
                                    keys).first()
        found = None if row is None else order_bundle(row)
        if row is None or found is None:
            return None
        values = bundles.decode("cases", bundles.parse(row.case))
        case = self._remember(SimpleNamespace(**values), values)
        events = [bundles.decode("case_events", e) for e in bundles.parse(row.history) or []]
        self.seen.events[shop_id, case.id] = [event_from_json(e) for e in
                                               sorted(events, key=lambda e: e["seq"])]
        return CaseBundle(case, *found)

    def get_case(self, shop_id: str, case_id: str, *, lock: bool = False) -> Case | None:
        if lock and self.pg:
            return self._case(and_(t.cases.c.shop_id == shop_id, t.cases.c.id == case_id), lock)
        row = self.conn.execute(SELECT_CASE, {"k_shop": shop_id, "k_id": case_id}).first()
        return None if row is None else self._remember(row)

    def find_case_by_platform_id(self, shop_id: str, platform_case_id: str, *,
                                 lock: bool = False) -> Case | None:
        return self._case(and_(t.cases.c.shop_id == shop_id,
                               t.cases.c.platform_case_id == platform_case_id), lock)

    def find_case_by_waybill(self, shop_id: str, waybill: str) -> Case | None:
        c = t.cases.c
        stmt = select(t.cases).where(c.shop_id == shop_id, c.return_waybill == waybill) \
            .order_by(c.opened_at.desc()).limit(1)
        row = self.conn.execute(stmt).first()
        return None if row is None else case_from_row(row)

    def save_case(self, case: Case, deadline: Deadline | None, now: datetime) -> None:
        """The case's changed columns (version-checked: a second guard behind the lock), its
        new events and its one pending deadline row."""
        self.seen.cases.clear()
        new = case.events[case.events_saved:]
        base = case.event_base + case.events_saved
        row = case_row(case, deadline)
        del row["id"], row["shop_id"]
        row["version"], row["event_count"] = case.version + 1, base + len(new)
        seen = self.seen.rows.get(case.id)
        if seen is None:
            stmt, values = UPDATE_CASE, dict(row)
        else:  # only the columns whose value changed since the row was read
            changed = tuple(k for k, v in row.items() if k not in ALWAYS_WRITTEN and seen.get(k) != v)
            stmt = update_case_statement(changed)
            values = {k: row[k] for k in (*changed, *ALWAYS_WRITTEN)}
        keys = {"k_shop": case.shop_id, "k_id": case.id, "k_version": case.version}
        if self.conn.execute(stmt, {**values, **keys}).rowcount != 1:
            raise Conflict(f"case {case.id} was changed by someone else; reload and retry")
        events = [{"id": self.new_id(), "shop_id": case.shop_id, "case_id": case.id,
                   "seq": base + i + 1, "at": e.at, "actor": e.actor, "kind": e.kind,
                   "from_state": e.from_state, "to_state": e.to_state,
                   "explanation": e.explanation, "reason_code": e.reason_code, "data": e.data}
                  for i, e in enumerate(new)]
        if events:
            self.conn.execute(INSERT_EVENT, events[0] if len(events) == 1 else events)
        self._replace_deadline(case, deadline, now)
        case.version += 1
        self.seen.rows[case.id] = row
        if new:
            case.events_saved = len(case.events)
            history = self.seen.events.get((case.shop_id, case.id))
            if history is not None:
                history.extend(as_stored(e) for e in new)

    def _replace_deadline(self, case: Case, deadline: Deadline | None, now: datetime) -> None:
        """Keep one pending row per case: the current deadline (rows are what workers claim)."""
        new = None if deadline is None else (deadline.key, deadline.at)
        if case.id in self.seen.deadlines:
            old = self.seen.deadlines[case.id]
            if old == new:
                return
        else:  # not loaded through this store: look the pending row up
            d = t.deadlines.c
            found = self.conn.execute(select(d.key, d.due_at).where(
                d.case_id == case.id, d.shop_id == case.shop_id, d.status == "pending")).first()
            old = None if found is None else (found.key, found.due_at)
        keys = {"k_case": case.id, "k_shop": case.shop_id}
        self.seen.deadlines[case.id] = new
        if deadline is not None and old is not None and old[0] == deadline.key:
            # Same deadline, new time (a platform re-sent it): move the pending row.
            self.conn.execute(MOVE_PENDING, {
                **keys, "k_key": deadline.key, "due_at": deadline.at,
                "outcome": deadline.outcome.value, "source": deadline.source})
            return
        fresh = case.id in self.seen.added  # inserted by this store, never saved: no row yet
        self.seen.added.discard(case.id)
        if deadline is None:
            if not fresh:
                self.conn.execute(SUPERSEDE_PENDING, {**keys, "k_now": now})
            return
        # A key superseded earlier in the same state comes back as pending (upsert).
        row = {"id": self.new_id(), "shop_id": case.shop_id, "case_id": case.id,
               "key": deadline.key, "due_at": deadline.at, "outcome": deadline.outcome.value,
               "source": deadline.source, "rule": deadline.rule, "status": "pending"}
        if self.pg and not fresh:
            del row["status"]
            self.conn.execute(REPLACE_DEADLINE_PG, {**row, "k_now": now})
            return
        if not fresh:
            self.conn.execute(SUPERSEDE_PENDING, {**keys, "k_now": now})
        self.conn.execute(UPSERT_DEADLINE_PG if self.pg else UPSERT_DEADLINE_SQLITE, row)

    def events(self, shop_id: str, case_id: str) -> list[Event]:
        known = self.seen.events.get((shop_id, case_id))
        if known is not None:  # read with the case (shop-scoped there) and kept up to date
            return list(known)
        rows = self.conn.execute(SELECT_EVENTS, {"k_shop": shop_id, "k_case": case_id}).all()
        return [Event(r.at, r.actor, r.kind, None if r.from_state is None else State(r.from_state),
                      None if r.to_state is None else State(r.to_state), r.explanation,
                      r.reason_code, dict(r.data or {})) for r in rows]

    def cases_on_order(self, shop_id: str, order_id: str) -> list[Case]:
        seen = self.seen.cases.pop((shop_id, order_id), None)
        if seen is not None:  # read with the order's lock, no case written since
            return seen
        row = self.conn.execute(SELECT_ORDER_CASES[self.pg],
                                {"k_shop": shop_id, "k_order": order_id}).one()
        return cases_from_json(row.cases)


    def cancelled_by_buyer(self, shop_id: str, case_ids: Sequence[str]) -> set[str]:
        """Which of these cases the buyer cancelled (one query, whatever their number)."""
        if not case_ids:
            return set()
        rows = self.conn.execute(SELECT_CANCELLED, {"k_shop": shop_id,
                                                    "k_cases": list(case_ids)}).all()
        return {r.case_id for r in rows}

    def buyer_case_count(self, shop_id: str, buyer_id: str) -> int:
        c = t.cases.c
        return int(self.conn.execute(select(func.count()).where(
            c.shop_id == shop_id, c.buyer_id == buyer_id)).scalar_one())

    def list_cases(self, shop_id: str, flt: CaseFilter) -> tuple[list[Case], str | None]:
        return queries.list_cases(self.conn, shop_id, flt)
