"""SQL side of the console's Directory: users (staff sign-in) and a buyer's orders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select

from aftersales.adapters.db import tables as t


class SqlDirectory:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_user(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(insert(t.users).values(**row))

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


def directory_for(uow: Any) -> SqlDirectory:
    """The directory on the unit of work's own connection (one transaction for both)."""
    return SqlDirectory(uow.conn)
