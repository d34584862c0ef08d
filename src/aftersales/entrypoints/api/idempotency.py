"""`Idempotency-Key` on every POST, backed by the database (API.md).

The first request with a key claims it with an INSERT on the (shop, key) primary key,
runs, and stores its status and body; the unique key makes the claim safe across
threads and processes. A later request with the same key:
- same request (method, path, caller and body) → the stored response, byte for byte,
  with `Idempotent-Replayed: true`; nothing runs again;
- another body (or another caller of the same shop) → 409 `idempotency_key_reused`
  (a key is never replayed to someone else: that would leak the first caller's answer);
- the first still running → it polls until the answer is stored, then replays it; after
  `idempotency_wait_seconds`, 409 `idempotency_in_progress` (retry later);
- a claim with no answer after `idempotency_lease_seconds` (its request died with its
  process) → the retry takes the claim over and runs the work again. Re-running is safe:
  every action checks the case's state first and the ledger is unique per case, round and
  kind, so work that had committed is refused, not repeated;
- a key older than `idempotency_ttl_seconds` (24 h) → forgotten: the request runs as new,
  whatever its body. The worker purges such keys (entrypoints/worker.py).
Answers below 500 are stored (a refusal is an answer); a 500 releases the key so a retry
runs afresh. The hash of a JSON body is taken over its canonical form, and a multipart
body's random boundary is blanked, so a client retrying with another serialiser or
another boundary is still "the same request".
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aftersales.entrypoints.api.auth import resolve_principal
from aftersales.entrypoints.api.context import api_state
from aftersales.entrypoints.api.errors import ApiError, exception_response
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal

HEADER = "idempotency-key"
MAX_KEY = 200
POLL_SECONDS = 0.02
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


# The header as the OpenAPI document shows it on every POST. Documented, not declared as
# a dependency: IdempotentRoute reads and checks it before FastAPI runs the endpoint, so a
# dependency would only cost time on every request.
_KEY_DESCRIPTION = ("Optional. The same key with the same body returns the first response "
                    "and changes nothing; with another body, 409 `idempotency_key_reused`.")
IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": _KEY_DESCRIPTION,
    "schema": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_KEY},
                         {"type": "null"}],
               "title": "Idempotency-Key", "description": _KEY_DESCRIPTION,
               "examples": ["8c6f2a0e-5b7e-4d0c-9a51-3f1f9b2d7e11"]},
}


def _check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY or not all(" " <= ch <= "~" for ch in key):
        raise ApiError(400, "invalid_idempotency_key",
                       f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters")
    return key


def _canonical_body(request: Request, body: bytes) -> bytes:
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):
            return body
    if ctype.startswith("multipart/") and "boundary=" in ctype:
        boundary = ctype.split("boundary=", 1)[1].split(";", 1)[0].strip().strip('"')
        if boundary:
            return body.replace(boundary.encode("latin-1", "replace"), b"BOUNDARY")
    return body


def request_hash(request: Request, principal: Principal, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query, principal.role.value,
                 principal.buyer_id or "", principal.actor_id or ""):
        digest.update(part.encode("utf-8", "replace") + b"\x00")
    digest.update(_canonical_body(request, body))
    return digest.hexdigest()


Row = tuple[str, int | None, str | None]


@dataclass(frozen=True)
class _Key:
    """One request's key: where it lives and how long its claims and answers last."""

    deps: Deps
    shop_id: str
    key: str
    digest: str
    lease: timedelta
    ttl: timedelta

    def bounds(self, now: datetime) -> dict[str, datetime]:
        return {"lease_before": now - self.lease, "expired_before": now - self.ttl}


def _claim(k: _Key, *, fresh: bool) -> tuple[datetime | None, Row | None]:
    """Claim the key (`fresh`: INSERT first) or take over a stale claim or an expired key;
    the claim's time when it is ours (the token that finishing and releasing check), else
    the row in the way."""
    now = k.deps.clock.now()
    with k.deps.uow() as uow:
        if fresh:
            won = uow.idempotency.claim_idempotency(k.shop_id, k.key, k.digest, now, **k.bounds(now))
        else:
            won = uow.idempotency.take_over_idempotency(k.shop_id, k.key, k.digest, now, **k.bounds(now))
        if won:
            uow.commit()
            return now, None
        return None, uow.idempotency.get_idempotency(k.shop_id, k.key)


def _finish(k: _Key, claimed_at: datetime, status: int, body: str) -> None:
    with k.deps.uow() as uow:
        uow.idempotency.finish_idempotency(k.shop_id, k.key, status, body, claimed_at)
        uow.commit()


def _release(k: _Key, claimed_at: datetime) -> None:
    """Forget our claim when the request failed on our side, so that a retry can run."""
    with k.deps.uow() as uow:
        uow.idempotency.release_idempotency(k.shop_id, k.key, claimed_at)
        uow.commit()


def _replayed(status: int, body: str) -> Response:
    return Response(body.encode("utf-8"), status_code=status, media_type="application/json",
                    headers={"Idempotent-Replayed": "true"})


async def _run_first(request: Request, handler: Handler, k: _Key, claimed_at: datetime
                     ) -> Response:
    try:
        response = await handler(request)
    except Exception as exc:  # rendered here so that what we store is what was sent
        response = exception_response(exc)
    body = getattr(response, "body", None)
    if response.status_code >= 500 or not isinstance(body, bytes | memoryview):
        await run_in_threadpool(_release, k, claimed_at)
        return response
    await run_in_threadpool(_finish, k, claimed_at, response.status_code,
                            bytes(body).decode("utf-8", "replace"))
    return response


async def idempotent_call(request: Request, key: str, handler: Handler) -> Response:
    _check_key(key)
    principal = await resolve_principal(request)
    body = await request.body()
    state = api_state(request)
    settings = state.settings
    k = _Key(state.app.deps, principal.shop_id, key, request_hash(request, principal, body),
             timedelta(seconds=settings.idempotency_lease_seconds),
             timedelta(seconds=settings.idempotency_ttl_seconds))
    give_up = time.monotonic() + settings.idempotency_wait_seconds
    fresh = True
    while True:
        claimed_at, row = await run_in_threadpool(_claim, k, fresh=fresh)
        if claimed_at is not None:
            return await _run_first(request, handler, k, claimed_at)
        fresh = row is None  # gone (the first failed and released it): INSERT again
        if row is not None:
            stored_hash, status, stored = row
            if stored_hash != k.digest:
                raise ApiError(409, "idempotency_key_reused",
                               "this Idempotency-Key was used with another request")
            if status is not None and stored is not None:
                return _replayed(status, stored)
            if time.monotonic() >= give_up:
                raise ApiError(409, "idempotency_in_progress",
                               "the first request with this Idempotency-Key is still running; "
                               "retry shortly")
            await asyncio.sleep(POLL_SECONDS)


class IdempotentRoute(APIRoute):
    """A route whose POSTs honour Idempotency-Key; other methods pass straight through."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in {m.upper() for m in kwargs.get("methods") or ()}:  # documented on every POST
            extra = copy.deepcopy(kwargs.get("openapi_extra") or {})
            extra.setdefault("parameters", []).append(copy.deepcopy(IDEMPOTENCY_PARAMETER))
            kwargs["openapi_extra"] = extra
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if "POST" not in (self.methods or set()):
            return handler

        async def idempotent(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(request)
            return await idempotent_call(request, key, handler)

        return idempotent
