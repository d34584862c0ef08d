"""Cases in from a connected platform: pulls from the stored cursor, and verified pushes.

A push is only a hint: once its signature verifies, each case it names is fetched again
from the platform (the detail) and that is what is applied, so a forged, duplicated or
out-of-order push cannot put anything in the desk the platform does not say now. Both
paths apply through service/sync.py (versioned: what is not newer changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aftersales.domain.errors import InvalidInput
from aftersales.domain.vocabulary import Role
from aftersales.service.connection_ports import (
    Credentials,
    PlatformConnection,
    PlatformRefused,
    PushRefused,
)
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal
from aftersales.service.sync import apply_snapshot

Factory = Callable[[str, str], PlatformConnection]  # (platform, base url) → connection
REFRESH_BEFORE = timedelta(hours=1)  # Douyin: a refresh in the last hour gives new tokens
MAX_PAGES = 50  # one pull's bound; the next pull goes on from the cursor


@dataclass(frozen=True, slots=True)
class PullResult:
    applied: int
    unchanged: int
    cursor: str | None
    lag_seconds: float | None
    error: str | None = None


def connect(deps: Deps, principal: Principal, platform: str, base_url: str,
            app_key: str, app_secret: str, connection: PlatformConnection) -> None:
    """Check the credentials with the platform (a token for them) and keep them sealed."""
    if principal.role != Role.admin:
        raise InvalidInput("only an admin connects a shop", code="forbidden")
    with deps.uow() as uow:
        shop = uow.shops.get_shop(principal.shop_id)
    if shop is None:
        raise NotFound(f"no shop {principal.shop_id}", code="shop_not_found")
    if shop.shop.platform != platform:
        raise InvalidInput(f"shop {shop.shop.id} is a {shop.shop.platform} shop, not {platform}",
                           code="platform_mismatch")
    now = deps.clock.now()
    creds = connection.refresh(Credentials(app_key, app_secret), now)
    with deps.uow() as uow:
        uow.connections.save(shop.shop.id, platform, base_url, creds, now)
        uow.commit()


def credentials(deps: Deps, shop_id: str, connection: PlatformConnection) -> Credentials:
    """The shop's credentials, refreshed first when the access token is about to lapse."""
    now = deps.clock.now()
    with deps.uow() as uow:
        creds = uow.connections.credentials(shop_id)
    if creds is None:
        raise NotFound(f"shop {shop_id} is not connected to its platform",
                       code="not_connected")
    if creds.token_expires_at is None or creds.token_expires_at - now <= REFRESH_BEFORE:
        creds = connection.refresh(creds, now)
        with deps.uow() as uow:
            uow.connections.store_tokens(shop_id, creds, now)
            uow.commit()
    return creds


def connection_of(deps: Deps, shop_id: str, factory: Factory) -> PlatformConnection:
    with deps.uow() as uow:
        record = uow.connections.get(shop_id)
    if record is None:
        raise NotFound(f"shop {shop_id} is not connected to its platform",
                       code="not_connected")
    return factory(record.platform, record.base_url)


def pull(deps: Deps, shop_id: str, factory: Factory) -> PullResult:
    """Pull pages from the stored cursor; the cursor moves after each page is applied."""
    connection = connection_of(deps, shop_id, factory)
    try:
        return _pull(deps, shop_id, connection)
    finally:
        connection.close()


def _pull(deps: Deps, shop_id: str, connection: PlatformConnection) -> PullResult:
    creds = credentials(deps, shop_id, connection)
    with deps.uow() as uow:
        record = uow.connections.get(shop_id)
    cursor = record.cursor if record else None
    applied = unchanged = 0
    lag: float | None = None
    for _ in range(MAX_PAGES):
        now = deps.clock.now()
        try:
            page = connection.pull(creds, cursor, now)
        except PlatformRefused as e:
            _record(deps, shop_id, cursor or "", now, None, str(e))
            return PullResult(applied, unchanged, cursor, lag, str(e))
        for payload in page.payloads:
            if _apply(deps, shop_id, connection, payload) == "unchanged":
                unchanged += 1
            else:
                applied += 1
        if page.newest_change is not None:
            lag = max(0.0, (deps.clock.now() - page.newest_change).total_seconds())
        cursor = page.cursor
        _record(deps, shop_id, cursor, deps.clock.now(), lag, None)
        if not page.has_more:
            break
    return PullResult(applied, unchanged, cursor, lag)


def _record(deps: Deps, shop_id: str, cursor: str, now: datetime, lag: float | None,
            error: str | None) -> None:
    with deps.uow() as uow:
        uow.connections.record_pull(shop_id, cursor, now, lag, error)
        uow.commit()


def _apply(deps: Deps, shop_id: str, connection: PlatformConnection,
           payload: Mapping[str, object]) -> str:
    snap = connection.parse(payload)
    _, result = apply_snapshot(deps, Principal(shop_id, Role.platform), snap)
    return result


def receive_push(deps: Deps, shop_id: str, platform: str, body: bytes,
                 headers: Mapping[str, str], factory: Factory) -> dict[str, str]:
    """Verify (PushRefused before anything is read or stored), then re-fetch and apply."""
    with deps.uow() as uow:
        record = uow.connections.get(shop_id)
        creds = uow.connections.credentials(shop_id)
    if record is None or creds is None or record.platform != platform:
        raise PushRefused(f"no {platform} connection for this shop")
    connection = factory(record.platform, record.base_url)
    try:
        ids = connection.verify_push(creds, body, headers)
        creds = credentials(deps, shop_id, connection)
        return {case_id: _apply(deps, shop_id, connection, connection.detail(creds, case_id))
                for case_id in ids}
    finally:
        connection.close()
