"""The SQL implementation of service.ports.Store, on one connection inside one transaction.

Every statement filters on shop_id. Cases are locked with SELECT … FOR UPDATE on
PostgreSQL (a no-op on SQLite, where BEGIN IMMEDIATE already serialises writers), and
saved with a version check as a second guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from aftersales.adapters.db import queries, reports
from aftersales.adapters.db import tables as t
from aftersales.adapters.db.mapping import case_from_row, case_row, order_from_rows, order_rows
from aftersales.adapters.db.records import RecordsMixin
from aftersales.domain.case import Case
from aftersales.domain.deadlines import Deadline
from aftersales.domain.events import Event
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.orders import Order, Shop
from aftersales.domain.vocabulary import Role, State
from aftersales.service.errors import Conflict
from aftersales.service.ports import CaseFilter, DueDeadline, Principal, ShopRecord

_c, _d = t.cases.c, t.deadlines.c
# Hot statements built once with named parameters: SQLAlchemy then reuses the compiled SQL
# without recomputing a cache key from every value (see bench/RESULTS.md, transition cost).
_CASE_COLUMNS = [col.name for col in t.cases.columns if col.name not in ("id", "shop_id")]
UPDATE_CASE = update(t.cases).where(
    _c.shop_id == bindparam("k_shop"), _c.id == bindparam("k_id"),
    _c.version == bindparam("k_version"),
).values({name: bindparam(name) for name in _CASE_COLUMNS})
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
SELECT_SHOP = select(t.shops).where(t.shops.c.id == bindparam("k_id"))
_LINE_COLS = [c.label(f"line_{c.name}") for c in t.order_lines.columns]
SELECT_ORDER_WITH_LINES = select(t.orders, *_LINE_COLS).join(
    t.order_lines, t.order_lines.c.order_id == t.orders.c.id).where(
    t.orders.c.shop_id == bindparam("k_shop"), t.orders.c.id == bindparam("k_id"),
    t.order_lines.c.shop_id == bindparam("k_shop"))


class _LineRow:
    """A joined row seen as an order_lines row (attributes without the `line_` prefix)."""

    __slots__ = ("_row",)

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, f"line_{name}")


SELECT_LINES = select(t.order_lines).where(t.order_lines.c.order_id == bindparam("k_order"),
                                           t.order_lines.c.shop_id == bindparam("k_shop"))
SELECT_EVENTS = select(t.case_events).where(
    t.case_events.c.shop_id == bindparam("k_shop"), t.case_events.c.case_id == bindparam("k_case")
).order_by(t.case_events.c.seq)
SELECT_CASE = select(t.cases).where(_c.shop_id == bindparam("k_shop"), _c.id == bindparam("k_id"))


class SqlStore(RecordsMixin):
    def __init__(self, conn: Connection, new_id: Any) -> None:
        self.conn = conn
        self.new_id = new_id
        self.pg = conn.dialect.name == "postgresql"
        # The pending deadline each loaded case had, as (key, due_at): saving a case whose
        # deadline did not change then costs no deadline statement at all.
        self._deadline_seen: dict[str, tuple[str, datetime] | None] = {}

    # --- shops and tokens -----------------------------------------------------------------
    def add_shop(self, record: ShopRecord, now: datetime) -> None:
        s = record.shop
        self.conn.execute(insert(t.shops).values(
            id=s.id, name=s.name, platform=s.platform, timezone=s.timezone, sandbox=s.sandbox,
            clock_at=record.clock_at, policy=record.policy.to_dict(), created_at=now))

    def _shop(self, row: Any) -> ShopRecord:
        shop = Shop(row.id, row.name, row.platform, row.timezone, row.sandbox)
        return ShopRecord(shop, MerchantPolicy.from_dict(row.policy), row.clock_at)

    def get_shop(self, shop_id: str) -> ShopRecord | None:
        row = self.conn.execute(SELECT_SHOP, {"k_id": shop_id}).first()
        return None if row is None else self._shop(row)

    def list_shops(self) -> list[ShopRecord]:
        rows = self.conn.execute(select(t.shops).order_by(t.shops.c.created_at)).all()
        return [self._shop(r) for r in rows]

    def set_clock(self, shop_id: str, at: datetime) -> None:
        self.conn.execute(update(t.shops).where(t.shops.c.id == shop_id).values(clock_at=at))

    def set_policy(self, shop_id: str, policy: MerchantPolicy) -> None:
        self.conn.execute(update(t.shops).where(t.shops.c.id == shop_id)
                          .values(policy=policy.to_dict()))

    def add_token(self, token_id: str, shop_id: str, role: str, buyer_id: str | None,
                  token_hash: str, label: str | None, now: datetime) -> None:
        self.conn.execute(insert(t.api_tokens).values(
            id=token_id, shop_id=shop_id, role=role, buyer_id=buyer_id, token_hash=token_hash,
            label=label, created_at=now))

    def find_token(self, token_hash: str) -> Principal | None:
        tok = t.api_tokens.c
        row = self.conn.execute(select(tok.id, tok.shop_id, tok.role, tok.buyer_id).where(
            tok.token_hash == token_hash, tok.revoked_at.is_(None))).first()
        if row is None:
            return None
        return Principal(row.shop_id, Role(row.role), row.buyer_id, row.id[-8:])

    # --- orders ---------------------------------------------------------------------------
    def add_order(self, order: Order, now: datetime) -> None:
        head, lines = order_rows(order, now)
        self.conn.execute(insert(t.orders).values(head))
        self.conn.execute(insert(t.order_lines), lines)

    def _order(self, where: Any) -> Order | None:
        return self._with_lines(self.conn.execute(select(t.orders).where(where)).first())

    def _with_lines(self, row: Any) -> Order | None:
        if row is None:
            return None
        lines = self.conn.execute(SELECT_LINES, {"k_order": row.id, "k_shop": row.shop_id}).all()
        return order_from_rows(row, list(lines))

    def get_order(self, shop_id: str, order_id: str) -> Order | None:
        """The order and its lines in one round trip (one row per line)."""
        rows = self.conn.execute(SELECT_ORDER_WITH_LINES, {"k_shop": shop_id, "k_id": order_id}).all()
        if not rows:
            return None
        head = rows[0]
        lines = [_LineRow(r) for r in rows]
        return order_from_rows(head, lines)  # type: ignore[arg-type]

    def find_order(self, shop_id: str, platform_order_id: str) -> Order | None:
        return self._order(and_(t.orders.c.shop_id == shop_id,
                                t.orders.c.platform_order_id == platform_order_id))

    def orders_by_id(self, shop_id: str, order_ids: Sequence[str]) -> dict[str, Order]:
        """Several orders in two queries (the queue shows a page of cases at once)."""
        if not order_ids:
            return {}
        o, ln = t.orders.c, t.order_lines.c
        heads = self.conn.execute(select(t.orders).where(
            o.shop_id == shop_id, o.id.in_(list(set(order_ids))))).all()
        lines = self.conn.execute(select(t.order_lines).where(
            ln.shop_id == shop_id, ln.order_id.in_([h.id for h in heads]))).all()
        grouped: dict[str, list[Any]] = {}
        for line in lines:
            grouped.setdefault(line.order_id, []).append(line)
        return {h.id: order_from_rows(h, grouped.get(h.id, [])) for h in heads}

    def report_data(self, shop_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        return reports.report_data(self.conn, shop_id, start, end)

    def update_order_dates(self, order: Order) -> None:
        self.conn.execute(update(t.orders).where(
            t.orders.c.shop_id == order.shop_id, t.orders.c.id == order.id).values(
            shipped_at=order.shipped_at, delivered_at=order.delivered_at,
            completed_at=order.completed_at))

    # --- cases and events -----------------------------------------------------------------
    def add_case(self, case: Case) -> None:
        row = case_row(case, None)
        self.conn.execute(insert(t.cases), {**row, "version": 1, "event_count": 0})
        case.version = 1
        self._deadline_seen[case.id] = None

    def _remember(self, row: Any) -> Case:
        case = case_from_row(row)
        seen = None
        if row.deadline_rule is not None and row.deadline_at is not None:
            seen = (f"{row.state_seq}:{row.deadline_rule}", row.deadline_at)
        self._deadline_seen[case.id] = seen
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
        new = case.events[case.events_saved:]
        base = case.event_base + case.events_saved
        row = case_row(case, deadline)
        del row["id"], row["shop_id"]
        result = self.conn.execute(UPDATE_CASE, {
            **row, "version": case.version + 1, "event_count": base + len(new),
            "k_shop": case.shop_id, "k_id": case.id, "k_version": case.version})
        if result.rowcount != 1:
            raise Conflict(f"case {case.id} was changed by someone else; reload and retry")
        case.version += 1
        if new:
            self.conn.execute(insert(t.case_events), [
                {"id": self.new_id(), "shop_id": case.shop_id, "case_id": case.id,
                 "seq": base + i + 1, "at": e.at, "actor": e.actor, "kind": e.kind,
                 "from_state": e.from_state, "to_state": e.to_state,
                 "explanation": e.explanation, "reason_code": e.reason_code, "data": e.data}
                for i, e in enumerate(new)
            ])
            case.events_saved = len(case.events)
        self._replace_deadline(case, deadline, now)

    def _replace_deadline(self, case: Case, deadline: Deadline | None, now: datetime) -> None:
        """Keep one pending row per case: the current deadline (rows are what workers claim)."""
        new = None if deadline is None else (deadline.key, deadline.at)
        if case.id in self._deadline_seen:
            old = self._deadline_seen[case.id]
            if old == new:
                return
        else:  # not loaded through this store: look the pending row up
            d = t.deadlines.c
            found = self.conn.execute(select(d.key, d.due_at).where(
                d.case_id == case.id, d.shop_id == case.shop_id, d.status == "pending")).first()
            old = None if found is None else (found.key, found.due_at)
        keys = {"k_case": case.id, "k_shop": case.shop_id}
        self._deadline_seen[case.id] = new
        if deadline is not None and old is not None and old[0] == deadline.key:
            # Same deadline, new time (a platform re-sent it): move the pending row.
            self.conn.execute(MOVE_PENDING, {**keys, "k_key": deadline.key, "due_at": deadline.at,
                                             "outcome": deadline.outcome.value,
                                             "source": deadline.source})
            return
        self.conn.execute(SUPERSEDE_PENDING, {**keys, "k_now": now})
        if deadline is None:
            return
        # One statement: a key superseded earlier in the same state comes back as pending.
        self.conn.execute(UPSERT_DEADLINE_PG if self.pg else UPSERT_DEADLINE_SQLITE, {
            "id": self.new_id(), "shop_id": case.shop_id, "case_id": case.id, "key": deadline.key,
            "due_at": deadline.at, "outcome": deadline.outcome.value, "source": deadline.source,
            "rule": deadline.rule, "status": "pending"})

    def events(self, shop_id: str, case_id: str) -> list[Event]:
        rows = self.conn.execute(SELECT_EVENTS, {"k_shop": shop_id, "k_case": case_id}).all()
        return [Event(r.at, r.actor, r.kind, None if r.from_state is None else State(r.from_state),
                      None if r.to_state is None else State(r.to_state), r.explanation,
                      r.reason_code, dict(r.data or {})) for r in rows]

    def cases_on_order(self, shop_id: str, order_id: str) -> list[Case]:
        c = t.cases.c
        rows = self.conn.execute(select(t.cases).where(c.shop_id == shop_id,
                                                       c.order_id == order_id)).all()
        return [case_from_row(r) for r in rows]

    def cancelled_by_buyer(self, shop_id: str, case_ids: Sequence[str]) -> set[str]:
        """Which of these cases the buyer cancelled (one query, whatever their number)."""
        if not case_ids:
            return set()
        e = t.case_events.c
        rows = self.conn.execute(select(e.case_id).where(
            e.shop_id == shop_id, e.case_id.in_(list(case_ids)), e.kind == "cancel")).all()
        return {r.case_id for r in rows}

    def buyer_case_count(self, shop_id: str, buyer_id: str) -> int:
        c = t.cases.c
        return int(self.conn.execute(select(func.count()).where(
            c.shop_id == shop_id, c.buyer_id == buyer_id)).scalar_one())

    def list_cases(self, shop_id: str, flt: CaseFilter) -> tuple[list[Case], str | None]:
        return queries.list_cases(self.conn, shop_id, flt)

    # --- deadlines ------------------------------------------------------------------------
    def claim_due(self, now: datetime, limit: int, shop_id: str | None = None, *,
                  live_only: bool = False) -> list[DueDeadline]:
        d = t.deadlines.c
        stmt = select(d.id, d.shop_id, d.case_id, d.key, d.due_at, d.outcome).where(
            d.status == "pending", d.due_at <= now)
        if shop_id is not None:
            stmt = stmt.where(d.shop_id == shop_id)
        if live_only:  # sandbox shops fire only when their own clock is advanced
            stmt = stmt.where(d.shop_id.not_in(select(t.shops.c.id).where(t.shops.c.sandbox)))
        stmt = stmt.order_by(d.due_at).limit(limit)
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return [DueDeadline(r.id, r.shop_id, r.case_id, r.key, r.due_at, r.outcome)
                for r in self.conn.execute(stmt).all()]

    def claim_near_due(self, until: datetime, limit: int, *, live_only: bool = False,
                       shop_id: str | None = None) -> list[DueDeadline]:
        """Pending deadlines due by `until` whose near-timeout alert has not gone out."""
        d = t.deadlines.c
        stmt = select(d.id, d.shop_id, d.case_id, d.key, d.due_at, d.outcome).where(
            d.status == "pending", d.due_at <= until, d.warned_at.is_(None))
        if shop_id is not None:
            stmt = stmt.where(d.shop_id == shop_id)
        if live_only:
            stmt = stmt.where(d.shop_id.not_in(select(t.shops.c.id).where(t.shops.c.sandbox)))
        stmt = stmt.order_by(d.due_at).limit(limit)
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return [DueDeadline(r.id, r.shop_id, r.case_id, r.key, r.due_at, r.outcome)
                for r in self.conn.execute(stmt).all()]

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
