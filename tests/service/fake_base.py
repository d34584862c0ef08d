"""What the fake repositories share: the data of the fake database and a handle on the
unit of work whose transaction (a copy of the data) they read and write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aftersales.domain.case import Case
from aftersales.domain.events import Event
from aftersales.domain.orders import Order
from aftersales.domain.upstream import UpstreamClaim
from aftersales.service.connection_ports import ConnectionRecord, Credentials, OutboxRow
from aftersales.service.ports import Difference, LedgerEntry, ShopRecord, TokenRecord

if TYPE_CHECKING:
    from service.fakes import FakeUnitOfWork

Row = dict[str, Any]


@dataclass
class Data:
    """Everything the fake database holds (copied whole for a transaction)."""

    shops: dict[str, ShopRecord] = field(default_factory=dict)
    tokens: dict[str, tuple[TokenRecord, str]] = field(default_factory=dict)  # id -> (_, hash)
    orders: dict[str, Order] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)  # stored copies, events not on them
    events: dict[str, list[Event]] = field(default_factory=dict)  # by case id
    deadlines: dict[str, Row] = field(default_factory=dict)
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    differences: dict[tuple[str, str], Difference] = field(default_factory=dict)
    claims: dict[str, UpstreamClaim] = field(default_factory=dict)
    evidence: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    parcels: dict[str, Row] = field(default_factory=dict)
    tasks: list[Row] = field(default_factory=list)
    notifications: dict[str, Row] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], Row] = field(default_factory=dict)
    connections: dict[str, tuple[ConnectionRecord, Credentials]] = field(default_factory=dict)
    outbox: dict[str, OutboxRow] = field(default_factory=dict)


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def data(self) -> Data:
        return self.uow.data
