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
