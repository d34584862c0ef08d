"""The desk's sign-in sessions, sign-in attempts and shared secrets, kept in the database.

So that every server process (`aftersales serve --workers N`) sees the same ones: a person
signed in through one process is signed in on all of them, signing out in one ends the
session everywhere, and the sign-in limits count the attempts of every process. The
console (entrypoints/console/sessions.py) decides what a session holds; this module only
keeps it, under the SHA-256 of the session id.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aftersales.service.console_ports import DirectoryFor
from aftersales.service.deps import Deps

IDLE = timedelta(hours=8)  # a session unused this long is over
TOUCH_EVERY = timedelta(minutes=5)  # how stale `seen_at` may get before a page view renews it


def load(deps: Deps, directory: DirectoryFor, key: str) -> tuple[dict[str, Any], datetime] | None:
    """The session's state and when it was last seen, if it exists and is not idle."""
    with deps.uow() as uow:
        found = directory(uow).get_session(key)
    if found is None or deps.clock.now() - found[1] > IDLE:
        return None
    return found


def create(deps: Deps, directory: DirectoryFor, key: str, state: Mapping[str, Any]) -> None:
    """A new session (and the idle ones gone: sign-ins are rare, the index makes it cheap)."""
    now = deps.clock.now()
    with deps.uow() as uow:
        dirx = directory(uow)
        dirx.drop_sessions_seen_before(now - IDLE)
        dirx.add_session(key, state, now)
        uow.commit()


def save(deps: Deps, directory: DirectoryFor, key: str,
         change: Callable[[dict[str, Any]], Mapping[str, Any]]) -> None:
    """The session's state as `change` makes it from the state stored now, read and written
    under the row's lock: two requests of one session at once (two tabs) each apply their
    own change. A session ended meanwhile (signed out elsewhere) stays ended."""
    with deps.uow() as uow:
        dirx = directory(uow)
        found = dirx.get_session(key, lock=True)
        if found is None:
            return
        dirx.update_session(key, change(found[0]), deps.clock.now())
        uow.commit()


def touch(deps: Deps, directory: DirectoryFor, key: str, seen_at: datetime) -> None:
    """Renew `seen_at` when it is older than TOUCH_EVERY: not a write per page view."""
    now = deps.clock.now()
    if now - seen_at < TOUCH_EVERY:
        return
    with deps.uow() as uow:
        directory(uow).touch_session(key, now)
        uow.commit()


def drop(deps: Deps, directory: DirectoryFor, key: str) -> None:
    with deps.uow() as uow:
        directory(uow).drop_session(key)
        uow.commit()


def attempt(deps: Deps, directory: DirectoryFor, limits: Sequence[tuple[str, int]],
            window: timedelta) -> bool:
    """Count one sign-in attempt against each (key, limit) in turn, in one transaction,
    stopping at the first key past its limit; True when none was (the password may be
    checked). Counting comes before checking, so parallel attempts cannot all pass a check
    made before any of them was counted. Windows that are over go from the table."""
    now = deps.clock.now()
    since = now - window
    with deps.uow() as uow:
        dirx = directory(uow)
        allowed = True
        for key, limit in limits:
            count = dirx.hit_attempt(key, now, since)
            if count == 1:  # a new window: the old ones of every key can go
                dirx.drop_attempts_before(since)
            if count > limit:
                allowed = False
                break
        uow.commit()
    return allowed


def forget_attempt(deps: Deps, directory: DirectoryFor, keys: Sequence[str],
                   window: timedelta) -> None:
    """Take back an attempt that did not fail (a sign-in that worked, or one refused before
    its password was checked because the server was busy)."""
    since = deps.clock.now() - window
    with deps.uow() as uow:
        dirx = directory(uow)
        for key in keys:
            dirx.undo_attempt(key, since)
        uow.commit()


def shared_secret(deps: Deps, directory: DirectoryFor, name: str) -> str:
    """The secret called `name`, made here (random, 256 bits) if no process made it yet:
    concurrent first callers all get the one that was stored first."""
    with deps.uow() as uow:
        value = directory(uow).shared_secret(name, secrets.token_urlsafe(32), deps.clock.now())
        uow.commit()
    return value
