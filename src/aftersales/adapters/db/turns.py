"""Decisions that take turns: a row or a key held until the transaction ends.

A decision that counts rows no lock of its own covers — an order's other cases and
ledger, a buyer's cases across orders, a platform case not created yet — would, run twice
at once on PostgreSQL (READ COMMITTED), count without the other. These hold what the
count depends on first. SQLite's writer transaction (BEGIN IMMEDIATE) already serialises
every writer: nothing to do there.
"""

from __future__ import annotations

from aftersales.adapters.db.attempts import AttemptMixin
from aftersales.adapters.db.statements import HOLD_PG, LOCK_ORDER_PG, raw_read


class TurnsMixin(AttemptMixin):  # (an optimistic store becomes a transaction first)
    pg: bool

    def lock_order(self, shop_id: str, order_id: str) -> bool:
        """Hold the order until this transaction ends. True when what this transaction
        read of the order before (its ledger, its cases) may be older than the lock.

        Openings and refund plans count the order's other cases and ledger (two cases on
        one line, two refunds of the same money). The statements after the lock see what the
        other transaction committed (a new snapshot each); what was read before must be
        read again."""
        if not self.pg:
            return False
        self.before_write()  # (an optimistic store: from here on a transaction)
        raw_read(self.conn, LOCK_ORDER_PG, {"k_shop": shop_id, "k_id": order_id})
        return True

    def hold(self, *key: str) -> None:
        """Until this transaction ends, another transaction holding the same key waits
        here (a buyer's cases across orders, a platform case not created yet): a
        transaction-scoped advisory lock on the key's hash (two keys with one hash only
        wait for each other)."""
        if not self.pg:
            return
        self.before_write()  # (an optimistic store: from here on a transaction)
        self.conn.execute(HOLD_PG, {"k": "\x1f".join(key).replace("\x00", "")})
