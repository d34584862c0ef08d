"""Fake repositories of the records beside cases: ledger, upstream claims, evidence, the
rows around a case, idempotency keys (the same rules as adapters/db/records.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aftersales.domain.upstream import UpstreamClaim
from aftersales.service.ports import Difference, LedgerEntry
from service.fake_base import Row, _Repo


class FakeLedger(_Repo):
    def refunds_for_order(self, shop_id: str, order_id: str) -> list[LedgerEntry]:
        return self.refunds(shop_id, order_id=order_id)

    def refunds(self, shop_id: str, case_id: str | None = None,
                order_id: str | None = None) -> list[LedgerEntry]:
        return sorted((e for e in self.data.ledger.values() if e.shop_id == shop_id
                       and case_id in (None, e.case_id) and order_id in (None, e.order_id)),
                      key=lambda e: (e.created_at, e.id))

    def add_refund(self, entry: LedgerEntry) -> bool:
        """Once per (case, round, kind): the unique key the SQL ledger has."""
        if any((e.case_id, e.round, e.kind) == (entry.case_id, entry.round, entry.kind)
               for e in self.data.ledger.values()):
            return False
        self.data.ledger[entry.id] = entry
        return True

    def settle_refund(self, shop_id: str, entry_id: str, status: str, reference: str | None,
                      now: datetime) -> None:
        entry = self.data.ledger[entry_id]
        assert entry.shop_id == shop_id
        self.data.ledger[entry_id] = dataclasses.replace(entry, status=status,
                                                         reference=reference, settled_at=now)

    def pending_refunds(self, limit: int) -> list[LedgerEntry]:
        return sorted((e for e in self.data.ledger.values() if e.status == "pending"),
                      key=lambda e: e.created_at)[:limit]

    def add_difference(self, diff: Difference) -> bool:
        if (diff.case_id, diff.reference) in self.data.differences:
            return False
        self.data.differences[diff.case_id, diff.reference] = diff
        return True

    def differences(self, shop_id: str, start: datetime | None = None,
                    end: datetime | None = None) -> list[Difference]:
        return sorted((d for d in self.data.differences.values() if d.shop_id == shop_id
                       and (start is None or d.at >= start) and (end is None or d.at < end)),
                      key=lambda d: (d.at, d.id))


class FakeClaims(_Repo):
    def add_claim(self, claim: UpstreamClaim) -> None:
        self.data.claims[claim.id] = claim

    def get_claim(self, shop_id: str, claim_id: str) -> UpstreamClaim | None:
        claim = self.data.claims.get(claim_id)
        return claim if claim is not None and claim.shop_id == shop_id else None

    def claims(self, shop_id: str, case_id: str | None = None,
               status: str | None = None) -> list[UpstreamClaim]:
        return [c for c in self.data.claims.values() if c.shop_id == shop_id
                and case_id in (None, c.case_id) and status in (None, c.status)]

    def save_claim(self, claim: UpstreamClaim) -> None:
        self.data.claims[claim.id] = claim


class FakeEvidence(_Repo):
    def add_evidence(self, shop_id: str, case_id: str, row: Mapping[str, Any]) -> None:
        self.data.evidence.append({**row, "shop_id": shop_id, "case_id": case_id})

    def evidence(self, shop_id: str, case_id: str) -> list[Row]:
        return [dict(r) for r in self.data.evidence
                if r["shop_id"] == shop_id and r["case_id"] == case_id]

    def evidence_usage(self, shop_id: str, *, case_id: str | None = None,
                       buyer_id: str | None = None,
                       uploaded_by: str | None = None) -> tuple[int, int]:
        rows = [r for r in self.data.evidence if r["shop_id"] == shop_id
                and case_id in (None, r["case_id"]) and uploaded_by in (None, r.get("uploaded_by"))
                and (buyer_id is None or self.data.cases[r["case_id"]].buyer_id == buyer_id)]
        return len(rows), sum(int(r.get("size") or 0) for r in rows)


class FakeRecords(_Repo):
    def add_message(self, shop_id: str, case_id: str, row: Mapping[str, Any]) -> None:
        self.data.messages.append({**row, "shop_id": shop_id, "case_id": case_id})

    def messages(self, shop_id: str, case_id: str) -> list[Row]:
        return [dict(r) for r in self.data.messages
                if r["shop_id"] == shop_id and r["case_id"] == case_id]

    def add_parcel(self, shop_id: str, row: Mapping[str, Any]) -> None:
        self.data.parcels[row["id"]] = {"status": "unmatched", "case_id": None, **row,
                                        "shop_id": shop_id}

    def parcels(self, shop_id: str, status: str | None = None) -> list[Row]:
        return [dict(r) for r in self.data.parcels.values()
                if r["shop_id"] == shop_id and (not status or r["status"] == status)]

    def attach_parcel(self, shop_id: str, parcel_id: str, case_id: str) -> bool:
        row = self.data.parcels.get(parcel_id)
        if row is None or row["shop_id"] != shop_id or row["status"] != "unmatched":
            return False
        row.update(case_id=case_id, status="matched")
        return True

    def add_task(self, shop_id: str, row: Mapping[str, Any]) -> None:
        self.data.tasks.append({**row, "shop_id": shop_id})

    def add_notification(self, shop_id: str, row: Mapping[str, Any]) -> None:
        self.data.notifications[row["id"]] = {"sent_at": None, "attempts": 0, **row,
                                              "shop_id": shop_id}

    def claim_notifications(self, limit: int) -> list[Row]:
        rows = [r for r in self.data.notifications.values()
                if r["sent_at"] is None and r["attempts"] < 5]
        return [dict(r) for r in sorted(rows, key=lambda r: r["created_at"])[:limit]]

    def mark_notification(self, notification_id: str, sent_at: datetime | None) -> None:
        row = self.data.notifications[notification_id]
        row.update(sent_at=sent_at, attempts=row["attempts"] + 1)

    def report_data(self, shop_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        raise NotImplementedError("reports aggregate in SQL: tests/integration covers them")


class FakeIdempotency(_Repo):
    def get_idempotency(self, shop_id: str, key: str) -> tuple[str, int | None, str | None] | None:
        row = self.data.idempotency.get((shop_id, key))
        return None if row is None else (row["request_hash"], row["status"], row["response"])

    def claim_idempotency(self, shop_id: str, key: str, request_hash: str, now: datetime, *,
                          lease_before: datetime | None = None,
                          expired_before: datetime | None = None) -> bool:
        if (shop_id, key) not in self.data.idempotency:
            self.data.idempotency[shop_id, key] = {"request_hash": request_hash,
                                                   "created_at": now, "status": None,
                                                   "response": None}
            return True
        if lease_before is None or expired_before is None:
            return False
        return self.take_over_idempotency(shop_id, key, request_hash, now,
                                          lease_before=lease_before, expired_before=expired_before)

    def take_over_idempotency(self, shop_id: str, key: str, request_hash: str, now: datetime, *,
                              lease_before: datetime, expired_before: datetime) -> bool:
        row = self.data.idempotency.get((shop_id, key))
        if row is None or not ((row["status"] is None and row["created_at"] < lease_before)
                               or row["created_at"] < expired_before):
            return False
        row.update(request_hash=request_hash, created_at=now, status=None, response=None)
        return True

    def _mine(self, shop_id: str, key: str, claimed_at: datetime | None) -> Row | None:
        row = self.data.idempotency.get((shop_id, key))
        if row is None or (claimed_at is not None and (row["created_at"] != claimed_at
                                                       or row["status"] is not None)):
            return None
        return row

    def finish_idempotency(self, shop_id: str, key: str, status: int, response: str,
                           claimed_at: datetime | None = None) -> bool:
        row = self._mine(shop_id, key, claimed_at)
        if row is None:
            return False
        row.update(status=status, response=response)
        return True

    def release_idempotency(self, shop_id: str, key: str,
                            claimed_at: datetime | None = None) -> None:
        if self._mine(shop_id, key, claimed_at) is not None:
            del self.data.idempotency[shop_id, key]

    def purge_idempotency(self, created_before: datetime) -> int:
        old = [k for k, r in self.data.idempotency.items() if r["created_at"] < created_before]
        for k in old:
            del self.data.idempotency[k]
        return len(old)
