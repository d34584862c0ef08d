"""The schema. Every table carries `shop_id` and every query filters on it, so the schema
can be distributed by shop (Citus) without a rewrite; ids are UUIDv7 strings made by the
application (time-ordered, not guessable).

Core tables, not ORM classes: the domain has its own dataclasses, and mapping rows by hand
avoids ORM object churn on the hot path (see bench/).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no offset) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

ID = String(36)
TS = UtcDateTime()


def _id() -> Column[str]:
    return Column("id", ID, primary_key=True)


def _shop() -> Column[str]:
    return Column("shop_id", ID, ForeignKey("shops.id"), nullable=False)


shops = Table(
    "shops", metadata, _id(),
    Column("name", String(200), nullable=False),
    Column("platform", String(40), nullable=False),
    Column("timezone", String(64), nullable=False, server_default="Asia/Shanghai"),
    Column("sandbox", Boolean, nullable=False, server_default=text("false")),
    Column("clock_at", TS),
    Column("policy", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata, _id(), _shop(),
    Column("role", String(20), nullable=False),
    Column("buyer_id", String(120)),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(200)),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("expires_at", TS),
)

orders = Table(
    "orders", metadata, _id(), _shop(),
    Column("platform_order_id", String(120), nullable=False),
    Column("buyer_id", String(120), nullable=False),
    Column("paid_at", TS, nullable=False),
    Column("shipped_at", TS),
    Column("delivered_at", TS),
    Column("completed_at", TS),
    Column("payment_method", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("freight", BigInteger, nullable=False),
    Column("free_shipping", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("shop_id", "platform_order_id"),
    Index(None, "shop_id", "buyer_id"),
)

order_lines = Table(
    "order_lines", metadata, _id(), _shop(),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("sku", String(120), nullable=False),
    Column("name", String(300), nullable=False),
    Column("link", String(1000)),
    Column("unit_price", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("paid_amount", BigInteger, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("category", String(60)),
    Column("no_reason_excluded", Boolean, nullable=False),
    Column("gifts", JSON, nullable=False),
    Column("accessories", JSON, nullable=False),
    Index(None, "order_id"),
    Index(None, "shop_id", "sku"),
)

cases = Table(
    "cases", metadata, _id(), _shop(),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False),
    Column("buyer_id", String(120), nullable=False),
    Column("type", String(20), nullable=False),
    Column("reason", String(30), nullable=False),
    Column("state", String(30), nullable=False),
    Column("state_entered_at", TS, nullable=False),
    Column("state_seq", Integer, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("requested_amount", BigInteger, nullable=False),
    Column("approved_amount", BigInteger),
    Column("refund_method", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("offer_amount", BigInteger),
    Column("offer_note", Text),
    Column("overdue", Boolean, nullable=False),
    Column("fired", JSON, nullable=False),
    Column("received_at", TS),
    Column("return_carrier", String(60)),
    Column("return_waybill", String(80)),
    Column("return_prepaid", Boolean),
    Column("return_freight", BigInteger),
    Column("reship_carrier", String(60)),
    Column("reship_waybill", String(80)),
    Column("inspection", JSON),
    Column("buyer_refused_delivery", Boolean, nullable=False),
    Column("resubmissions", Integer, nullable=False),
    Column("platform_case_id", String(120)),
    Column("platform_status", String(120)),
    Column("platform_version", BigInteger),
    Column("platform_deadline_at", TS),
    Column("platform_deadline_seq", Integer),
    Column("rating", Integer),
    Column("profile_id", String(40), nullable=False),
    Column("profile_version", String(40), nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("first_response_at", TS),
    Column("resolved_at", TS),
    # The current deadline, cached for the queue's ordering; deadlines rows are the truth.
    Column("deadline_at", TS),
    Column("deadline_outcome", String(30)),
    Column("deadline_source", String(10)),
    Column("deadline_rule", String(80)),
    Column("event_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("shop_id", "platform_case_id"),
    Index(None, "shop_id", "state"),
    Index(None, "shop_id", "deadline_at"),
    Index(None, "shop_id", "return_waybill"),
    Index(None, "shop_id", "order_id"),
    Index(None, "shop_id", "buyer_id"),
)

case_events = Table(
    "case_events", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", TS, nullable=False),
    Column("actor", String(160), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("from_state", String(30)),
    Column("to_state", String(30)),
    Column("explanation", Text, nullable=False),
    Column("reason_code", String(80)),
    Column("data", JSON, nullable=False),
    UniqueConstraint("case_id", "seq"),
    Index(None, "shop_id", "at"),
)

deadlines = Table(
    "deadlines", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("key", String(120), nullable=False),
    Column("due_at", TS, nullable=False),
    Column("outcome", String(30), nullable=False),
    Column("source", String(10), nullable=False),
    Column("rule", String(80), nullable=False),
    Column("status", String(12), nullable=False),  # pending | fired | superseded | stale
    Column("settled_at", TS),
    Column("warned_at", TS),  # when the near-timeout (即将超时) alert was queued
    UniqueConstraint("case_id", "key"),
    Index("ix_deadlines_pending_due", "due_at", postgresql_where=text("status = 'pending'"),
          sqlite_where=text("status = 'pending'")),
    Index(None, "case_id", "status"),
)

evidence = Table(
    "evidence", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("filename", String(255)),
    Column("uploaded_by", String(160), nullable=False),
    Column("at", TS, nullable=False),
    Index(None, "case_id"),
)

messages = Table(
    "messages", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("author", String(160), nullable=False),
    Column("body", Text, nullable=False),
    Column("at", TS, nullable=False),
    Index(None, "case_id", "at"),
)

refunds = Table(
    "refunds", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False),
    Column("round", Integer, nullable=False),  # the case's state_seq when it entered refunding
    Column("kind", String(20), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(20), nullable=False),
    Column("status", String(12), nullable=False),  # pending | succeeded | failed
    Column("reference", String(200)),
    Column("lines", JSON, nullable=False),  # {line_id: amount} for per-line caps
    Column("created_at", TS, nullable=False),
    Column("settled_at", TS),
    # The exactly-once guard: one entry per case, round and kind, whatever retries arrive.
    UniqueConstraint("case_id", "round", "kind"),
    Index(None, "shop_id", "order_id"),
    Index(None, "shop_id", "created_at"),
    Index(None, "status", "created_at"),  # the worker's pending entries (settlement.py)
)

# What a platform reported refunded that did not fit the order (or differed from our own
# refund of the case): kept for finance to reconcile, never booked (service/sync.py).
reconciliation_differences = Table(
    "reconciliation_differences", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("order_id", ID, ForeignKey("orders.id"), nullable=False),
    Column("reference", String(200), nullable=False),  # the platform's refund reference
    Column("reported", BigInteger, nullable=False),
    Column("booked", BigInteger, nullable=False),
    Column("difference", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("at", TS, nullable=False),
    # one row per platform refund of a case, whatever sync replays arrive
    UniqueConstraint("case_id", "reference"),
    Index(None, "shop_id", "at"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("shop_id", ID, ForeignKey("shops.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response", Text),
    Column("created_at", TS, nullable=False),
)

parcels = Table(
    "parcels", metadata, _id(), _shop(),
    Column("carrier", String(60)),
    Column("waybill", String(80), nullable=False),
    Column("case_id", ID, ForeignKey("cases.id")),
    Column("status", String(12), nullable=False),  # matched | unmatched | refused
    Column("scanned_at", TS, nullable=False),
    Column("scanned_by", String(160), nullable=False),
    Column("note", Text),
    Index(None, "shop_id", "waybill"),
)

tasks = Table(
    "tasks", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id")),
    Column("kind", String(40), nullable=False),  # e.g. bad_rating_follow_up
    Column("note", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("done_at", TS),
)

notifications = Table(
    "notifications", metadata, _id(), _shop(),
    Column("case_id", ID),
    Column("channel", String(20), nullable=False),  # email
    Column("recipient", String(300), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_notifications_unsent", "created_at", postgresql_where=text("sent_at IS NULL"),
          sqlite_where=text("sent_at IS NULL")),
)

users = Table(
    "users", metadata, _id(), _shop(),
    Column("username", String(120), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("display_name", String(120)),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("shop_id", "username"),
)

# The desk's sign-in sessions, shared by every server process (`serve --workers N`): the
# key is the SHA-256 of the session id (the cookie's secret part is never stored), the
# state the signed-in accounts, flash messages and page data, as JSON.
console_sessions = Table(
    "console_sessions", metadata,
    Column("key", String(64), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("seen_at", TS, nullable=False),
    Index(None, "seen_at"),
)

# Sign-in attempts per key (a user name's or a client address's SHA-256): one row each,
# incremented and read back in one upsert (the limit holds across processes and parallel
# requests); a row whose window has passed starts again at 1, stale rows are deleted.
signin_attempts = Table(
    "signin_attempts", metadata,
    Column("key", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("window_start", TS, nullable=False),
    Index(None, "window_start"),
)

# Secrets the processes must share and nobody configured, made once by whichever process
# needs one first (the desk's cookie-signing key when AFTERSALES_SECRET_KEY is unset).
app_secrets = Table(
    "app_secrets", metadata,
    Column("name", String(60), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
)

# Upstream claims (PLATFORMS.md / 1688 dropshipping): the merchant's refund claims on its
# suppliers, one row per claim, and what was recovered on each.
upstream_claims = Table(
    "upstream_claims", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("supplier", String(200), nullable=False),
    Column("supplier_order_id", String(120), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("recovered", BigInteger, nullable=False),
    Column("supplier_paid", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("status", String(24), nullable=False),
    Column("description", Text, nullable=False),
    Column("evidence_count", Integer, nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("settled_at", TS),
    Index(None, "shop_id", "status"),
    Index(None, "case_id"),
)

# A shop's live platform connection (issue 21): the app key in clear (it is no secret and
# names the app in pushes), everything else of the credentials Fernet-encrypted
# (adapters/secrets.py), the pull cursor and how the last pull went.
connections = Table(
    "connections", metadata,
    Column("shop_id", ID, ForeignKey("shops.id"), primary_key=True),
    Column("platform", String(40), nullable=False),
    Column("base_url", String(500), nullable=False),
    Column("app_key", String(200), nullable=False),
    Column("secret", Text, nullable=False),  # encrypted app secret
    Column("tokens", Text),  # encrypted JSON {access_token, refresh_token, expires_at}
    Column("cursor", String(200)),
    Column("last_pull_at", TS),
    Column("last_error", Text),
    Column("lag_seconds", Float),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

# Write-backs to the platform, written in the case change's transaction and drained by the
# worker: at least once, made once on the platform by idempotency_key.
outbox = Table(
    "outbox", metadata, _id(), _shop(),
    Column("case_id", ID, ForeignKey("cases.id"), nullable=False),
    Column("act", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("status", String(20), nullable=False),  # pending | sent | confirmed | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", TS, nullable=False),
    Column("last_error", Text),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index(None, "status", "next_attempt_at"),
    Index(None, "shop_id", "created_at"),
)
