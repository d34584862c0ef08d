"""Shops, API tokens and who a token belongs to."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aftersales.domain.errors import Forbidden, InvalidInput
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.orders import Shop
from aftersales.domain.vocabulary import TOKEN_ROLES, Role
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound, Unauthorized
from aftersales.service.ports import Principal, ShopRecord, TokenRecord
from aftersales.service.repositories import UnitOfWork

POLICY_READERS = frozenset({Role.admin, Role.agent, Role.warehouse, Role.finance})
MAX_LIFETIME = timedelta(days=3660)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so one SHA-256 is enough; only the hash is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_shop(deps: Deps, name: str, platform: str, *, sandbox: bool = False,
                timezone: str = "Asia/Shanghai", policy: MerchantPolicy | None = None,
                shop_id: str | None = None) -> ShopRecord:
    if not name.strip() or len(name) > 200:
        raise InvalidInput("a shop's name is 1–200 characters", code="invalid_name")
    deps.profiles(platform)  # raises for an unknown platform
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown timezone {timezone!r}", code="invalid_timezone") from None
    now = deps.clock.now()
    shop = Shop(id=shop_id or deps.new_id(), name=name.strip(), platform=platform,
                timezone=timezone, sandbox=sandbox)
    record = ShopRecord(shop, policy or MerchantPolicy(), now if sandbox else None)
    with deps.uow() as uow:
        uow.shops.add_shop(record, now)
        uow.commit()
    return record


def create_token(deps: Deps, shop_id: str, role: str, buyer_id: str | None = None,
                 label: str | None = None, expires_in: timedelta | None = None) -> str:
    """A new bearer token, returned once; only its hash is kept. `expires_in`: it answers
    401 `token_expired` from then on (None: until revoked)."""
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed is None or parsed not in TOKEN_ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(sorted(TOKEN_ROLES))}",
                           code="invalid_role")
    if len(buyer_id or "") > 120 or len(label or "") > 200:  # (the columns' widths)
        raise InvalidInput("a buyer id is at most 120 characters, a label 200",
                           code="invalid_input")
    if (parsed is Role.buyer) != bool(buyer_id):
        raise InvalidInput("a buyer token needs --buyer, and only a buyer token takes one",
                           code="invalid_buyer")
    if expires_in is not None and not timedelta(0) < expires_in <= MAX_LIFETIME:
        raise InvalidInput("a token expires after more than nothing and at most 10 years",
                           code="invalid_duration")
    token = "as_" + secrets.token_urlsafe(32)
    now = deps.clock.now()
    with deps.uow() as uow:
        if uow.shops.get_shop(shop_id) is None:
            raise NotFound(f"no shop {shop_id}", code="shop_not_found")
        uow.shops.add_token(deps.new_id(), shop_id, parsed.value, buyer_id, hash_token(token),
                            label, now, None if expires_in is None else now + expires_in)
        uow.commit()
    return token


def authenticate(uow: UnitOfWork, token: str | None, now: datetime) -> tuple[Principal, datetime | None]:
    """The caller a token names, and when the token expires (None: never); 401 with a code
    saying why otherwise: `unauthorized`, `token_revoked`, `token_expired`."""
    if not token:
        raise Unauthorized("missing bearer token")
    found = uow.shops.find_token(hash_token(token))
    if found is None:
        raise Unauthorized("invalid token")
    if found.revoked_at is not None:
        raise Unauthorized("this token was revoked", code="token_revoked")
    if found.expires_at is not None and found.expires_at <= now:
        raise Unauthorized("this token has expired", code="token_expired")
    return Principal(found.shop_id, found.role, found.buyer_id, found.id[-8:]), found.expires_at


def token_view(record: TokenRecord) -> dict[str, object]:
    """A token as `token list` shows it: never the token, nor its hash."""
    def at(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()
    return {"id": record.id, "role": record.role.value, "buyer_id": record.buyer_id,
            "label": record.label, "created_at": at(record.created_at),
            "expires_at": at(record.expires_at), "revoked_at": at(record.revoked_at)}


def list_tokens(deps: Deps, shop_id: str) -> list[dict[str, object]]:
    with deps.uow() as uow:
        require_shop(uow, shop_id)
        return [token_view(r) for r in uow.shops.list_tokens(shop_id)]


def revoke_token(deps: Deps, token: str) -> dict[str, object]:
    """Revoke a token named by its id (as `token list` shows it) or by the token itself.
    Revoking a revoked token changes nothing. API processes that cached it as valid stop
    accepting it within their cache's seconds (AFTERSALES_TOKEN_CACHE_SECONDS)."""
    text = token.strip()
    with deps.uow() as uow:
        found = (uow.shops.find_token(hash_token(text)) if text.startswith("as_")
                 else uow.shops.get_token(text))
        if found is None:
            raise NotFound("no such token (give its id, as `aftersales token list` shows, "
                           "or the token itself)", code="token_not_found")
        uow.shops.revoke_token(found.id, deps.clock.now())
        record = uow.shops.get_token(found.id)
        uow.commit()
    assert record is not None
    return token_view(record)


def require_shop(uow: UnitOfWork, shop_id: str) -> ShopRecord:
    record = uow.shops.get_shop(shop_id)
    if record is None:
        raise NotFound(f"no shop {shop_id}", code="shop_not_found")
    return record


def shop_view(record: ShopRecord) -> dict[str, object]:
    s = record.shop
    return {"id": s.id, "name": s.name, "platform": s.platform, "timezone": s.timezone,
            "sandbox": s.sandbox, "clock": None if record.clock_at is None
            else record.clock_at.isoformat(), "policy": record.policy.to_dict()}


def get_shop(deps: Deps, principal: Principal) -> dict[str, object]:
    """The caller's shop and its merchant policy: the shop's staff only (neither buyers
    nor the platform's integration see the merchant's rules)."""
    if principal.role not in POLICY_READERS:
        raise Forbidden("only the shop's staff see its policy")
    with deps.uow() as uow:
        return shop_view(require_shop(uow, principal.shop_id))


def set_policy(deps: Deps, principal: Principal | None, shop_id: str,
               data: Mapping[str, object]) -> dict[str, object]:
    """Replace the shop's merchant policy (auto-approval rules, windows, freight cap, alerts).

    Validated whole before anything is written; cases already open keep deciding under the
    new policy from their next evaluation on (the policy is the merchant's, not the case's).
    `principal` None means the CLI, run by whoever runs the server.
    """
    if principal is not None and (principal.role is not Role.admin or principal.shop_id != shop_id):
        raise Forbidden("only the shop's admin sets its policy")
    policy = MerchantPolicy.checked(data)
    with deps.uow() as uow:
        require_shop(uow, shop_id)
        uow.shops.set_policy(shop_id, policy)
        record = require_shop(uow, shop_id)
        uow.commit()
    return shop_view(record)
