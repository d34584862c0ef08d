"""What the service needs from a live platform connection and from its own storage of them.

One `PlatformConnection` per platform family (adapters/platforms/<family>_client.py) talks
to the platform's open API; the service never sees HTTP, signatures or the platform's
field names, only raw payloads (which the family's inbound adapter parses) and outcomes.
An act the platform's API cannot perform raises `NotSupported`, so the desk and strategies
can be offered only what the platform takes (the capability guard asks `supports`).

Credentials live in `ConnectionRepository` (adapters/db/connections.py), encrypted at rest;
the service handles them as `Credentials` only while it calls the platform and never logs
or returns them (`masked` is what may be shown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from aftersales.domain.errors import InvalidInput
from aftersales.domain.sync import PlatformSnapshot


class NotSupported(InvalidInput):
    """The platform's open API has no way to perform this act; do it in its back office."""

    code = "not_supported"


class PlatformRefused(Exception):
    """The platform answered with an error: its own code and text, kept for the outbox.

    `retry` says whether trying again later can help (rate limit, 5xx, timeout) or the
    platform said no for good (wrong status, bad parameter)."""

    def __init__(self, code: str, message: str, *, retry: bool, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.platform_code = code
        self.platform_message = message
        self.retry = retry
        self.retry_after = retry_after


class PushRefused(Exception):
    """A push whose signature or sender did not verify: answered 401, nothing stored."""


class Act(StrEnum):
    agree_refund = "agree_refund"
    refuse = "refuse"
    agree_return = "agree_return"
    confirm_receipt = "confirm_receipt"
    give_reship_waybill = "give_reship_waybill"
    message_buyer = "message_buyer"
    report_facts = "report_facts"


@dataclass(frozen=True, slots=True)
class Credentials:
    app_key: str
    app_secret: str
    access_token: str | None = None
    refresh_token: str | None = None
    token_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of changed after-sales: raw payloads, and where the next pull starts."""

    payloads: tuple[Mapping[str, Any], ...]
    cursor: str
    has_more: bool
    newest_change: datetime | None = None  # the latest platform change time on the page


@dataclass(frozen=True, slots=True)
class Evidence:
    url: str
    kind: str = "image"
    description: str = ""


@dataclass(frozen=True, slots=True)
class OutboundAct:
    """One write-back: what to do on which platform case, and the key that makes it once."""

    act: Act
    platform_case_id: str
    idempotency_key: str
    version: int | None = None  # the platform's update_time we decided on, if known
    reason_code: str | None = None
    text: str | None = None
    evidence: tuple[Evidence, ...] = ()
    address_id: str | None = None
    carrier: str | None = None
    waybill: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


class PlatformConnection(Protocol):
    platform: str

    def supports(self, act: Act) -> bool: ...
    def close(self) -> None: ...

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        """A pulled item or a detail, read by the family's inbound adapter."""
        ...

    def pull(self, creds: Credentials, cursor: str | None, now: datetime) -> Page:
        """Changed after-sales since `cursor` (None: the platform's first window)."""
        ...

    def detail(self, creds: Credentials, platform_case_id: str) -> Mapping[str, Any]: ...

    def verify_push(self, creds: Credentials, body: bytes,
                    headers: Mapping[str, str]) -> tuple[str, ...]:
        """The platform case ids a verified push names; PushRefused when it does not verify."""
        ...

    def refresh(self, creds: Credentials, now: datetime) -> Credentials: ...

    def perform(self, creds: Credentials, act: OutboundAct) -> Mapping[str, Any]:
        """Do the act on the platform; NotSupported or PlatformRefused when it cannot."""
        ...


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    shop_id: str
    platform: str
    app_key: str
    base_url: str
    cursor: str | None
    last_pull_at: datetime | None
    last_error: str | None
    lag_seconds: float | None
    secret_masked: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    shop_id: str
    case_id: str
    act: str
    payload: Mapping[str, Any]
    idempotency_key: str
    status: str  # pending | sent | confirmed | failed
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class ConnectionRepository(Protocol):
    def save(self, shop_id: str, platform: str, base_url: str, creds: Credentials,
             now: datetime) -> None: ...
    def get(self, shop_id: str) -> ConnectionRecord | None: ...
    def platform_of(self, shop_id: str) -> str | None: ...
    def credentials(self, shop_id: str) -> Credentials | None: ...
    def store_tokens(self, shop_id: str, creds: Credentials, now: datetime) -> None: ...
    def record_pull(self, shop_id: str, cursor: str, now: datetime, lag_seconds: float | None,
                    error: str | None) -> None: ...
    def connected(self) -> Sequence[ConnectionRecord]: ...


class OutboxRepository(Protocol):
    def add(self, shop_id: str, case_id: str, act: OutboundAct, now: datetime) -> str: ...
    def due(self, now: datetime, limit: int) -> Sequence[OutboxRow]: ...
    def claim(self, row: OutboxRow, now: datetime, lease_until: datetime) -> bool: ...
    def mark(self, row_id: str, status: str, now: datetime, *, error: str | None = None,
             next_attempt_at: datetime | None = None) -> None: ...
    def list(self, shop_id: str, status: str | None = None) -> Sequence[OutboxRow]: ...
    def retry(self, shop_id: str, row_id: str, now: datetime) -> bool: ...
