"""Bearer tokens → Principal (shop, role, buyer), and the role checks API.md names.

The action roles are the transition table's business (a wrong role answers 403 from the
domain); only the non-action routes whose roles API.md lists are checked here. A token
that checks out is cached for `token_cache_seconds` (never past its `expires_at`): the
lookup is otherwise a query on every request, and a revoked token therefore stops working
within those seconds. Invalid, revoked and expired tokens are never cached, so they always
cost a lookup and always answer 401 (`token_revoked`, `token_expired` saying why).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from aftersales.domain.errors import Forbidden
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.api.context import ApiState, api_state
from aftersales.service.errors import Unauthorized
from aftersales.service.ports import Principal
from aftersales.service.shops import authenticate

BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="A shop's API token: `aftersales token create --shop ID --role ROLE`.")
_CACHE_MAX = 10_000


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header; None if it is not one."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _token_from(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    token = bearer_token(header)
    if token is None:
        raise Unauthorized("the Authorization header must be `Bearer TOKEN`")
    return token


def _lookup(state: ApiState, token: str | None) -> tuple[Principal, float | None]:
    """The caller, and in how many seconds the token expires (None: never)."""
    deps = state.app.deps
    now = deps.clock.now()
    with deps.uow() as uow:
        principal, expires_at = authenticate(uow, token, now)
    return principal, None if expires_at is None else (expires_at - now).total_seconds()


async def resolve_principal(request: Request) -> Principal:
    """The caller, looked up once per request (the idempotency layer may have done it)."""
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    state = api_state(request)
    token = _token_from(request)
    if not token:
        raise Unauthorized("missing bearer token")
    principal = cached_principal(state, token)
    if principal is None:
        principal = await _looked_up(state, token)
    request.state.principal = principal
    return principal


async def _looked_up(state: ApiState, token: str) -> Principal:
    """The caller from the database, remembered for token_cache_seconds (never past expiry)."""
    # the cache's time counts from before the lookup: a token revoked while it ran is
    # still dropped within token_cache_seconds of the revocation
    started = time.monotonic()
    principal, expires_in = await run_in_threadpool(_lookup, state, token)
    ttl = state.settings.token_cache_seconds
    if expires_in is not None:
        ttl = min(ttl, expires_in)
    if ttl > 0:
        if len(state.tokens) >= _CACHE_MAX:
            state.tokens.clear()
        state.tokens[_cache_key(token)] = (principal, started + ttl)
    return principal


def _cache_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cached_principal(state: ApiState, token: str) -> Principal | None:
    """The caller behind `token` if a lookup vouched for it within the cache's lifetime."""
    if state.settings.token_cache_seconds <= 0:
        return None
    hit = state.tokens.get(_cache_key(token))
    if hit is not None and hit[1] > time.monotonic() and isinstance(hit[0], Principal):
        return hit[0]
    return None


async def current_principal(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Security(BEARER),
) -> Principal:
    return await resolve_principal(request)


# The hot routes (open a case, act on one) resolve the caller with one plain dependency:
# each FastAPI dependency costs per request, and `Security(BEARER)` only documents the
# scheme. Their OpenAPI operations carry the same requirement through `BEARER_SECURITY`.
BEARER_SECURITY: dict[str, Any] = {"security": [{"bearer": []}]}


async def caller(request: Request) -> Principal:
    """`current_principal` without the documentation-only sub-dependency."""
    return await resolve_principal(request)


def require_roles(*roles: Role, documented: bool = True
                  ) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency answering 403 unless the caller has one of `roles`.

    `documented=False`: on `caller` (the route then declares BEARER_SECURITY itself)."""
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))
    who = current_principal if documented else caller

    async def check(principal: Principal = Depends(who)) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"this needs one of the roles: {names}")
        return principal

    return check
