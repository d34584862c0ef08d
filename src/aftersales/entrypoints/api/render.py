"""JSON out: one encoder, bypassing FastAPI's jsonable_encoder on the hot path.

Handlers return the service's view dicts wrapped in `json_response`; FastAPI then skips
re-validating and re-encoding them (the response models exist for the OpenAPI document).
orjson encodes (several times faster than `json` on a case view); the standard `json`
module remains for what orjson refuses (a lone surrogate in stored text) and if orjson
is ever missing. The `default` hook covers the few non-JSON values (datetimes, enums,
Money) a view may hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

from starlette.responses import Response

from aftersales.domain.money import Money


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Money):
        return {"amount": value.amount, "currency": value.currency}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _std_dumps(content: Any) -> bytes:
    # "replace": a stray surrogate in some stored text must not turn an answer into a 500
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=_default).encode("utf-8", "replace")


def _pick() -> Callable[[Any], bytes]:
    try:
        import orjson
    except ImportError:
        return _std_dumps
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def fast(content: Any) -> bytes:
        try:
            return orjson.dumps(content, default=_default, option=options)
        except TypeError:  # e.g. a lone surrogate orjson refuses: the lenient path
            return _std_dumps(content)

    return fast


dumps = _pick()


class ApiJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return ApiJSONResponse(content, status_code=status, headers=headers)
