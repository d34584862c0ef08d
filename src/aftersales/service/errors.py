"""Errors the service raises besides the domain's (same shape: a stable code)."""

from __future__ import annotations

from aftersales.domain.errors import DomainError


class NotFound(DomainError):
    """Unknown id, or another shop's (or another buyer's) record: both answer 404."""

    code = "not_found"


class Unauthorized(DomainError):
    code = "unauthorized"


class Conflict(DomainError):
    """Someone else changed the case first (optimistic lock) or a unique key collided."""

    code = "version_conflict"


class IdempotencyReused(DomainError):
    code = "idempotency_key_reused"


class NotASandbox(DomainError):
    code = "not_a_sandbox"


class StorageUnavailable(DomainError):
    """Evidence files cannot be written or read now (a read-only or full disk, storage
    that is gone): nothing was stored, and a retry later may succeed. 503."""

    code = "storage_unavailable"


class DatabaseUnavailable(DomainError):
    """The database does not answer (connection lost, server down). 503."""

    code = "database_unavailable"
