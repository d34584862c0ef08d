"""Connections and outbox repositories (service/connection_ports.py), on the uow's connection.

Credentials go in and out only through the SecretBox: the table holds the app secret and
the token pair sealed, so a database dump or backup does not give them away.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from aftersales.adapters.db.tables import connections, outbox
from aftersales.adapters.secrets import SecretBox, mask
from aftersales.service.connection_ports import (
    ConnectionRecord,
    Credentials,
    OutboundAct,
    OutboxRow,
)


class SqlConnections:
    def __init__(self, conn: Connection, secrets: Callable[[], SecretBox]) -> None:
        self.conn = conn
        self._secrets = secrets  # the key is read only when a secret is sealed or opened

    @property
    def box(self) -> SecretBox:
        return self._secrets()

    def platform_of(self, shop_id: str) -> str | None:
        """The connected platform of a shop, None when not connected (no key needed)."""
        return self.conn.execute(select(connections.c.platform).where(
            connections.c.shop_id == shop_id)).scalar_one_or_none()

    def save(self, shop_id: str, platform: str, base_url: str, creds: Credentials,
             now: datetime) -> None:
        values: dict[str, Any] = {
            "platform": platform, "base_url": base_url, "app_key": creds.app_key,
            "secret": self.box.seal(creds.app_secret), "tokens": self._tokens(creds),
            "updated_at": now, "last_error": None}
        done = self.conn.execute(update(connections).where(connections.c.shop_id == shop_id)
                                 .values(**values))
        if not done.rowcount:
            self.conn.execute(insert(connections).values(shop_id=shop_id, created_at=now,
                                                         **values))

    def _tokens(self, creds: Credentials) -> str | None:
        if creds.access_token is None and creds.refresh_token is None:
            return None
        expires = creds.token_expires_at.isoformat() if creds.token_expires_at else None
        return self.box.seal(json.dumps({"access_token": creds.access_token,
                                         "refresh_token": creds.refresh_token,
                                         "expires_at": expires}))

    def _row(self, shop_id: str) -> RowMapping | None:
        return self.conn.execute(select(connections).where(connections.c.shop_id == shop_id)
                                 ).mappings().first()

    def get(self, shop_id: str) -> ConnectionRecord | None:
        row = self._row(shop_id)
        return None if row is None else self._record(row)

    def _record(self, row: RowMapping) -> ConnectionRecord:
        return ConnectionRecord(
            shop_id=row["shop_id"], platform=row["platform"], app_key=row["app_key"],
            base_url=row["base_url"], cursor=row["cursor"], last_pull_at=row["last_pull_at"],
            last_error=row["last_error"], lag_seconds=row["lag_seconds"],
            secret_masked=mask(self.box.open(row["secret"])))

    def credentials(self, shop_id: str) -> Credentials | None:
        row = self._row(shop_id)
        if row is None:
            return None
        tokens = json.loads(self.box.open(row["tokens"])) if row["tokens"] else {}
        expires = tokens.get("expires_at")
        return Credentials(app_key=row["app_key"], app_secret=self.box.open(row["secret"]),
                           access_token=tokens.get("access_token"),
                           refresh_token=tokens.get("refresh_token"),
                           token_expires_at=datetime.fromisoformat(expires) if expires else None)

    def store_tokens(self, shop_id: str, creds: Credentials, now: datetime) -> None:
        self.conn.execute(update(connections).where(connections.c.shop_id == shop_id)
                          .values(tokens=self._tokens(creds), updated_at=now))

    def record_pull(self, shop_id: str, cursor: str, now: datetime, lag_seconds: float | None,
                    error: str | None) -> None:
        values: dict[str, Any] = {"updated_at": now, "last_error": error, "last_pull_at": now}
        if error is None:  # a failed pull keeps the cursor and the last lag it measured
            values.update(cursor=cursor, lag_seconds=lag_seconds)
        self.conn.execute(update(connections).where(connections.c.shop_id == shop_id)
                          .values(**values))

    def connected(self) -> Sequence[ConnectionRecord]:
        rows = self.conn.execute(select(connections).order_by(connections.c.shop_id)).mappings()
        return [self._record(row) for row in rows]


class SqlOutbox:
    def __init__(self, conn: Connection, new_id: Callable[[], str]) -> None:
        self.conn = conn
        self.new_id = new_id

    def add(self, shop_id: str, case_id: str, act: OutboundAct, now: datetime) -> str:
        row_id = self.new_id()
        payload = asdict(act)
        payload["act"] = act.act.value
        payload["evidence"] = [asdict(e) for e in act.evidence]
        payload["facts"] = dict(act.facts)
        self.conn.execute(insert(outbox).values(
            id=row_id, shop_id=shop_id, case_id=case_id, act=act.act.value, payload=payload,
            idempotency_key=act.idempotency_key, status="pending", attempts=0,
            next_attempt_at=now, created_at=now, updated_at=now))
        return row_id

    def due(self, now: datetime, limit: int) -> Sequence[OutboxRow]:
        """Pending rows due now, and sent rows whose delivery lease ran out (a worker died
        between the call and its record: delivered again, the platform dedups by key)."""
        rows = self.conn.execute(
            select(outbox).where(outbox.c.status.in_(("pending", "sent")),
                                 outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)).mappings()
        return [_outbox_row(r) for r in rows]

    def claim(self, row: OutboxRow, now: datetime, lease_until: datetime) -> bool:
        """Mark a due row sent until `lease_until`; False when another drain took it."""
        done = self.conn.execute(
            update(outbox).where(outbox.c.id == row.id, outbox.c.status == row.status,
                                 outbox.c.next_attempt_at == row.next_attempt_at)
            .values(status="sent", next_attempt_at=lease_until, updated_at=now,
                    attempts=outbox.c.attempts + 1))
        return bool(done.rowcount)

    def mark(self, row_id: str, status: str, now: datetime, *, error: str | None = None,
             next_attempt_at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now, "last_error": error}
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        self.conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))

    def list(self, shop_id: str, status: str | None = None) -> Sequence[OutboxRow]:
        query = select(outbox).where(outbox.c.shop_id == shop_id)
        if status is not None:
            query = query.where(outbox.c.status == status)
        rows = self.conn.execute(query.order_by(outbox.c.created_at, outbox.c.id)).mappings()
        return [_outbox_row(r) for r in rows]

    def retry(self, shop_id: str, row_id: str, now: datetime) -> bool:
        """A failed row back to pending, due now (the desk's and CLI's retry)."""
        done = self.conn.execute(
            update(outbox).where(outbox.c.shop_id == shop_id, outbox.c.id == row_id,
                                 outbox.c.status == "failed")
            .values(status="pending", next_attempt_at=now, updated_at=now))
        return bool(done.rowcount)


def _outbox_row(row: RowMapping) -> OutboxRow:
    return OutboxRow(
        id=row["id"], shop_id=row["shop_id"], case_id=row["case_id"], act=row["act"],
        payload=row["payload"], idempotency_key=row["idempotency_key"], status=row["status"],
        attempts=row["attempts"], next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"], created_at=row["created_at"],
        updated_at=row["updated_at"])
