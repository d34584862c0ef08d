"""Shops, API tokens and who a token belongs to."""

from __future__ import annotations

import hashlib
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aftersales.domain.errors import InvalidInput
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.orders import Shop
from aftersales.domain.vocabulary import TOKEN_ROLES, Role
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound, Unauthorized
from aftersales.service.ports import Principal, ShopRecord, Store


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so one SHA-256 is enough; only the hash is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_shop(deps: Deps, name: str, platform: str, *, sandbox: bool = False,
                timezone: str = "Asia/Shanghai", policy: MerchantPolicy | None = None,
                shop_id: str | None = None) -> ShopRecord:
    if not name.strip():
        raise InvalidInput("a shop needs a name", code="invalid_name")
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
        uow.store.add_shop(record, now)
        uow.commit()
    return record


def create_token(deps: Deps, shop_id: str, role: str, buyer_id: str | None = None,
                 label: str | None = None) -> str:
    """A new bearer token, returned once; only its hash is kept."""
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed is None or parsed not in TOKEN_ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(sorted(TOKEN_ROLES))}",
                           code="invalid_role")
    if (parsed is Role.buyer) != bool(buyer_id):
        raise InvalidInput("a buyer token needs --buyer, and only a buyer token takes one",
                           code="invalid_buyer")
    token = "as_" + secrets.token_urlsafe(32)
    with deps.uow() as uow:
        if uow.store.get_shop(shop_id) is None:
            raise NotFound(f"no shop {shop_id}", code="shop_not_found")
        uow.store.add_token(deps.new_id(), shop_id, parsed.value, buyer_id, hash_token(token),
                            label, deps.clock.now())
        uow.commit()
    return token


def authenticate(store: Store, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("missing bearer token")
    principal = store.find_token(hash_token(token))
    if principal is None:
        raise Unauthorized("invalid or revoked token")
    return principal


def require_shop(store: Store, shop_id: str) -> ShopRecord:
    record = store.get_shop(shop_id)
    if record is None:
        raise NotFound(f"no shop {shop_id}", code="shop_not_found")
    return record
