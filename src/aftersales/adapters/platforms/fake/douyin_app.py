"""A fake 抖店 open API over real HTTP (`aftersales fake-platform --platform douyin`).

DOC (research A §2.1–2.7): POST /<api path>, query app_key, method, timestamp, v=2,
sign_method, sign, access_token; body = param_json; envelope {code 10000, msg, sub_code,
sub_msg, log_id, data}; List/Detail shapes; operate type codes; token create/refresh
(refresh early → same tokens; within the last hour → new ones, the old pair lives 1 h
more); the rate-limit answer code 60000 / isv.traffic-limited; pushes as a JSON array
with headers app-id and event-sign.
INVENTED: the QPS (per method, default 20), the /fake/* control routes (clock, new
cases, failure injection, replays, what was applied), and the push timing (sent at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aftersales.adapters.platforms.douyin_sign import push_sign, request_sign
from aftersales.adapters.platforms.fake.douyin_state import AfterSale, Book, OperateError

TOKEN_SECONDS = 604800  # DOC-ambiguous expires_in; the fake sends a duration (research)


@dataclass
class Fake:
    app_key: str
    app_secret: str
    push_url: str | None = None
    qps: int = 20
    book: Book = field(default_factory=Book)
    tokens: dict[str, int] = field(default_factory=dict)  # access token → expiry
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token → access token
    calls: dict[str, deque[float]] = field(default_factory=dict)
    inject: list[dict[str, Any]] = field(default_factory=list)  # next calls: 5xx / delay


def _envelope(data: Any = None, code: int = 10000, sub_code: str = "", sub_msg: str = "",
              msg: str = "success") -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg,
                         "log_id": secrets.token_hex(10), "data": data or {}})


def _error(code: int, sub_code: str, sub_msg: str, msg: str = "fail") -> JSONResponse:
    return _envelope(None, code, sub_code, sub_msg, msg)


def list_item(c: AfterSale) -> dict[str, Any]:
    """DOC afterSale/List items[] (aftersale_id a String)."""
    return {"aftersale_info": {
        "aftersale_id": c.aftersale_id, "aftersale_type": c.aftersale_type,
        "aftersale_status": c.status, "related_id": c.sku_order_id, "apply_time": c.apply_time,
        "update_time": c.update_time, "status_deadline": c.status_deadline,
        "refund_amount": c.refund_amount, "refund_post_amount": 0, "aftersale_num": 1,
        "refund_status": c.refund_status, "arbitrate_status": 0, "got_pkg": 1,
        "return_logistics_code": "", "refund_type": 0},
        "order_info": {"shop_order_id": c.shop_order_id, "related_order_info": [
            {"sku_order_id": c.sku_order_id, "order_status": 3, "pay_amount": c.refund_amount,
             "post_amount": 0, "item_num": 1, "aftersale_item_num": 1,
             "product_name": c.product_name}]}}


def detail(c: AfterSale) -> dict[str, Any]:
    """DOC afterSale/Detail data (after_sale_id a Number here)."""
    return {"process_info": {
        "after_sale_info": {
            "after_sale_id": int(c.aftersale_id), "after_sale_status": c.status,
            "after_sale_type": c.aftersale_type, "refund_total_amount": c.refund_amount,
            "refund_post_amount": 0, "real_refund_amount": 0, "refund_status": c.refund_status,
            "apply_time": c.apply_time, "update_time": c.update_time,
            "status_deadline": c.status_deadline, "reason": c.reason, "got_pkg": 1},
        "arbitrate_info": {"arbitrate_status": 0}, "logistics_info": {}},
        "order_info": {"shop_order_id": int(c.shop_order_id), "sku_order_infos": [
            {"sku_order_id": int(c.sku_order_id), "pay_amount": c.refund_amount,
             "order_status": 3, "item_num": 1}]}}


def build(fake: Fake) -> Starlette:
    async def api(request: Request) -> Response:
        path = "/" + request.path_params["path"]
        q = request.query_params
        body = (await request.body()).decode()
        if fake.inject:
            trouble = fake.inject.pop(0)
            if trouble.get("delay"):
                await asyncio.sleep(float(trouble["delay"]))
            if trouble.get("status"):
                return Response("upstream error", status_code=int(trouble["status"]))
        method = q.get("method", "")
        if method != path.lstrip("/").replace("/", "."):
            return _error(40001, "isv.parameter-missing", "method 与路径不符")
        if not q.get("sign"):
            return _error(40001, "isv.signature-missing", "缺少签名")
        if q.get("app_key") != fake.app_key:
            return _error(30001, "isv.app-permissions-insufficient", "app_key 不存在")
        try:
            expected = request_sign(fake.app_key, fake.app_secret, method, body,
                                    q.get("timestamp", ""), q.get("sign_method", "hmac-sha256"))
        except ValueError:
            return _error(40003, "isv.signature-invalid", "sign_method 无效")
        if not secrets.compare_digest(expected, q["sign"]):
            return _error(40003, "isv.signature-invalid", "签名无效")
        if _limited(fake, method):
            return _error(60000, "isv.traffic-limited", "请求太频繁，请稍后重试", "触发限流，请稍后重试")
        params = json.loads(body or "{}")
        fake.book.tick()
        if method.startswith("token."):
            answer = _token(fake, method, params)
        else:
            token = q.get("access_token")
            if not token or token not in fake.tokens:
                answer = _error(40001, "isv.access-token-missing", "access_token 无效")
            elif fake.tokens[token] < fake.book.now():
                answer = _error(40003, "isv.access-token-expired", "access_token 已过期")
            else:
                answer = _call(fake, method, params)
        await _send_pushes(fake)
        return answer

    async def control(request: Request) -> Response:
        return await _control(fake, request)

    return Starlette(routes=[
        Route("/fake/{what:path}", control, methods=["GET", "POST"]),
        Route("/{path:path}", api, methods=["POST"]),
    ])


def _limited(fake: Fake, method: str) -> bool:
    window = fake.calls.setdefault(method, deque())
    now = time.monotonic()
    while window and window[0] <= now - 1:
        window.popleft()
    if len(window) >= fake.qps:
        return True
    window.append(now)
    return False


def _token(fake: Fake, method: str, params: dict[str, Any]) -> JSONResponse:
    now = fake.book.now()
    if method == "token.refresh":
        old = fake.refresh.get(str(params.get("refresh_token")))
        if old is None or params.get("grant_type") != "refresh_token":
            return _error(40003, "isv.refresh-token-invalid", "refresh_token 无效")
        left = fake.tokens.get(old, 0) - now
        if left > 3600:  # DOC: refreshing early returns the same tokens
            return _envelope(_token_data(old, left, params["refresh_token"]))
        fake.tokens[old] = min(fake.tokens.get(old, 0), now + 3600) if left > 0 else 0
        del fake.refresh[params["refresh_token"]]
    elif params.get("grant_type") not in ("authorization_self", "authorization_code"):
        return _error(40004, "isv.parameter-invalid", "grant_type 无效")
    access, refresh = secrets.token_hex(16), secrets.token_hex(16)
    fake.tokens[access] = now + TOKEN_SECONDS
    fake.refresh[refresh] = access
    return _envelope(_token_data(access, TOKEN_SECONDS, refresh))


def _token_data(access: str, expires_in: int, refresh: str) -> dict[str, Any]:
    return {"access_token": access, "expires_in": expires_in, "refresh_token": refresh,
            "scope": "SCOPE", "shop_id": 1, "shop_name": "fake shop", "authority_id": "",
            "auth_subject_type": "MiniApp"}


def _call(fake: Fake, method: str, params: dict[str, Any]) -> JSONResponse:
    book = fake.book
    if method == "afterSale.List":
        return _list(book, params)
    if method == "afterSale.Detail":
        case = book.cases.get(str(params.get("after_sale_id", "")))
        if case is None:
            return _error(20000, "isp.service-error:10002", "查询结果为空")
        return _envelope(detail(case))
    if method == "afterSale.operate":
        items = params.get("items") or []
        if not 1 <= len(items) <= 20:  # DOC ≤ 20 items per call
            return _error(40004, "isv.parameter-invalid", "items 数量无效")
        try:
            done = [book.operate(int(params.get("type", 0)), item, params.get("idempotent_id"))
                    for item in items]
        except OperateError as e:
            return _error(e.code, e.sub_code, e.sub_msg, "业务处理失败")
        return _envelope({"items": done})
    return _error(70000, "isv.api-offline", f"{method} 不存在")


def _list(book: Book, params: dict[str, Any]) -> JSONResponse:
    page, size = int(params.get("page", 0)), int(params.get("size", 10))
    if size > 100 or size < 1 or page < 0:  # DOC size ≤ 100, page from 0
        return _error(40004, "isv.parameter-invalid", "page/size 无效")
    start = int(params.get("update_start_time", 0))
    end = int(params.get("update_end_time", 2**62))
    found = sorted((c for c in book.cases.values() if start <= c.update_time <= end),
                   key=lambda c: (c.update_time, c.aftersale_id))
    chunk = found[page * size:(page + 1) * size]
    return _envelope({"items": [list_item(c) for c in chunk], "total": len(found),
                      "page": page, "size": size, "has_more": (page + 1) * size < len(found)})


async def _send_pushes(fake: Fake, messages: list[dict[str, Any]] | None = None) -> None:
    """DOC body: a JSON array; headers app-id, event-sign = md5(app_key + body + secret)."""
    batch = messages if messages is not None else fake.book.outbox
    if messages is None:
        fake.book.outbox = []
    if not fake.push_url or not batch:
        return
    async with httpx.AsyncClient(timeout=5) as client:
        for message in batch:
            body = json.dumps([message], ensure_ascii=False).encode()
            headers = {"app-id": fake.app_key, "content-type": "application/json",
                       "event-sign": push_sign(fake.app_key, body, fake.app_secret)}
            # INVENTED: no redelivery schedule (the docs give none)
            with contextlib.suppress(httpx.HTTPError):
                await client.post(fake.push_url, content=body, headers=headers)


async def _control(fake: Fake, request: Request) -> Response:
    """INVENTED control surface for tests and the demo."""
    what = request.path_params["what"]
    params = await request.json() if request.method == "POST" else {}
    book = fake.book
    if what == "health":
        return JSONResponse({"ok": True, "now": book.now()})
    if what == "clock":
        book.offset += float(params.get("advance", 0))
        book.tick()
    elif what == "config":
        fake.push_url = params.get("push_url", fake.push_url)
        fake.qps = int(params.get("qps", fake.qps))
        book.review_seconds = int(params.get("review_seconds", book.review_seconds))
    elif what == "aftersales":
        case = book.create(int(params.get("aftersale_type", 1)),
                           int(params.get("refund_amount", 4590)),
                           **{k: v for k, v in params.items()
                              if k in ("aftersale_id", "shop_order_id", "sku_order_id", "reason")})
        await _send_pushes(fake)
        return JSONResponse({"aftersale_id": case.aftersale_id})
    elif what == "inject":
        fake.inject.extend([dict(params.get("trouble", {}))] * int(params.get("count", 1)))
        return JSONResponse({"queued": len(fake.inject)})
    elif what == "replay":  # resend a case's pushes: duplicated and/or in reverse order
        sent = list(book.pushes.get(str(params.get("aftersale_id")), []))
        sent = (sent[::-1] if params.get("reverse") else sent) * int(params.get("times", 1))
        await _send_pushes(fake, sent)
        return JSONResponse({"sent": len(sent)})
    elif what == "applied":
        return JSONResponse({"applied": book.applied})
    elif what.startswith("aftersales/"):
        found = book.cases.get(what.split("/", 1)[1])
        return JSONResponse(detail(found) if found else {"error": "no such case"},
                            status_code=200 if found else 404)
    await _send_pushes(fake)
    return JSONResponse({"ok": True, "now": book.now()})
