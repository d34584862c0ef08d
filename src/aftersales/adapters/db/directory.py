"""SQL side of the console's Directory: users (staff sign-in), a buyer's orders, and the
desk's sessions, failed sign-ins and shared secrets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from aftersales.adapters.db import tables as t


class SqlDirectory:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_user(self, row: Mapping[str, Any]) -> bool:
        """False, writing nothing, when the shop has the username already (also when
        another transaction added it at the same moment: the insert waits and yields)."""
        dialect_insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        return self.conn.execute(dialect_insert(t.users).values(**row).on_conflict_do_nothing(
            index_elements=["shop_id", "username"]).returning(t.users.c.id)).first() is not None

    def users_named(self, username: str) -> list[dict[str, Any]]:
        u = t.users.c
        rows = self.conn.execute(select(t.users).where(u.username == username).order_by(u.created_at))
        return [dict(r._mapping) for r in rows]

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return None if row is None else dict(row._mapping)

    def list_users(self, shop_id: str) -> list[dict[str, Any]]:
        u = t.users.c
        rows = self.conn.execute(select(t.users).where(u.shop_id == shop_id).order_by(u.username))
        return [dict(r._mapping) for r in rows]

    def buyer_order_ids(self, shop_id: str, buyer_id: str, limit: int) -> list[str]:
        o = t.orders.c
        rows = self.conn.execute(select(o.id).where(o.shop_id == shop_id, o.buyer_id == buyer_id)
                                 .order_by(o.paid_at.desc()).limit(limit))
        return [r.id for r in rows]

    # --- the desk's sessions ------------------------------------------------------------
    def get_session(self, key: str, lock: bool = False
                    ) -> tuple[dict[str, Any], datetime] | None:
        s = t.console_sessions.c
        stmt = select(s.state, s.seen_at).where(s.key == key)
        # (SQLite: the unit of work's BEGIN IMMEDIATE already holds the write lock)
        row = self.conn.execute(stmt.with_for_update() if lock else stmt).first()
        return None if row is None else (dict(row.state), row.seen_at)

    def add_session(self, key: str, state: Mapping[str, Any], now: datetime) -> None:
        self.conn.execute(insert(t.console_sessions).values(
            key=key, state=dict(state), created_at=now, seen_at=now))

    def update_session(self, key: str, state: Mapping[str, Any], now: datetime) -> None:
        s = t.console_sessions.c
        self.conn.execute(update(t.console_sessions).where(s.key == key)
                          .values(state=dict(state), seen_at=now))

    def touch_session(self, key: str, now: datetime) -> None:
        s = t.console_sessions.c
        self.conn.execute(update(t.console_sessions).where(s.key == key).values(seen_at=now))

    def drop_session(self, key: str) -> None:
        self.conn.execute(delete(t.console_sessions).where(t.console_sessions.c.key == key))

    def drop_sessions_seen_before(self, before: datetime) -> None:
        self.conn.execute(delete(t.console_sessions)
                          .where(t.console_sessions.c.seen_at < before))

    def hit_attempt(self, key: str, now: datetime, since: datetime) -> int:
        """One more sign-in attempt for `key`; returns how many its window holds with this
        one. A single upsert that increments and reads back (the row's lock on PostgreSQL,
        the write lock on SQLite), so attempts at the same moment each see their own count.
        A window that began at `since` or before starts again at 1, now."""
        a = t.signin_attempts.c
        dialect_insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        over = a.window_start <= since
        values = dialect_insert(t.signin_attempts).values(key=key, count=1, window_start=now)
        stmt = values.on_conflict_do_update(index_elements=["key"], set_={
            "count": case((over, 1), else_=a.count + 1),
            "window_start": case((over, now), else_=a.window_start)}).returning(a.count)
        return int(self.conn.execute(stmt).scalar_one())

    def undo_attempt(self, key: str, since: datetime) -> None:
        """Take back one attempt of `key`'s current window (one that was not a failure)."""
        a = t.signin_attempts.c
        self.conn.execute(update(t.signin_attempts)
                          .where(a.key == key, a.count > 0, a.window_start > since)
                          .values(count=a.count - 1))

    def drop_attempts_before(self, since: datetime) -> None:
        self.conn.execute(delete(t.signin_attempts)
                          .where(t.signin_attempts.c.window_start <= since))

    def shared_secret(self, name: str, candidate: str, now: datetime) -> str:
        dialect_insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        self.conn.execute(dialect_insert(t.app_secrets)
                          .values(name=name, value=candidate, created_at=now)
                          .on_conflict_do_nothing(index_elements=["name"]))
        a = t.app_secrets.c
        return str(self.conn.execute(select(a.value).where(a.name == name)).scalar_one())


def directory_for(uow: Any) -> SqlDirectory:
    """The directory on the unit of work's own connection (one transaction for both)."""
    return SqlDirectory(uow.conn)
