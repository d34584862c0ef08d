"""One table from error to HTTP status, and the one error body every answer uses.

    {"error": {"code": "snake_case_code", "message": "human text"}}

Why one table: the domain and the service raise errors with stable codes and never know
about HTTP; the edge translates them here and nowhere else, so a code always answers
the same status whichever route raised it. A code listed in STATUS_BY_CODE wins over its
class (e.g. `file_too_large` is an InvalidInput that answers 413); anything unexpected
becomes 500 `internal_error` with no traceback in the body (the server log keeps it).

    DomainError (domain/errors.py, service/errors.py)
    ├── InvalidTransition   409  invalid_transition
    ├── Forbidden           403  forbidden
    ├── RuleRefused         422  the rule's code (after_sales_window_closed, …)
    ├── InvalidInput        422  (400 for malformed requests)
    ├── NotFound            404  *_not_found
    ├── Unauthorized        401  unauthorized
    ├── Conflict            409  version_conflict
    ├── IdempotencyReused   409  idempotency_key_reused
    ├── NotASandbox         409  not_a_sandbox
    ├── StorageUnavailable  503  storage_unavailable (evidence files; Retry-After)
    └── DatabaseUnavailable 503  database_unavailable
    SQLAlchemy OperationalError, or a lost connection      503  database_unavailable
    PayloadError (adapters/platforms)   422  its code
    RequestValidationError              422  validation_error (400 malformed_json)
    Starlette HTTPException             404 not_found, 405 method_not_allowed, 413 …
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from aftersales.adapters.platforms.base import PayloadError
from aftersales.domain.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    ProfileError,
    RuleRefused,
)
from aftersales.entrypoints.api.render import json_response
from aftersales.service.errors import (
    Conflict,
    DatabaseUnavailable,
    IdempotencyReused,
    NotASandbox,
    NotFound,
    StorageUnavailable,
    Unauthorized,
)

log = logging.getLogger("aftersales.api")

# Most specific class first: the first match wins.
STATUS_BY_CLASS: tuple[tuple[type[Exception], int], ...] = (
    (InvalidTransition, 409),
    (Forbidden, 403),
    (RuleRefused, 422),
    (NotFound, 404),
    (Unauthorized, 401),
    (Conflict, 409),
    (IdempotencyReused, 409),
    (NotASandbox, 409),
    (StorageUnavailable, 503),
    (DatabaseUnavailable, 503),
    (InvalidInput, 422),
    (ProfileError, 422),
    (PayloadError, 422),
    (DomainError, 422),
)

STATUS_BY_CODE: dict[str, int] = {
    "file_too_large": 413,
    "evidence_quota_exceeded": 413,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "malformed_json": 400,
    "invalid_idempotency_key": 400,
    "unmatched_parcel": 404,
    "order_not_found": 404,
    "case_not_found": 404,
    "evidence_not_found": 404,
    "evidence_file_missing": 404,
    "parcel_not_found": 404,
    "shop_not_found": 404,
    "unknown_action": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "idempotency_in_progress": 409,
    "idempotency_key_reused": 409,
    "version_conflict": 409,
    "unauthorized": 401,
    "forbidden": 403,
}

HTTP_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
    413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
}


class ApiError(Exception):
    """An error the edge itself raises (bad header, unknown action…), with its status."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def status_for(exc: Exception) -> int:
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    for cls, status in STATUS_BY_CLASS:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return json_response(error_body(code, message, **extra), status, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


def validation_response(exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    details = [{"field": _loc(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
               for e in errors[:20]]
    first = details[0] if details else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return error_response(422, "validation_error", message, field=first["field"], details=details)


def exception_response(exc: Exception) -> Response:
    """Any exception as the error body; the idempotency layer stores exactly this."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, RequestValidationError):
        return validation_response(exc)
    if isinstance(exc, StarletteHTTPException):
        code = getattr(exc, "code", None) or HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, detail, dict(exc.headers or {}) or None)
    if isinstance(exc, (DomainError, PayloadError)):
        status = status_for(exc)
        if status == 503:
            log.error("%s: %s", exc.code, exc.message, exc_info=exc.__cause__)
            return error_response(503, str(exc.code), exc.message, RETRY_LATER)
        if status < 500:
            challenge = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            if exc.code == "evidence_file_missing":
                log.error("evidence file missing: %s", exc.message)
            return error_response(status, str(exc.code), exc.message, challenge)
    if _database_down(exc):
        log.error("database unavailable", exc_info=exc)
        return error_response(503, "database_unavailable",
                              "the database does not answer; retry shortly", RETRY_LATER)
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side; it is logged")


RETRY_LATER = {"Retry-After": "5"}


def _database_down(exc: Exception) -> bool:
    """A lost connection or a database that cannot work now (down, disk full, locked
    past its timeout): the request did nothing and may be retried; not a bug of ours."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


async def _handle(request: Request, exc: Exception) -> Response:
    return exception_response(exc)


def install(app: FastAPI) -> None:
    """Every error path of the app answers the one body shape."""
    for cls in (ApiError, RequestValidationError, StarletteHTTPException, DomainError,
                PayloadError, Exception):
        app.add_exception_handler(cls, _handle)
