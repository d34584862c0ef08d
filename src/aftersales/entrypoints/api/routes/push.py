"""Platform push receivers: POST /push/{platform}/{shop_id}, called by the platform.

No API token: the platform's own signature is the authentication (Douyin: event-sign).
A push that does not verify answers 401 and nothing is read or stored; a verified one
names cases, each fetched again from the platform and applied (service/platform_sync.py).
The answer is the platform's expected acknowledgement (Douyin: {"code": 0, "msg": ...}).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from aftersales.adapters.platforms.connections import CONNECTED, connection_for
from aftersales.entrypoints.api.context import get_deps
from aftersales.service import platform_sync
from aftersales.service.connection_ports import PlatformRefused, PushRefused
from aftersales.service.deps import Deps

router = APIRouter(tags=["platform pushes"])


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@router.post("/push/{platform}/{shop_id}", summary="A platform's signed push (no token)",
             include_in_schema=True)
async def push(platform: str, shop_id: str, request: Request,
               deps: Deps = Depends(get_deps)) -> Response:
    if platform not in CONNECTED:
        return _error(404, "platform_not_connectable", f"no push receiver for {platform!r}")
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        applied = await _run(deps, shop_id, platform, body, headers)
    except PushRefused as e:
        return _error(401, "push_signature_invalid", str(e))
    except PlatformRefused as e:  # the re-fetch failed: the platform pushes again later
        return JSONResponse({"code": 1, "msg": f"fail: {e}"}, status_code=503)
    return JSONResponse({"code": 0, "msg": "success", "applied": applied})


async def _run(deps: Deps, shop_id: str, platform: str, body: bytes,
               headers: dict[str, str]) -> dict[str, str]:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(platform_sync.receive_push, deps, shop_id, platform, body,
                                   headers, connection_for)
