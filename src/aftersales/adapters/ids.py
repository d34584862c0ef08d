"""Ids: UUIDv7 (RFC 9562) — time-ordered (index-friendly) and with 74 random bits (not guessable).

Why by hand: the `uuid6` package built a `UUID` object and made one `os.urandom` system
call per id, and a bulk import makes several ids per payload (bench/RESULTS.md, import
throughput). Here the random bits come from the operating system's CSPRNG in blocks of
4 KiB, so one system call serves ~400 ids. Each thread keeps its own block (no two
threads can hand out the same bytes) and a forked child discards its inherited block (a
child must not repeat its parent's ids).
"""

from __future__ import annotations

import os
import re
import threading
import time

# What an id a request names can be made of: ours (UUIDv7 text) and the platforms'. One
# that does not match cannot exist, and is refused before it reaches the database.
ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

_BLOCK = 4096
_TAKE = 10  # bytes per id: 80 random bits, of which 74 are used
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RAND_B = (1 << 62) - 1  # the low 62 random bits go after the variant, the top 12 after the version


class _Pool(threading.local):
    def __init__(self) -> None:
        self.block = b""
        self.at = _BLOCK


_pool = _Pool()


def _after_fork() -> None:
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_after_fork)


def _random80() -> int:
    pool = _pool
    if pool.at + _TAKE > len(pool.block):
        pool.block, pool.at = os.urandom(_BLOCK), 0
    start = pool.at
    pool.at = start + _TAKE
    return int.from_bytes(pool.block[start:start + _TAKE], "big")


def new_id() -> str:
    """A UUIDv7 string: 48-bit Unix milliseconds, version 7, 74 random bits, RFC variant."""
    rand = _random80()
    value = ((time.time_ns() // 1_000_000) << 80) | _VERSION_AND_VARIANT \
        | ((rand >> 68) << 64) | (rand & _RAND_B)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
