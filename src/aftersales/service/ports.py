"""What the service layer needs from the outside world, as protocols.

Adapters (adapters/db, adapters/payments, …) fill these; the service never imports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aftersales.domain.case import Case
from aftersales.domain.deadlines import Deadline
from aftersales.domain.events import Actor, Event
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.money import Money
from aftersales.domain.orders import Order, Shop
from aftersales.domain.upstream import UpstreamClaim
from aftersales.domain.vocabulary import Role

if TYPE_CHECKING:
    from aftersales.service.connection_ports import ConnectionRepository, OutboxRepository


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


class Store(Protocol):
    # shops and tokens
    def add_shop(self, record: ShopRecord, now: datetime) -> None: ...
    def get_shop(self, shop_id: str) -> ShopRecord | None: ...
    def list_shops(self) -> list[ShopRecord]: ...
    def move_clock(self, shop_id: str, was: datetime | None, at: datetime) -> bool: ...
    def hold(self, *key: str) -> None: ...
    def set_policy(self, shop_id: str, policy: MerchantPolicy) -> None: ...
    def add_token(self, token_id: str, shop_id: str, role: str, buyer_id: str | None,
                  token_hash: str, label: str | None, now: datetime,
                  expires_at: datetime | None = None) -> None: ...
    def find_token(self, token_hash: str) -> TokenRecord | None: ...
    def get_token(self, token_id: str) -> TokenRecord | None: ...
    def list_tokens(self, shop_id: str) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: str, now: datetime) -> None: ...
    # orders
    def add_order(self, order: Order, now: datetime) -> bool: ...
    def get_order(self, shop_id: str, order_id: str) -> Order | None: ...
    def get_order_bundle(self, shop_id: str, order_id: str, *, lock: bool = False
                         ) -> tuple[ShopRecord, Order, list[LedgerEntry]] | None: ...
    def lock_order(self, shop_id: str, order_id: str) -> list[LedgerEntry] | None: ...
    def find_order(self, shop_id: str, platform_order_id: str) -> Order | None: ...
    def update_order_dates(self, order: Order) -> None: ...
    def orders_by_id(self, shop_id: str, order_ids: Sequence[str]) -> dict[str, Order]: ...
    # cases and events
    def add_case(self, case: Case) -> None: ...
    def get_case(self, shop_id: str, case_id: str, *, lock: bool = False) -> Case | None: ...
    def get_case_bundle(self, shop_id: str, case_id: str, *, lock: bool = False
                        ) -> CaseBundle | None: ...
    def find_case_by_platform_id(self, shop_id: str, platform_case_id: str, *,
                                 lock: bool = False) -> Case | None: ...
    def save_case(self, case: Case, deadline: Deadline | None, now: datetime) -> None: ...
    def events(self, shop_id: str, case_id: str) -> list[Event]: ...
    def cases_on_order(self, shop_id: str, order_id: str) -> list[Case]: ...
    def cancelled_by_buyer(self, shop_id: str, case_ids: Sequence[str]) -> set[str]: ...
    def buyer_case_count(self, shop_id: str, buyer_id: str) -> int: ...
    def list_cases(self, shop_id: str, flt: CaseFilter) -> tuple[list[Case], str | None]: ...
    def find_case_by_waybill(self, shop_id: str, waybill: str) -> Case | None: ...
    # deadlines
    def claim_due(self, now: datetime, limit: int, shop_id: str | None = None, *,
                  live_only: bool = False) -> list[DueDeadline]: ...
    def settle_deadline(self, deadline_id: str, status: str, now: datetime) -> None: ...
    def claim_near_due(self, until: datetime, limit: int, *, live_only: bool = False,
                       shop_id: str | None = None) -> list[DueDeadline]: ...
    def mark_warned(self, deadline_ids: Sequence[str], now: datetime) -> None: ...
    def next_due(self, shop_id: str, until: datetime) -> datetime | None: ...
    # ledger
    def refunds_for_order(self, shop_id: str, order_id: str) -> list[LedgerEntry]: ...
    def refunds(self, shop_id: str, case_id: str | None = None,
                order_id: str | None = None) -> list[LedgerEntry]: ...
    def add_refund(self, entry: LedgerEntry) -> bool: ...
    def settle_refund(self, shop_id: str, entry_id: str, status: str, reference: str | None,
                      now: datetime) -> None: ...
    def pending_refunds(self, limit: int) -> list[LedgerEntry]: ...
    def add_difference(self, diff: Difference) -> bool: ...
    def differences(self, shop_id: str, start: datetime | None = None,
                    end: datetime | None = None) -> list[Difference]: ...
    # upstream claims (PLATFORMS.md / 1688 dropshipping)
    def add_claim(self, claim: UpstreamClaim) -> None: ...
    def get_claim(self, shop_id: str, claim_id: str) -> UpstreamClaim | None: ...
    def claims(self, shop_id: str, case_id: str | None = None,
               status: str | None = None) -> list[UpstreamClaim]: ...
    def save_claim(self, claim: UpstreamClaim) -> None: ...
    # evidence, messages, parcels, tasks, notifications
    def add_evidence(self, shop_id: str, case_id: str, row: Mapping[str, Any]) -> None: ...
    def evidence(self, shop_id: str, case_id: str) -> list[dict[str, Any]]: ...
    def evidence_usage(self, shop_id: str, *, case_id: str | None = None,
                       buyer_id: str | None = None,
                       uploaded_by: str | None = None) -> tuple[int, int]: ...
    def add_message(self, shop_id: str, case_id: str, row: Mapping[str, Any]) -> None: ...
    def messages(self, shop_id: str, case_id: str) -> list[dict[str, Any]]: ...
    def add_parcel(self, shop_id: str, row: Mapping[str, Any]) -> None: ...
    def parcels(self, shop_id: str, status: str | None = None) -> list[dict[str, Any]]: ...
    def attach_parcel(self, shop_id: str, parcel_id: str, case_id: str) -> bool: ...
    def add_task(self, shop_id: str, row: Mapping[str, Any]) -> None: ...
    def add_notification(self, shop_id: str, row: Mapping[str, Any]) -> None: ...
    def claim_notifications(self, limit: int) -> list[dict[str, Any]]: ...
    def mark_notification(self, notification_id: str, sent_at: datetime | None) -> None: ...
    def report_data(self, shop_id: str, start: datetime, end: datetime) -> dict[str, Any]: ...
    # idempotency
    def get_idempotency(self, shop_id: str, key: str) -> tuple[str, int | None, str | None] | None: ...
    def claim_idempotency(self, shop_id: str, key: str, request_hash: str, now: datetime, *,
                          lease_before: datetime | None = None,
                          expired_before: datetime | None = None) -> bool: ...
    def take_over_idempotency(self, shop_id: str, key: str, request_hash: str, now: datetime, *,
                              lease_before: datetime, expired_before: datetime) -> bool: ...
    def finish_idempotency(self, shop_id: str, key: str, status: int, response: str,
                           claimed_at: datetime | None = None) -> bool: ...
    def release_idempotency(self, shop_id: str, key: str,
                            claimed_at: datetime | None = None) -> None: ...
    def purge_idempotency(self, created_before: datetime) -> int: ...


class UnitOfWork(Protocol):
    """One transaction per command; leaving without commit() rolls back."""

    store: Store
    outbox: OutboxRepository  # issue 21: write-backs, in the same transaction as the case

    @property
    def connections(self) -> ConnectionRepository: ...  # credentials need the secret key

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def savepoint(self) -> AbstractContextManager[None]: ...


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

