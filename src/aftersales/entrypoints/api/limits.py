"""A cap on every request body, checked before anything parses it.

JSON bodies under /api/v1 get `max_json_bytes`; evidence uploads (the API's only
multipart route) and anything outside the API (the console's forms, which may carry
evidence too) get `max_upload_bytes` plus room for the multipart framing. A declared Content-Length over
the cap is refused before a byte is read; a chunked body is counted as it arrives and
refused the moment it passes the cap (an HTTPException 413, which the error table turns
into the one error body). Nothing is buffered here.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aftersales.entrypoints.api.errors import error_response

API_PREFIX = "/api/"
UPLOAD_PATH = re.compile(r"^/api/v1/cases/[^/]+/evidence/?$")
MULTIPART_SLACK = 64 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, code: str, limit: int) -> None:
        super().__init__(413, detail=f"the request body exceeds {limit} bytes")
        self.code = code


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json = max_json_bytes
        self.max_upload = max_upload_bytes + MULTIPART_SLACK

    def _limit(self, path: str) -> tuple[int, str]:
        if UPLOAD_PATH.match(path):
            return self.max_upload, "file_too_large"
        if path.startswith(API_PREFIX):
            return self.max_json, "payload_too_large"
        return self.max_upload, "payload_too_large"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, code = self._limit(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = error_response(413, code, f"the request body exceeds {limit} bytes")
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(code, limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
