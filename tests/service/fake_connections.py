"""In-memory platform connections and outbox (issue 21) for the fake unit of work: the
same answers as adapters/db/connections.py, with credentials kept as they are (the fake
database is memory: nothing rests on a disk to seal)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime

from aftersales.service.connection_ports import ConnectionRecord, Credentials, OutboundAct, OutboxRow
from service.fake_base import _Repo


def _masked(secret: str) -> str:
    return "****" + secret[-4:]


class FakeConnections(_Repo):
    def save(self, shop_id: str, platform: str, base_url: str, creds: Credentials,
             now: datetime) -> None:
        self.data.connections[shop_id] = (ConnectionRecord(
            shop_id, platform, creds.app_key, base_url, None, None, None, None,
            _masked(creds.app_secret)), creds)

    def get(self, shop_id: str) -> ConnectionRecord | None:
        found = self.data.connections.get(shop_id)
        return None if found is None else found[0]

    def platform_of(self, shop_id: str) -> str | None:
        found = self.get(shop_id)
        return None if found is None else found.platform

    def credentials(self, shop_id: str) -> Credentials | None:
        found = self.data.connections.get(shop_id)
        return None if found is None else found[1]

    def store_tokens(self, shop_id: str, creds: Credentials, now: datetime) -> None:
        record, _ = self.data.connections[shop_id]
        self.data.connections[shop_id] = (record, creds)

    def record_pull(self, shop_id: str, cursor: str, now: datetime, lag_seconds: float | None,
                    error: str | None) -> None:
        record, creds = self.data.connections[shop_id]
        self.data.connections[shop_id] = (replace(
            record, cursor=cursor, last_pull_at=now, lag_seconds=lag_seconds,
            last_error=error), creds)

    def connected(self) -> Sequence[ConnectionRecord]:
        return [record for record, _ in self.data.connections.values()]


class FakeOutbox(_Repo):
    def add(self, shop_id: str, case_id: str, act: OutboundAct, now: datetime) -> str:
        if any(r.idempotency_key == act.idempotency_key for r in self.data.outbox.values()):
            raise ValueError(f"outbox key {act.idempotency_key} exists (a unique key)")
        payload = {**asdict(act), "act": act.act.value}
        row = OutboxRow(str(uuid.uuid4()), shop_id, case_id, act.act.value, payload,
                        act.idempotency_key, "pending", 0, now, None, now, now)
        self.data.outbox[row.id] = row
        return row.id

    def due(self, now: datetime, limit: int) -> Sequence[OutboxRow]:
        rows = [r for r in self.data.outbox.values()
                if r.status in ("pending", "sent") and r.next_attempt_at <= now]
        return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))[:limit]

    def claim(self, row: OutboxRow, now: datetime, lease_until: datetime) -> bool:
        current = self.data.outbox.get(row.id)
        if current is None or (current.status, current.next_attempt_at) != (
                row.status, row.next_attempt_at):
            return False
        self.data.outbox[row.id] = replace(current, status="sent", next_attempt_at=lease_until,
                                           updated_at=now, attempts=current.attempts + 1)
        return True

    def mark(self, row_id: str, status: str, now: datetime, *, error: str | None = None,
             next_attempt_at: datetime | None = None) -> None:
        row = self.data.outbox[row_id]
        self.data.outbox[row_id] = replace(row, status=status, updated_at=now, last_error=error,
                                           next_attempt_at=next_attempt_at or row.next_attempt_at)

    def list(self, shop_id: str, status: str | None = None) -> Sequence[OutboxRow]:
        return [r for r in self.data.outbox.values()
                if r.shop_id == shop_id and status in (None, r.status)]

    def retry(self, shop_id: str, row_id: str, now: datetime) -> bool:
        row = self.data.outbox.get(row_id)
        if row is None or row.shop_id != shop_id or row.status != "failed":
            return False
        self.data.outbox[row_id] = replace(row, status="pending", next_attempt_at=now,
                                           updated_at=now)
        return True
