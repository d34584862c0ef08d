"""The shops repository (shops, their API tokens, the sandbox clock) and the orders
repository (orders with their lines, the order bundle read and the order lock)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from aftersales.adapters.db import tables as t
from aftersales.adapters.db import turns
from aftersales.adapters.db.hints import unindexed
from aftersales.adapters.db.mapping import (
    cases_from_json,
    order_bundle,
    order_from_rows,
    order_rows,
    shop_from_row,
)
from aftersales.adapters.db.repo import SqlRepository
from aftersales.adapters.db.statements import (
    LOCK_ORDER_PG,
    SELECT_LINES,
    SELECT_ORDER_BUNDLE_PG,
    SELECT_ORDER_BUNDLE_SQLITE,
    SELECT_ORDER_CASES,
    SELECT_ORDER_WITH_LINES,
    SELECT_SHOP,
    LineRow,
)
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.orders import Order
from aftersales.domain.vocabulary import Role
from aftersales.service.ports import LedgerEntry, ShopRecord, TokenRecord


class SqlShops(SqlRepository):
    def add_shop(self, record: ShopRecord, now: datetime) -> None:
        s = record.shop
        self.conn.execute(insert(t.shops).values(
            id=s.id, name=s.name, platform=s.platform, timezone=s.timezone, sandbox=s.sandbox,
            clock_at=record.clock_at, policy=record.policy.to_dict(), created_at=now))

    def get_shop(self, shop_id: str) -> ShopRecord | None:
        row = self.conn.execute(SELECT_SHOP, {"k_id": shop_id}).first()
        return None if row is None else shop_from_row(row)

    def list_shops(self) -> list[ShopRecord]:
        rows = self.conn.execute(select(t.shops).order_by(t.shops.c.created_at)).all()
        return [shop_from_row(r) for r in rows]

    def move_clock(self, shop_id: str, was: datetime | None, at: datetime) -> bool:
        """Set the sandbox clock to `at` only if it still reads `was`: False when another
        advance moved it meanwhile (a compare-and-set; the clock never goes back)."""
        c = t.shops.c
        still = c.clock_at.is_(None) if was is None else c.clock_at == was
        return self.conn.execute(update(t.shops).where(c.id == shop_id, still)
                                 .values(clock_at=at)).rowcount == 1

    def set_policy(self, shop_id: str, policy: MerchantPolicy) -> None:
        self.conn.execute(update(t.shops).where(t.shops.c.id == shop_id)
                          .values(policy=policy.to_dict()))

    def add_token(self, token_id: str, shop_id: str, role: str, buyer_id: str | None,
                  token_hash: str, label: str | None, now: datetime,
                  expires_at: datetime | None = None) -> None:
        self.conn.execute(insert(t.api_tokens).values(
            id=token_id, shop_id=shop_id, role=role, buyer_id=buyer_id, token_hash=token_hash,
            label=label, created_at=now, expires_at=expires_at))

    def _tokens(self, *where: Any) -> list[TokenRecord]:
        tok = t.api_tokens.c
        rows = self.conn.execute(select(
            tok.id, tok.shop_id, tok.role, tok.buyer_id, tok.label, tok.created_at,
            tok.expires_at, tok.revoked_at).where(*where).order_by(tok.created_at, tok.id))
        return [TokenRecord(r.id, r.shop_id, Role(r.role), r.buyer_id, r.label, r.created_at,
                            r.expires_at, r.revoked_at) for r in rows]

    def find_token(self, token_hash: str) -> TokenRecord | None:
        """The token with this hash, revoked or expired ones too (the caller says which)."""
        found = self._tokens(t.api_tokens.c.token_hash == token_hash)
        return found[0] if found else None

    def get_token(self, token_id: str) -> TokenRecord | None:
        found = self._tokens(t.api_tokens.c.id == token_id)
        return found[0] if found else None

    def list_tokens(self, shop_id: str) -> list[TokenRecord]:
        return self._tokens(t.api_tokens.c.shop_id == shop_id)

    def revoke_token(self, token_id: str, now: datetime) -> None:
        """Revoked at `now`, unless it was already (the first revocation's time stays)."""
        tok = t.api_tokens.c
        self.conn.execute(update(t.api_tokens).where(tok.id == token_id, tok.revoked_at.is_(None))
                          .values(revoked_at=now))


class SqlOrders(SqlRepository):
    def get_order_bundle(self, shop_id: str, order_id: str, *, lock: bool = False
                         ) -> tuple[ShopRecord, Order, list[LedgerEntry]] | None:
        """The shop, the order with its lines and the order's ledger, in one query.

        `lock`: the order held first until the transaction ends (`lock_order`), in the
        PostgreSQL; the read after it sees what the lock waited for."""
        keys = {"k_shop": shop_id, "k_id": order_id}
        if lock and self.pg:
            self.conn.execute(LOCK_ORDER_PG, keys)
            # the order's cases too: an opening counts them next (cases_on_order)
            cases = self.conn.execute(SELECT_ORDER_CASES[True],
                                      {"k_shop": shop_id, "k_order": order_id}).one()
            self.seen.cases[shop_id, order_id] = cases_from_json(cases.cases)
        row = self.conn.execute(SELECT_ORDER_BUNDLE_PG if self.pg
                                else SELECT_ORDER_BUNDLE_SQLITE, keys).first()
        return None if row is None else order_bundle(row)

    def lock_order(self, shop_id: str, order_id: str) -> list[LedgerEntry] | None:
        return turns.lock_order(self.conn, shop_id, order_id)

    def add_order(self, order: Order, now: datetime) -> bool:
        """False, writing nothing, when the shop has the platform order already — also when
        another transaction inserted it at the same moment (the insert waits for that one
        and yields to it: ON CONFLICT DO NOTHING), where a look-up first would have found
        nothing and the unique key would have failed the request."""
        head, lines = order_rows(order, now)
        dialect_insert = pg_insert if self.pg else sqlite_insert
        added = self.conn.execute(dialect_insert(t.orders).values(head).on_conflict_do_nothing(
            index_elements=["shop_id", "platform_order_id"]).returning(t.orders.c.id)).first()
        if added is None:
            return False
        self.conn.execute(insert(t.order_lines), lines)
        return True

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
        lines = [LineRow(r) for r in rows]
        return order_from_rows(head, lines)

    def find_order(self, shop_id: str, platform_order_id: str) -> Order | None:
        return self._order(and_(t.orders.c.shop_id == shop_id,
                                t.orders.c.platform_order_id == platform_order_id))

    def orders_by_id(self, shop_id: str, order_ids: Sequence[str]) -> dict[str, Order]:
        """Several orders in two queries (the queue shows a page of cases at once)."""
        if not order_ids:
            return {}
        o, ln = t.orders.c, t.order_lines.c
        heads = self.conn.execute(select(t.orders).where(  # by id, not the shop's index
            unindexed(o.shop_id) == shop_id, o.id.in_(list(set(order_ids))))).all()
        lines = self.conn.execute(select(t.order_lines).where(
            unindexed(ln.shop_id) == shop_id, ln.order_id.in_([h.id for h in heads]))).all()
        grouped: dict[str, list[Any]] = {}
        for line in lines:
            grouped.setdefault(line.order_id, []).append(line)
        return {h.id: order_from_rows(h, grouped.get(h.id, [])) for h in heads}

    def update_order_dates(self, order: Order) -> None:
        self.conn.execute(update(t.orders).where(
            t.orders.c.shop_id == order.shop_id, t.orders.c.id == order.id).values(
            shipped_at=order.shipped_at, delivered_at=order.delivered_at,
            completed_at=order.completed_at))
