"""Decisions that take turns: a row or a key held until the transaction ends.

A decision that counts rows no lock of its own covers — an order's other cases and
ledger, a buyer's cases across orders, a platform case not created yet — would, run twice
at once on PostgreSQL (READ COMMITTED), count without the other. These hold what the
count depends on first. SQLite's writer transaction (BEGIN IMMEDIATE) already serialises
every writer: nothing to do there.
"""

from __future__ import annotations

from sqlalchemy import Connection

from aftersales.adapters.db.mapping import ledger_from_json
from aftersales.adapters.db.statements import HOLD_PG, LOCK_ORDER_PG, SELECT_ORDER_LEDGER
from aftersales.service.ports import LedgerEntry


def lock_order(conn: Connection, shop_id: str, order_id: str) -> list[LedgerEntry] | None:
    """Hold the order until this transaction ends, and answer its ledger as of the lock
    where what this transaction read of the order before (its ledger, its cases) may be
    older than the lock (PostgreSQL); None where it cannot (SQLite).

    Openings and refund plans count the order's other cases and ledger (two cases on
    one line, two refunds of the same money). The statements after the lock see what the
    other transaction committed (a new snapshot each); what was read before must be
    read again."""
    if conn.dialect.name != "postgresql":
        return None
    keys = {"k_shop": shop_id, "k_id": order_id}
    conn.execute(LOCK_ORDER_PG, keys)
    row = conn.execute(SELECT_ORDER_LEDGER[True],
                            {"k_shop": shop_id, "k_order": order_id}).one()
    return ledger_from_json(row.refunds)


def hold(conn: Connection, *key: str) -> None:
    """Until this transaction ends, another transaction holding the same key waits
    here (a buyer's cases across orders, a platform case not created yet): a
    transaction-scoped advisory lock on the key's hash (two keys with one hash only
    wait for each other)."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(HOLD_PG, {"k": "\x1f".join(key).replace("\x00", "")})
