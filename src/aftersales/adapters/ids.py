"""Ids: UUIDv7 — time-ordered (index-friendly) and with 74 random bits (not guessable)."""

from __future__ import annotations

import uuid6


def new_id() -> str:
    return str(uuid6.uuid7())
