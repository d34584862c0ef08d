"""The store's records besides cases: the refund ledger, upstream claims, evidence,
messages, parcels, tasks, the notification outbox and idempotency keys.

A mixin of SqlStore (adapters/db/store.py), split out so each module holds one concept;
it uses the same connection (`self.conn`) and dialect flag (`self.pg`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import bundles
from aftersales.adapters.db import tables as t
from aftersales.adapters.db.hints import unindexed
from aftersales.adapters.db.statements import SELECT_ORDER_LEDGER
from aftersales.domain.money import Money
from aftersales.domain.upstream import UpstreamClaim
from aftersales.service.ports import Difference, LedgerEntry

# Prebuilt (named parameters): the ledger statements run on every refund.
INSERT_REFUND_PG = pg_insert(t.refunds).on_conflict_do_nothing(
    index_elements=["case_id", "round", "kind"]).returning(t.refunds.c.id)
INSERT_REFUND_SQLITE = sqlite_insert(t.refunds).on_conflict_do_nothing(
    index_elements=["case_id", "round", "kind"]).returning(t.refunds.c.id)
INSERT_DIFFERENCE = {
    True: pg_insert(t.reconciliation_differences).on_conflict_do_nothing(
        index_elements=["case_id", "reference"]),
    False: sqlite_insert(t.reconciliation_differences).on_conflict_do_nothing(
        index_elements=["case_id", "reference"]),
}
SETTLE_REFUND = update(t.refunds).where(
    t.refunds.c.shop_id == bindparam("k_shop"), t.refunds.c.id == bindparam("k_id")
).values(status=bindparam("status"), reference=bindparam("reference"),
         settled_at=bindparam("settled_at"))


class RecordsMixin:
    conn: Connection
    pg: bool

    # --- ledger ---------------------------------------------------------------------------
    def _entry(self, r: Any) -> LedgerEntry:
        return LedgerEntry(r.id, r.shop_id, r.case_id, r.order_id, r.round, r.kind,
                           Money(r.amount, r.currency), r.method, r.status, r.created_at,
                           r.reference, r.settled_at, dict(r.lines or {}))

    def ledger_from_json(self, raw: Any) -> list[LedgerEntry]:
        """Ledger entries from a JSON array of refunds rows (bundles.py), oldest first."""
        entries = [bundles.decode("refunds", x) for x in bundles.parse(raw) or []]
        return [self._entry(SimpleNamespace(**x))
                for x in sorted(entries, key=lambda x: (x["created_at"], x["id"]))]

    def refunds_for_order(self, shop_id: str, order_id: str) -> list[LedgerEntry]:
        row = self.conn.execute(SELECT_ORDER_LEDGER[self.pg],
                                {"k_shop": shop_id, "k_order": order_id}).one()
        return self.ledger_from_json(row.refunds)

    def refunds(self, shop_id: str, case_id: str | None = None,
                order_id: str | None = None) -> list[LedgerEntry]:
        r = t.refunds.c
        # by case: the (case, round, kind) key finds them, not the shop's index (hints.py)
        shop = unindexed(r.shop_id) if case_id else r.shop_id
        stmt = select(t.refunds).where(shop == shop_id)
        if case_id:
            stmt = stmt.where(r.case_id == case_id)
        if order_id:
            stmt = stmt.where(r.order_id == order_id)
        return [self._entry(x) for x in self.conn.execute(stmt.order_by(r.created_at, r.id)).all()]

    def add_refund(self, entry: LedgerEntry) -> bool:
        """Insert once: the (case, round, kind) unique key turns a repeat into a no-op."""
        row = {"id": entry.id, "shop_id": entry.shop_id, "case_id": entry.case_id,
               "order_id": entry.order_id, "round": entry.round, "kind": entry.kind,
               "amount": entry.amount.amount, "currency": entry.amount.currency,
               "method": entry.method, "status": entry.status, "reference": entry.reference,
               "lines": dict(entry.lines), "created_at": entry.created_at}
        return self.conn.execute(INSERT_REFUND_PG if self.pg else INSERT_REFUND_SQLITE,
                                 row).first() is not None

    def settle_refund(self, shop_id: str, entry_id: str, status: str, reference: str | None,
                      now: datetime) -> None:
        self.conn.execute(SETTLE_REFUND, {"k_shop": shop_id, "k_id": entry_id,
                                          "status": status, "reference": reference,
                                          "settled_at": now})

    def pending_refunds(self, limit: int) -> list[LedgerEntry]:
        """Entries a gateway left pending (not offline ones: finance confirms those),
        oldest first, across shops: the worker asks the gateway about them."""
        r = t.refunds.c
        stmt = select(t.refunds).where(r.status == "pending", r.method != "offline") \
            .order_by(r.created_at, r.id).limit(limit)
        return [self._entry(x) for x in self.conn.execute(stmt).all()]

    # --- reconciliation differences (service/reconcile.py) --------------------------------
    def add_difference(self, diff: Difference) -> bool:
        """Once per platform refund of a case: a replayed sync adds nothing."""
        res = self.conn.execute(INSERT_DIFFERENCE[self.pg], difference_row(diff))
        return res.rowcount == 1

    def differences(self, shop_id: str, start: datetime | None = None,
                    end: datetime | None = None) -> list[Difference]:
        d = t.reconciliation_differences.c
        stmt = select(t.reconciliation_differences).where(d.shop_id == shop_id)
        if start is not None:
            stmt = stmt.where(d.at >= start)
        if end is not None:
            stmt = stmt.where(d.at < end)
        return [Difference(r.id, r.shop_id, r.case_id, r.order_id, r.reference,
                           Money(r.reported, r.currency), Money(r.booked, r.currency), r.at)
                for r in self.conn.execute(stmt.order_by(d.at, d.id)).all()]

    # --- upstream claims (PLATFORMS.md / 1688 dropshipping) --------------------------------
    def _claim(self, r: Any) -> UpstreamClaim:
        return UpstreamClaim(
            r.id, r.shop_id, r.case_id, r.supplier, r.supplier_order_id,
            Money(r.amount, r.currency), Money(r.recovered, r.currency), r.status,
            r.description, r.evidence_count, r.opened_at, r.settled_at,
            None if r.supplier_paid is None else Money(r.supplier_paid, r.currency))

    @staticmethod
    def _claim_row(claim: UpstreamClaim) -> dict[str, Any]:
        paid = claim.supplier_paid
        return {"case_id": claim.case_id, "supplier": claim.supplier,
                "supplier_order_id": claim.supplier_order_id, "amount": claim.amount.amount,
                "recovered": claim.recovered.amount, "currency": claim.amount.currency,
                "supplier_paid": None if paid is None else paid.amount, "status": claim.status,
                "description": claim.description, "evidence_count": claim.evidence_count,
                "opened_at": claim.opened_at, "settled_at": claim.settled_at}

    def add_claim(self, claim: UpstreamClaim) -> None:
        self.conn.execute(insert(t.upstream_claims).values(
            id=claim.id, shop_id=claim.shop_id, **self._claim_row(claim)))

    def get_claim(self, shop_id: str, claim_id: str) -> UpstreamClaim | None:
        u = t.upstream_claims.c
        row = self.conn.execute(select(t.upstream_claims).where(
            u.shop_id == shop_id, u.id == claim_id)).first()
        return None if row is None else self._claim(row)

    def claims(self, shop_id: str, case_id: str | None = None,
               status: str | None = None) -> list[UpstreamClaim]:
        u = t.upstream_claims.c
        stmt = select(t.upstream_claims).where(u.shop_id == shop_id)
        if case_id is not None:
            stmt = stmt.where(u.case_id == case_id)
        if status is not None:
            stmt = stmt.where(u.status == status)
        rows = self.conn.execute(stmt.order_by(u.opened_at, u.id)).all()
        return [self._claim(r) for r in rows]

    def save_claim(self, claim: UpstreamClaim) -> None:
        u = t.upstream_claims.c
        self.conn.execute(update(t.upstream_claims).where(
            u.shop_id == claim.shop_id, u.id == claim.id).values(self._claim_row(claim)))

    # --- evidence, messages, parcels, tasks, notifications ------------------------------------
    def _add(self, table: Any, shop_id: str, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(table).values(**row, shop_id=shop_id))

    def _rows(self, stmt: Any) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in self.conn.execute(stmt).all()]

    def add_evidence(self, shop_id: str, case_id: str, row: Mapping[str, Any]) -> None:
        self._add(t.evidence, shop_id, {**row, "case_id": case_id})

    def evidence(self, shop_id: str, case_id: str) -> list[dict[str, Any]]:
        e = t.evidence.c
        return self._rows(select(t.evidence).where(e.shop_id == shop_id, e.case_id == case_id)
                          .order_by(e.at))

    def evidence_usage(self, shop_id: str, *, case_id: str | None = None,
                       buyer_id: str | None = None,
                       uploaded_by: str | None = None) -> tuple[int, int]:
        """(files, bytes) of a case's evidence, or of a buyer's across the shop's cases."""
        e, c = t.evidence.c, t.cases.c
        stmt = (select(func.count(), func.coalesce(func.sum(e.size), 0)).select_from(t.evidence)
                .where(e.shop_id == shop_id))
        if case_id is not None:
            stmt = stmt.where(e.case_id == case_id)
        if buyer_id is not None:
            stmt = stmt.join(t.cases, c.id == e.case_id).where(c.shop_id == shop_id,
                                                               c.buyer_id == buyer_id)
        if uploaded_by is not None:
            stmt = stmt.where(e.uploaded_by == uploaded_by)
        files, size = self.conn.execute(stmt).one()
        return int(files), int(size)

    def add_message(self, shop_id: str, case_id: str, row: Mapping[str, Any]) -> None:
        self._add(t.messages, shop_id, {**row, "case_id": case_id})

    def messages(self, shop_id: str, case_id: str) -> list[dict[str, Any]]:
        m = t.messages.c
        return self._rows(select(t.messages).where(m.shop_id == shop_id, m.case_id == case_id)
                          .order_by(m.at, m.id))

    def add_parcel(self, shop_id: str, row: Mapping[str, Any]) -> None:
        self._add(t.parcels, shop_id, row)

    def parcels(self, shop_id: str, status: str | None = None) -> list[dict[str, Any]]:
        p = t.parcels.c
        stmt = select(t.parcels).where(p.shop_id == shop_id)
        if status:
            stmt = stmt.where(p.status == status)
        return self._rows(stmt.order_by(p.scanned_at.desc()))

    def attach_parcel(self, shop_id: str, parcel_id: str, case_id: str) -> bool:
        p = t.parcels.c
        res = self.conn.execute(update(t.parcels).where(
            p.shop_id == shop_id, p.id == parcel_id, p.status == "unmatched")
            .values(case_id=case_id, status="matched"))
        return res.rowcount == 1

    def add_task(self, shop_id: str, row: Mapping[str, Any]) -> None:
        self._add(t.tasks, shop_id, row)

    def add_notification(self, shop_id: str, row: Mapping[str, Any]) -> None:
        self._add(t.notifications, shop_id, row)

    def claim_notifications(self, limit: int) -> list[dict[str, Any]]:
        """Unsent messages, oldest first; SKIP LOCKED lets several workers share the queue."""
        n = t.notifications.c
        stmt = select(t.notifications).where(n.sent_at.is_(None), n.attempts < 5) \
            .order_by(n.created_at).limit(limit)
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return self._rows(stmt)

    def mark_notification(self, notification_id: str, sent_at: datetime | None) -> None:
        n = t.notifications.c
        self.conn.execute(update(t.notifications).where(n.id == notification_id).values(
            sent_at=sent_at, attempts=n.attempts + 1))

    # --- idempotency ----------------------------------------------------------------------
    def get_idempotency(self, shop_id: str, key: str) -> tuple[str, int | None, str | None] | None:
        k = t.idempotency_keys.c
        row = self.conn.execute(select(k.request_hash, k.status_code, k.response).where(
            k.shop_id == shop_id, k.key == key)).first()
        return None if row is None else (row.request_hash, row.status_code, row.response)

    def claim_idempotency(self, shop_id: str, key: str, request_hash: str, now: datetime, *,
                          lease_before: datetime | None = None,
                          expired_before: datetime | None = None) -> bool:
        """Claim a key for a request starting `now` (the claim's token is `created_at`).

        A new key is an INSERT on the primary key. With the bounds given, a row in the way
        is taken over when it is an abandoned claim (no answer, claimed before
        `lease_before`: its request died with its process) or an expired key (created
        before `expired_before`, answered or not). The takeover is one conditional UPDATE,
        so two retries racing for the same stale row cannot both win."""
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(t.idempotency_keys).values(
                    shop_id=shop_id, key=key, request_hash=request_hash, created_at=now))
            return True
        except IntegrityError:
            if lease_before is None or expired_before is None:
                return False
        return self.take_over_idempotency(shop_id, key, request_hash, now,
                                          lease_before=lease_before, expired_before=expired_before)

    def take_over_idempotency(self, shop_id: str, key: str, request_hash: str, now: datetime, *,
                              lease_before: datetime, expired_before: datetime) -> bool:
        """The takeover half of claim_idempotency alone (a waiting retry polls with it)."""
        k = t.idempotency_keys.c
        stale = or_(and_(k.status_code.is_(None), k.created_at < lease_before),
                    k.created_at < expired_before)
        done = self.conn.execute(update(t.idempotency_keys).where(
            k.shop_id == shop_id, k.key == key, stale).values(
            request_hash=request_hash, created_at=now, status_code=None, response=None))
        return done.rowcount == 1

    def release_idempotency(self, shop_id: str, key: str, claimed_at: datetime | None = None
                            ) -> None:
        """A request that failed with a server error frees its key, so a retry runs again
        (only its own claim: one that lost its lease to a retry leaves the retry's alone)."""
        k = t.idempotency_keys.c
        mine = [] if claimed_at is None else [k.created_at == claimed_at, k.status_code.is_(None)]
        self.conn.execute(t.idempotency_keys.delete().where(
            k.shop_id == shop_id, k.key == key, *mine))

    def purge_idempotency(self, created_before: datetime) -> int:
        """Forget every key older than the retention (the worker calls this each pass)."""
        k = t.idempotency_keys.c
        return int(self.conn.execute(t.idempotency_keys.delete().where(
            k.created_at < created_before)).rowcount)

    def finish_idempotency(self, shop_id: str, key: str, status: int, response: str,
                           claimed_at: datetime | None = None) -> bool:
        """Store the answer; with `claimed_at`, only on the claim this request still holds."""
        k = t.idempotency_keys.c
        mine = [] if claimed_at is None else [k.created_at == claimed_at, k.status_code.is_(None)]
        done = self.conn.execute(update(t.idempotency_keys).where(
            k.shop_id == shop_id, k.key == key, *mine).values(status_code=status, response=response))
        return done.rowcount == 1


def difference_row(diff: Difference) -> dict[str, Any]:
    return {"id": diff.id, "shop_id": diff.shop_id, "case_id": diff.case_id,
            "order_id": diff.order_id, "reference": diff.reference,
            "reported": diff.reported.amount, "booked": diff.booked.amount,
            "difference": diff.difference.amount, "currency": diff.reported.currency,
            "at": diff.at}
