"""Console sessions: a random id in a signed, HttpOnly, SameSite=Lax cookie; state on the server.

Why server-side: signing out must really end a session (a stolen cookie dies with it), and
sign-in must issue a brand-new id so a session id planted before sign-in is worthless
(fixation). The state lives in this process's memory: `aftersales serve` is one process,
and a restart simply signs everyone out. CSRF tokens are bound to the session (an HMAC of
its id), and before sign-in to a signed random "pre-session" cookie, so the sign-in form
is protected too. Failed sign-ins are counted per username and client address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, TimestampSigner

from aftersales.service.ports import Principal

SESSION_COOKIE = "as_session"
PRE_COOKIE = "as_pre"
IDLE_SECONDS = 8 * 3600
MAX_AGE = 7 * 24 * 3600


@dataclass
class Account:
    """One shop the person may work in: which user row, which shop, which role."""

    user_id: str | None
    shop_id: str
    shop_name: str
    principal: Principal


@dataclass
class Session:
    id: str
    accounts: list[Account]
    current: int = 0
    display_name: str = ""
    created: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.time)
    flashes: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def account(self) -> Account:
        return self.accounts[self.current]

    @property
    def principal(self) -> Principal:
        return self.account.principal

    def flash(self, kind: str, text: str) -> None:
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        return out


class SessionStore:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.signer = TimestampSigner(secret, salt="aftersales.console.session")
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # --- sessions ------------------------------------------------------------------------
    def create(self, accounts: list[Account], display_name: str) -> tuple[Session, str]:
        """A new session with a fresh random id; returns it and its signed cookie value."""
        sid = secrets.token_urlsafe(32)
        session = Session(sid, accounts, display_name=display_name)
        with self._lock:
            self._prune()
            self._sessions[sid] = session
        return session, self.signer.sign(sid).decode()

    def get(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            sid = self.signer.unsign(cookie, max_age=MAX_AGE).decode()
        except BadSignature:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            now = time.time()
            if now - session.seen > IDLE_SECONDS:
                del self._sessions[sid]
                return None
            session.seen = now
            return session

    def destroy(self, cookie: str | None) -> None:
        session = self.get(cookie)
        if session is not None:
            with self._lock:
                self._sessions.pop(session.id, None)

    def _prune(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if now - v.seen > IDLE_SECONDS]:
            del self._sessions[sid]

    # --- CSRF ----------------------------------------------------------------------------
    def new_pre_cookie(self) -> str:
        return self.signer.sign(secrets.token_urlsafe(24)).decode()

    def pre_id(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.signer.unsign(cookie, max_age=MAX_AGE).decode()
        except BadSignature:
            return None

    def csrf_token(self, bound_to: str) -> str:
        return hmac.new(self.secret, b"csrf:" + bound_to.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, bound_to: str | None, token: str | None) -> bool:
        if not bound_to or not token:
            return False
        return hmac.compare_digest(self.csrf_token(bound_to), token)


class RateLimiter:
    """At most `limit` failures per key in `window` seconds; success does not reset others."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.time())) >= self.limit

    def fail(self, key: str) -> None:
        with self._lock:
            now = time.time()
            self._recent(key, now).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)
