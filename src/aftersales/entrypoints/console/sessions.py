"""Console sessions: a random id in a signed, HttpOnly, SameSite=Lax cookie; state on the server.

Why server-side: signing out must really end a session (a stolen cookie dies with it), and
sign-in must issue a brand-new id so a session id planted before sign-in is worthless
(fixation). The state lives in the database (service/desk_sessions.py), under the SHA-256
of the id, so every server process shares it: `aftersales serve --workers N` signs nobody
out, and signing out in one process ends the session in all. A request loads its session
once; the desk writes it back when the request changed it (a flash message, another shop).
CSRF tokens are bound to the session (an HMAC of its id), and before sign-in to a signed
random "pre-session" cookie, so the sign-in form is protected too; the signing key is
AFTERSALES_SECRET_KEY, or one made once and kept in the database for all processes.
The sign-in limits (signin.py) count in the database too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, TimestampSigner

from aftersales.domain.vocabulary import Role
from aftersales.service import desk_sessions
from aftersales.service.console_ports import DirectoryFor
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal

SESSION_COOKIE = "as_session"
PRE_COOKIE = "as_pre"
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
    flashes: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    # as stored: what `state()` was when read or last written, and when it was last used
    # (the table keeps when it was made)
    kept: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    seen_at: datetime | None = field(default=None, repr=False, compare=False)

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

    def state(self) -> dict[str, Any]:
        """What is kept of the session (JSON): everything but its id and last use."""
        return {
            "accounts": [{"user_id": a.user_id, "shop_id": a.shop_id, "shop_name": a.shop_name,
                          "role": a.principal.role.value, "buyer_id": a.principal.buyer_id,
                          "actor_id": a.principal.actor_id} for a in self.accounts],
            "current": self.current, "display_name": self.display_name,
            "flashes": [list(f) for f in self.flashes], "data": dict(self.data),
        }

    @classmethod
    def from_state(cls, sid: str, state: dict[str, Any]) -> Session:
        accounts = [Account(a["user_id"], a["shop_id"], a["shop_name"],
                            Principal(a["shop_id"], Role(a["role"]), a["buyer_id"], a["actor_id"]))
                    for a in state["accounts"]]
        return cls(sid, accounts, current=int(state["current"]),
                   display_name=state["display_name"],
                   flashes=[(str(k), str(t)) for k, t in state["flashes"]],
                   data=dict(state["data"]))


class SessionStore:
    """Sessions by signed cookie, kept by desk_sessions; the signing key made on first use."""

    def __init__(self, deps: Deps, directory: DirectoryFor, secret: str | None = None) -> None:
        self.deps, self.directory = deps, directory
        self._secret: bytes | None = None
        self._signer: TimestampSigner | None = None
        self._lock = threading.Lock()
        if secret:
            self._use(secret)

    def _use(self, secret: str) -> None:
        self._secret = secret.encode()
        self._signer = TimestampSigner(secret, salt="aftersales.console.session")

    @property
    def signer(self) -> TimestampSigner:
        if self._signer is None:
            with self._lock:
                if self._signer is None:
                    self._use(desk_sessions.shared_secret(self.deps, self.directory,
                                                          "console_signing_key"))
        assert self._signer is not None
        return self._signer

    @property
    def secret(self) -> bytes:
        _ = self.signer
        assert self._secret is not None
        return self._secret

    # --- sessions ------------------------------------------------------------------------
    def create(self, accounts: list[Account], display_name: str,
               data: dict[str, Any] | None = None) -> tuple[Session, str]:
        """A new session with a fresh random id; returns it and its signed cookie value."""
        sid = secrets.token_urlsafe(32)
        session = Session(sid, accounts, display_name=display_name, data=dict(data or {}))
        desk_sessions.create(self.deps, self.directory, _key(sid), session.state())
        session.kept = session.state()
        return session, self.signer.sign(sid).decode()

    def get(self, cookie: str | None) -> Session | None:
        sid = self._sid(cookie)
        if sid is None:
            return None
        found = desk_sessions.load(self.deps, self.directory, _key(sid))
        if found is None:
            return None
        state, seen_at = found
        try:
            session = Session.from_state(sid, state)
        except (KeyError, TypeError, ValueError):  # written by another version: sign in again
            return None
        session.kept, session.seen_at = state, seen_at
        return session

    def persist(self, session: Session) -> None:
        """Write back what this request changed in the session, else renew its last use
        now and then (desk_sessions.touch)."""
        state, kept = session.state(), session.kept
        if state != kept:
            desk_sessions.save(self.deps, self.directory, _key(session.id),
                               lambda stored: _merged(stored, kept, state))
            session.kept = state
        elif session.seen_at is not None:
            desk_sessions.touch(self.deps, self.directory, _key(session.id), session.seen_at)

    def destroy(self, cookie: str | None) -> None:
        sid = self._sid(cookie)
        if sid is not None:
            desk_sessions.drop(self.deps, self.directory, _key(sid))

    def _sid(self, cookie: str | None) -> str | None:
        """The id a cookie we signed carries, or None (missing, forged or too old)."""
        if not cookie:
            return None
        try:
            return self.signer.unsign(cookie, max_age=MAX_AGE).decode()
        except BadSignature:
            return None

    # --- CSRF ----------------------------------------------------------------------------
    def new_pre_cookie(self) -> str:
        return self.signer.sign(secrets.token_urlsafe(24)).decode()

    def pre_id(self, cookie: str | None) -> str | None:
        """The pre-session's random id, signed the way a session's is."""
        return self._sid(cookie)

    def csrf_token(self, bound_to: str) -> str:
        return hmac.new(self.secret, b"csrf:" + bound_to.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, bound_to: str | None, token: str | None) -> bool:
        if not bound_to or not token:
            return False
        return hmac.compare_digest(self.csrf_token(bound_to), token)


def _merged(stored: dict[str, Any], kept: dict[str, Any] | None, mine: dict[str, Any]
            ) -> dict[str, Any]:
    """The stored state with this request's changes (`kept` → `mine`) applied, so that two
    requests of one session at once keep both: a shop switched in one tab and a message
    flashed in another. Flash messages: those this request showed go, those it added
    come; page data: key by key."""
    if kept is None:
        return mine
    out = dict(stored)
    for name in ("accounts", "current", "display_name"):
        if mine[name] != kept[name]:
            out[name] = mine[name]
    shown = [f for f in kept["flashes"] if f not in mine["flashes"]]
    added = [f for f in mine["flashes"] if f not in kept["flashes"]]
    out["flashes"] = [f for f in stored.get("flashes", []) if f not in shown] + added
    data = dict(stored.get("data", {}))
    for name in {*kept["data"], *mine["data"]}:
        if name not in mine["data"]:
            data.pop(name, None)
        elif kept["data"].get(name, _ABSENT) != mine["data"][name]:
            data[name] = mine["data"][name]
    out["data"] = data
    return out


_ABSENT = object()


def _key(secret: str) -> str:
    """The database's name for a session (its id's SHA-256: a leaked table holds no cookie
    anybody could present)."""
    return hashlib.sha256(secret.encode()).hexdigest()
