"""What the SQL repositories share: the unit of work's one connection, and what it read.

Each repository (store.py's cases, shops_orders.py, records.py, claims.py) is a small class
on the same connection, so one command's statements are one transaction. `Seen` is the
transaction's memory of rows it read, shared by the cases and orders repositories: saving a
case writes only what changed; an opening that locked the order counts its cases unread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from aftersales.domain.case import Case
from aftersales.domain.events import Event


@dataclass
class Seen:
    # The pending deadline each loaded case had, as (key, due_at): saving a case whose
    # deadline did not change then costs no deadline statement at all.
    deadlines: dict[str, tuple[str, datetime] | None] = field(default_factory=dict)
    # The column values each loaded case row had: saving writes only what changed.
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    added: set[str] = field(default_factory=set)  # cases this transaction inserted
    # The stored event history of cases read, kept up to date as events are appended: the
    # answer after an action needs no second read of the events. By (shop, case).
    events: dict[tuple[str, str], list[Event]] = field(default_factory=dict)
    # An order's cases, read with its lock (get_order_bundle), until a case is written.
    cases: dict[tuple[str, str], list[Case]] = field(default_factory=dict)


class SqlRepository:
    def __init__(self, conn: Connection, new_id: Callable[[], str], seen: Seen | None = None
                 ) -> None:
        self.conn = conn
        self.new_id = new_id
        self.pg = conn.dialect.name == "postgresql"
        self.seen = Seen() if seen is None else seen
