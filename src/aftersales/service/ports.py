"""What the service layer needs from the outside world, as protocols.

Adapters (adapters/db, adapters/payments, …) fill these; the service never imports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from aftersales.domain.case import Case
from aftersales.domain.events import Actor
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.money import Money
from aftersales.domain.orders import Order, Shop
from aftersales.domain.vocabulary import Role


@dataclass(frozen=True, slots=True)
class ShopRecord:
    shop: Shop
    policy: MerchantPolicy
    clock_at: datetime | None = None  # a sandbox shop's own "now"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is kept of an API token (never the token itself, nor here its hash)."""

    id: str
    shop_id: str
    role: Role
    buyer_id: str | None
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: one shop, one role; a buyer token is bound to one buyer id."""

    shop_id: str
    role: Role
    buyer_id: str | None = None
    actor_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.role, self.actor_id)


@dataclass(frozen=True, slots=True)
class DueDeadline:
    id: str
    shop_id: str
    case_id: str
    key: str
    due_at: datetime
    outcome: str


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: str
    shop_id: str
    case_id: str
    order_id: str
    round: int
    kind: str
    amount: Money
    method: str
    status: str  # pending | succeeded | failed
    created_at: datetime
    reference: str | None = None
    settled_at: datetime | None = None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Difference:
    """A platform-reported refund that was not booked as reported (service/reconcile.py):
    `booked` is what the ledger took of `reported`; the rest is finance's to reconcile."""

    id: str
    shop_id: str
    case_id: str
    order_id: str
    reference: str  # the platform's refund reference ("<platform>:<platform case id>")
    reported: Money
    booked: Money
    at: datetime

    @property
    def difference(self) -> Money:
        return self.reported - self.booked


@dataclass(frozen=True, slots=True)
class CaseBundle:
    """What an action on a case reads: the case, its shop, its order, the order's ledger."""

    case: Case
    shop: ShopRecord
    order: Order
    ledger: list[LedgerEntry]


@dataclass(frozen=True, slots=True)
class CaseFilter:
    state: str | None = None
    states: Sequence[str] | None = None
    platform: str | None = None
    type: str | None = None
    reason: str | None = None
    due_before: datetime | None = None
    overdue: bool | None = None
    q: str | None = None
    buyer_id: str | None = None
    open_only: bool = False
    limit: int = 50
    cursor: str | None = None


class PaymentGateway(Protocol):
    """Executes one ledger entry; returns (status, reference). Real providers go here.

    It is called inside the action's unit of work, on the thread that runs the command."""

    def execute(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]: ...

    def confirm(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        """The provider's word now on an entry it left pending: (status, reference),
        "pending" while it does not know yet (settlement.settle_pending asks)."""
        ...


class BlobStore(Protocol):
    """Content-addressed file storage that also tells what the bytes really are.

    put and get raise StorageUnavailable when the storage cannot be used now (put then
    leaves nothing behind); get raises NotFound `evidence_file_missing` for a file that is
    gone from storage that otherwise works."""

    def put(self, data: bytes) -> str: ...
    def get(self, digest: str) -> bytes: ...
    def sniff(self, data: bytes) -> str | None: ...


class ContentChecker(Protocol):
    """Checks a sniffed file beyond its first bytes (adapters/evidence_checks.py)."""

    def refusal(self, data: bytes, content_type: str) -> str | None:
        """The code to refuse it with (unsafe_pdf, invalid_pdf, invalid_image), or None."""
        ...

    def inline_safe(self, data: bytes, content_type: str) -> bool:
        """Whether a browser may be handed it inline (an image that decodes in bounds)."""
        ...


class Mailer(Protocol):
    """Sends one message; raises OSError (or smtplib.SMTPException) when it cannot."""

    def send(self, recipient: str, subject: str, body: str) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def __call__(self) -> str: ...

