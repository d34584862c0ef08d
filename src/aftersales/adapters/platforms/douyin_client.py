"""The Douyin (抖店) connection: the PlatformConnection port over the open API with httpx.

Each call is POST <base>/<api path>?app_key&method&timestamp&v=2&sign_method&sign
&access_token with the canonical param_json as body (research A §2.1); the envelope's
code 10000 is success, anything else becomes PlatformRefused with Douyin's own code and
sub_code text, retryable when the platform said so (60000 rate limit, 20000 service
error) or the transport failed (5xx, timeout). Payloads go back raw: the inbound
adapter (adapters/platforms/douyin.py) reads them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from aftersales.adapters.platforms.douyin import DouyinAdapter
from aftersales.adapters.platforms.douyin_sign import canonical, push_verified, request_sign
from aftersales.domain.sync import PlatformSnapshot
from aftersales.service.connection_ports import (
    Act,
    Credentials,
    NotSupported,
    OutboundAct,
    Page,
    PlatformRefused,
    PushRefused,
)

PAGE_SIZE = 100  # afterSale/List: size ≤ 100 (doc)
RETRYABLE = frozenset({20000, 60000})  # service unavailable, 触发限流 (isv.traffic-limited)
# /afterSale/operate type codes (research A §2.5): 201/202 sdk, 101 inferred from the doc's
# logistics note. Refusing a pre-shipment refund has no type (the seller ships instead).
_AGREE = {True: 201, False: 101}  # refund-only → 201, a return → 101
_REFUSE = 202


class DouyinConnection:
    platform = "douyin"

    def __init__(self, base_url: str, *, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)
        self.adapter = DouyinAdapter()

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        return self.adapter.parse(payload)

    def close(self) -> None:
        self.client.close()

    def supports(self, act: Act) -> bool:
        return act in (Act.agree_refund, Act.refuse, Act.agree_return)

    def call(self, creds: Credentials, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        method = path.lstrip("/").replace("/", ".")
        param_json = canonical(params)
        timestamp = str(int(time.time()))
        query = {"app_key": creds.app_key, "method": method, "timestamp": timestamp, "v": "2",
                 "sign_method": "hmac-sha256",
                 "sign": request_sign(creds.app_key, creds.app_secret, method, param_json,
                                      timestamp)}
        if not method.startswith("token.") and creds.access_token:
            query["access_token"] = creds.access_token
        try:
            reply = self.client.post(f"{self.base_url}{path}", params=query,
                                     content=param_json.encode(),
                                     headers={"content-type": "application/json"})
        except httpx.HTTPError as e:
            raise PlatformRefused("transport", f"{type(e).__name__}: {e}", retry=True) from None
        if reply.status_code >= 500:
            raise PlatformRefused(str(reply.status_code), reply.text[:200], retry=True)
        try:
            envelope = reply.json()
        except ValueError:
            raise PlatformRefused(str(reply.status_code), "not a JSON answer",
                                  retry=reply.status_code >= 500) from None
        code = int(envelope.get("code", 0))
        if code != 10000:
            sub = envelope.get("sub_code") or ""
            text = envelope.get("sub_msg") or envelope.get("msg") or ""
            raise PlatformRefused(f"{code} {sub}".strip(), text, retry=code in RETRYABLE,
                                  retry_after=1.0 if code == 60000 else None)
        data = envelope.get("data")
        return data if isinstance(data, dict) else {}

    def pull(self, creds: Credentials, cursor: str | None, now: datetime) -> Page:
        """afterSale/List by update time from `cursor` (unix seconds, inclusive), oldest
        first, one page; the cursor moves to the newest update_time seen. The same second
        comes again next pull — harmless, the sync's versions drop what it already has."""
        since, page = _cursor(cursor, now)
        data = self.call(creds, "/afterSale/List", {
            "update_start_time": since, "page": page, "size": PAGE_SIZE,
            "order_by": ["update_time asc"]})
        items = tuple(data.get("items") or ())
        times = [int(i["aftersale_info"]["update_time"]) for i in items]
        changed = datetime.fromtimestamp(max(times), UTC) if times else None
        if data.get("has_more"):
            return Page(items, f"{since}:{page + 1}", True, changed)
        return Page(items, str(max(times, default=since)), False, changed)

    def detail(self, creds: Credentials, platform_case_id: str) -> Mapping[str, Any]:
        return self.call(creds, "/afterSale/Detail", {"after_sale_id": platform_case_id})

    def verify_push(self, creds: Credentials, body: bytes,
                    headers: Mapping[str, str]) -> tuple[str, ...]:
        """event-sign = md5(app_key + raw body + app_secret); the ids it names, deduplicated."""
        if headers.get("app-id") not in (None, creds.app_key):
            raise PushRefused("the push names another app")
        if not push_verified(creds.app_key, body, creds.app_secret, headers.get("event-sign")):
            raise PushRefused("the push's event-sign does not verify")
        try:
            messages = json.loads(body)
            ids = [str(json.loads(m["data"])["aftersale_id"]) for m in messages]
        except (ValueError, KeyError, TypeError):
            raise PushRefused("a signed push that is not Douyin's message array") from None
        return tuple(dict.fromkeys(ids))

    def refresh(self, creds: Credentials, now: datetime) -> Credentials:
        """token/refresh with the refresh token; token/create (self-use app) without one."""
        if creds.refresh_token:
            data = self.call(creds, "/token/refresh", {"grant_type": "refresh_token",
                                                       "refresh_token": creds.refresh_token})
        else:
            data = self.call(creds, "/token/create", {"code": "",
                                                      "grant_type": "authorization_self"})
        expires = int(data.get("expires_in", 0))
        # expires_in: absolute unix seconds per the SDK comment, a duration per DY-py
        at = (datetime.fromtimestamp(expires, UTC) if expires > 10**9
              else now + timedelta(seconds=expires))
        return Credentials(creds.app_key, creds.app_secret, str(data["access_token"]),
                           str(data["refresh_token"]), at)

    def perform(self, creds: Credentials, act: OutboundAct) -> Mapping[str, Any]:
        item: dict[str, Any] = {"aftersale_id": act.platform_case_id}
        if act.version is not None:
            item["update_time"] = act.version  # optimistic check (doc)
        if act.act == Act.agree_refund:
            op = _AGREE[True]
        elif act.act == Act.agree_return:
            if not act.address_id:
                raise NotSupported("Douyin needs the shop's return address id (/address/list)")
            op = _AGREE[False]
            item["logistics"] = {"receiver_address_id": act.address_id}
        elif act.act == Act.refuse:
            op = _REFUSE
            item.update(reject_reason_code=act.reason_code, reason=act.text or "",
                        remark=act.text or "",
                        evidence=[{"type": 1 if e.kind == "image" else 4, "url": e.url,
                                   "desc": e.description} for e in act.evidence])
        else:
            raise NotSupported(f"Douyin's open API has no documented call for {act.act.value} "
                               "here; do it in the 抖店 back office")
        # idempotent_id: our key, so a redelivered act is made once (the fake honours it;
        # the real field name for operate was not found — research A §2.5)
        return self.call(creds, "/afterSale/operate",
                         {"type": op, "items": [item], "idempotent_id": act.idempotency_key})


def _cursor(cursor: str | None, now: datetime) -> tuple[int, int]:
    if not cursor:
        return int((now - timedelta(days=1)).timestamp()), 0  # first pull: the last day
    since, _, page = cursor.partition(":")
    return int(since), int(page or 0)
