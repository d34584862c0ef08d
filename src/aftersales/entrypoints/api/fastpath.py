"""The two requests a desk sends most, served without FastAPI's per-request machinery.

`POST /api/v1/cases/{id}/actions/{action}` and `POST /api/v1/cases` are what agents,
warehouse staff, buyers and platform syncs send all day. Through FastAPI each spends about
half a millisecond of CPU before its handler runs — the middleware stack, matching the path
against every route, solving dependencies, building a request object (bench/RESULTS.md) —
as much as the case's whole database work. This layer sits in front of the app and serves
such a request itself when it is plainly well-formed:

- POST to one of those two paths, with no query string and no Idempotency-Key;
- a JSON body (`Content-Type: application/json`) whose Content-Length is within the cap;
- a bearer token the token cache already vouches for (auth.cached_principal);
- a body the route's model accepts, and for opening a case a role that may open one.

The work is the function the FastAPI route calls (`run_action`, `create_case`). On
PostgreSQL it runs inline: in a greenlet on the event loop's own thread, each wait for the
database handed to the loop, which serves other requests meanwhile (adapters/inline.py; at
most 16 at a time; the pool opens and waits for connections on threads: engine.py's
LoopSafePool, without which — a pool of another kind given to the engine — the work
stays on threads).
That saves the two thread hand-offs a request costs (bench/RESULTS.md). On SQLite, whose
driver blocks inside C, or with AFTERSALES_API_INLINE=0, it runs on a thread of this
layer's own (workers.py: less CPU a request than `loop.run_in_executor`, itself ~0.06 ms
less than anyio's `to_thread`; 16 threads, fewer than the database pool's 30 connections,
so that a burst queues here rather than in the pool's checkout). An error the work raises
is rendered by the same `exception_response`.

Any other request — an unknown or missing token, a body that fails validation, an
idempotent retry, a chunked upload — goes to the FastAPI app untouched, its body replayed,
so that every refusal keeps one implementation. tests/api/test_fastpath.py runs one story through both
paths and compares every answer (status, content type, challenge, body with ids and times
blanked).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aftersales.adapters import inline
from aftersales.adapters.db.engine import LoopSafePool
from aftersales.entrypoints.api.auth import bearer_token, cached_principal
from aftersales.entrypoints.api.context import ApiState
from aftersales.entrypoints.api.errors import exception_response
from aftersales.entrypoints.api.routes.actions import run_action
from aftersales.entrypoints.api.routes.cases import OPENERS, create_case
from aftersales.entrypoints.api.schemas.actions import ACTIONS
from aftersales.entrypoints.api.schemas.cases import CaseIn
from aftersales.entrypoints.api.workers import Workers
from aftersales.service.ports import Principal

ACTION_PATH = re.compile(r"/api/v1/cases/([^/]+)/actions/([a-z_]{1,40})")
CASES_PATH = "/api/v1/cases"
MAY_OPEN = frozenset(OPENERS)
# (the route's body model, its work once the body and the caller are known)
Work = Callable[[Principal, BaseModel], Response]


class FastPath:
    def __init__(self, app: ASGIApp, state: ApiState, max_json_bytes: int,
                 threads: int = 16, inline: bool = False) -> None:
        self.app = app
        self.state = state
        self.max_json = max_json_bytes
        self.workers = Workers(threads, "aftersales-fast")
        # PostgreSQL's pool, which never makes the loop's thread wait (engine.py); SQLite's
        # driver blocks inside C and keeps the threads
        self.inline = inline and isinstance(state.app.engine.pool, LoopSafePool)
        self.slots = asyncio.Semaphore(threads)  # inline works at a time

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        route = self._route(scope["path"])
        principal = None if route is None else self._caller(scope)
        if route is None or principal is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away while sending
            return
        model, work = route
        parsed = _parse(model, body)
        if parsed is None or (model is CaseIn and principal.role not in MAY_OPEN):
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            response = await self._run(work, principal, parsed)
        except Exception as exc:  # not the work's (_serve renders those): the workers' own
            response = exception_response(exc)
        self.state.fast_served += 1
        await response(scope, receive, send)

    async def _run(self, work: Work, principal: Principal, body: BaseModel) -> Response:
        if self.inline:
            async with self.slots:
                return await inline.run(_serve, work, principal, body)
        return await self.workers.run(_serve, work, principal, body)

    def _route(self, path: str) -> tuple[type[BaseModel], Work] | None:
        deps = self.state.app.deps
        if path == CASES_PATH:
            return CaseIn, lambda principal, body: create_case(deps, principal, body)  # type: ignore[arg-type]
        found = ACTION_PATH.fullmatch(path)
        if found is None or found[2] not in ACTIONS:
            return None
        case_id, action = found[1], found[2]
        return ACTIONS[action][0], lambda principal, body: run_action(
            deps, principal, case_id, action, body)  # type: ignore[arg-type]

    def _caller(self, scope: Scope) -> Principal | None:
        """The cached caller, if the headers are the plain kind this path serves."""
        auth = ctype = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = auth if auth is not None else value
            elif name == b"content-type":
                ctype = ctype if ctype is not None else value
            elif name == b"content-length":
                length = value
            elif name in (b"idempotency-key", b"transfer-encoding"):
                return None
        if auth is None or ctype is None or length is None or not length.isdigit() \
                or not 0 < int(length) <= self.max_json \
                or ctype.split(b";", 1)[0].strip().lower() != b"application/json":
            return None
        token = bearer_token(auth.decode("latin-1"))
        return None if token is None else cached_principal(self.state, token)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(model: type[BaseModel], body: bytes) -> BaseModel | None:
    try:
        return model.model_validate(orjson.loads(body))
    except (ValueError, TypeError):  # orjson's and pydantic's errors are ValueErrors
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app behind: the body already read, then the connection's own."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def _serve(work: Work, principal: Principal, body: Any) -> Response:
    try:
        return work(principal, body)
    except Exception as exc:  # the error body FastAPI's handlers would give (errors.py)
        return exception_response(exc)
