"""The unit of work: one connection, one transaction per command, committed or rolled back.

Every command runs here, the same way on both databases: it locks what it decides on
(store.py and turns.py say in which order) through its repositories, all on its one
connection,, writes, and commits once. SQLite's writers
take the database lock at BEGIN IMMEDIATE (engine.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from aftersales.adapters.db import turns
from aftersales.adapters.db.claims import SqlDeadlines
from aftersales.adapters.db.connections import SqlConnections, SqlOutbox
from aftersales.adapters.db.records import (
    SqlClaims,
    SqlEvidence,
    SqlIdempotency,
    SqlLedger,
    SqlRecords,
)
from aftersales.adapters.db.repo import Seen
from aftersales.adapters.db.shops_orders import SqlOrders, SqlShops
from aftersales.adapters.db.store import SqlCases
from aftersales.adapters.secrets import SecretBox
from aftersales.service.connection_ports import OutboxRepository
from aftersales.service.repositories import (
    CaseRepository,
    ClaimRepository,
    DeadlineRepository,
    EvidenceRepository,
    IdempotencyRepository,
    LedgerRepository,
    OrderRepository,
    RecordRepository,
    ShopRepository,
    UnitOfWork,
)


class SqlUnitOfWork:
    # The protocols (service/repositories.py): mypy checks each SQL class against its own.
    shops: ShopRepository
    orders: OrderRepository
    cases: CaseRepository
    deadlines: DeadlineRepository
    ledger: LedgerRepository
    claims: ClaimRepository
    evidence: EvidenceRepository
    records: RecordRepository
    idempotency: IdempotencyRepository
    outbox: OutboxRepository  # issue 21: write-backs, in the same transaction as the case

    def __init__(self, engine: Engine, new_id: Callable[[], str],
                 secrets: Callable[[], SecretBox] | None = None) -> None:
        self.engine = engine
        self.new_id = new_id
        self.secrets = secrets  # asked only when credentials are read or written
        self.conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self.conn = self.engine.connect()
        self.conn.begin()
        conn, new_id, seen = self.conn, self.new_id, Seen()
        self.shops = SqlShops(conn, new_id)
        self.orders = SqlOrders(conn, new_id, seen)
        self.cases = SqlCases(conn, new_id, seen)
        self.deadlines = SqlDeadlines(conn, new_id)
        self.ledger = SqlLedger(conn, new_id)
        self.claims = SqlClaims(conn, new_id)
        self.evidence = SqlEvidence(conn, new_id)
        self.records = SqlRecords(conn, new_id)
        self.idempotency = SqlIdempotency(conn, new_id)
        self.outbox = SqlOutbox(conn, new_id)
        return self

    @property
    def connections(self) -> SqlConnections:
        assert self.conn is not None
        return SqlConnections(self.conn, self.secrets or _no_key)

    def __exit__(self, *exc: Any) -> None:
        assert self.conn is not None
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            self.conn.close()
            self.conn = None

    def commit(self) -> None:
        assert self.conn is not None
        self.conn.commit()

    def rollback(self) -> None:
        assert self.conn is not None
        self.conn.rollback()

    def hold(self, *key: str) -> None:
        assert self.conn is not None
        turns.hold(self.conn, *key)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        assert self.conn is not None
        with self.conn.begin_nested():
            yield


def _conforms(uow: SqlUnitOfWork) -> UnitOfWork:
    return uow  # mypy: the SQL unit of work is the service's UnitOfWork


def _no_key() -> SecretBox:
    raise RuntimeError("this unit of work was made without a secret key")
