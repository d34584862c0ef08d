"""The desk's sign-in limits: attempts counted per client address and per user name, and
a bound on the password hashes a process computes at once.

Why counted before the password is checked (not failures after): guesses sent in
parallel all passed a check made before any of them was counted. Each attempt is one
upsert per key that increments and reads back (desk_sessions.attempt), so the N-th
attempt in a window sees N whichever process serves it; past the limit it is refused with
429 before argon2 runs. Unknown names count like known ones (and still cost one dummy
hash, users.sign_in, so timing does not tell them apart). A sign-in that works takes its
attempt back. The address is the connection's peer, or what X-Forwarded-For says only
when the peer is a configured proxy (serving.py).

Why a gate on hashing: argon2id is made to be expensive (19 MiB, two passes), and a flood
of attempts from many addresses would otherwise run one hash per thread of the pool and
starve every other request. At most `concurrent` hashes run per process and `queue` more
sign-ins are under way (counted or waiting, on the event loop); beyond that an attempt is
refused with 429 at once, before it is counted, so nobody's limit pays for a flood.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from aftersales.service import desk_sessions
from aftersales.service.console_ports import DirectoryFor
from aftersales.service.deps import Deps


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


class SignInLimiter:
    """At most `per_name` attempts for a user name and `per_address` from a client address
    within `window` seconds (an office behind one NAT address signs in several people, so
    an address gets more than a name)."""

    def __init__(self, deps: Deps, directory: DirectoryFor, *, per_name: int = 5,
                 per_address: int = 20, window: float = 300.0) -> None:
        self.deps, self.directory = deps, directory
        self.per_name, self.per_address = per_name, per_address
        self.window = timedelta(seconds=window)

    @classmethod
    def from_env(cls, deps: Deps, directory: DirectoryFor) -> SignInLimiter:
        return cls(deps, directory,
                   per_name=_env_int("AFTERSALES_SIGNIN_LIMIT", 5),
                   per_address=_env_int("AFTERSALES_SIGNIN_ADDRESS_LIMIT", 20),
                   window=_env_int("AFTERSALES_SIGNIN_WINDOW_SECONDS", 300))

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        # address first: a blocked address stops before it spends the name's attempts
        return [(_key("address", address), self.per_address),
                (_key("name", username.strip().lower()), self.per_name)]

    def admit(self, username: str, address: str) -> bool:
        """Count this attempt; False (refuse it, 429) when a limit is already reached."""
        return desk_sessions.attempt(self.deps, self.directory, self._keys(username, address),
                                     self.window)

    def forget(self, username: str, address: str) -> None:
        """Take back an admitted attempt that was no failure."""
        desk_sessions.forget_attempt(self.deps, self.directory,
                                     [k for k, _ in self._keys(username, address)], self.window)


class HashGate:
    """Bounds the sign-ins one process works on: at most `concurrent` password checks at
    once, and `queue` more sign-ins admitted (being counted, or waiting for a check); one
    beyond that is refused at once, before it costs a thread or a database write."""

    def __init__(self, concurrent: int, queue: int) -> None:
        self.concurrent, self.queue = concurrent, queue
        self.admitted = 0
        # one semaphore per event loop (asyncio's are bound to the loop that first waits)
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())

    @classmethod
    def from_env(cls) -> HashGate:
        default = max(1, (os.cpu_count() or 2) // 2)
        return cls(_env_int("AFTERSALES_SIGNIN_HASHES", default),
                   _env_int("AFTERSALES_SIGNIN_QUEUE", 16))

    def full(self) -> bool:
        """As many sign-ins under way as the process takes."""
        return self.admitted >= self.concurrent + self.queue

    @asynccontextmanager
    async def place(self) -> AsyncIterator[bool]:
        """True: this sign-in may go on (count it, then check it under `check()`); False
        at once when the process has as many as it takes."""
        if self.full():
            yield False
            return
        self.admitted += 1
        try:
            yield True
        finally:
            self.admitted -= 1

    @asynccontextmanager
    async def check(self) -> AsyncIterator[None]:
        """Held while a password is checked; waits (on the loop, holding no thread)."""
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.concurrent)
        async with gate:
            yield


def _key(kind: str, value: str) -> str:
    """The table's key: a SHA-256, so no names or addresses are kept and the width is fixed."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()
