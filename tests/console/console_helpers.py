"""Helpers for the console's fast tests: CSRF tokens, signing in, a real tiny PNG."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

from aftersales.entrypoints.console.sample import PASSWORD, Sample

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: Any, username: str, password: str = PASSWORD) -> str:
    """Signs in; returns the CSRF token of the new session."""
    token = csrf_of(client.get("/login").text)
    resp = client.post("/login", data={"csrf": token, "username": username, "password": password})
    assert resp.status_code == 303, resp.text
    return csrf_of(client.get("/workflow").text)


def buyer_in(client: Any, sample: Sample) -> str:
    page = client.get(f"/portal/login?token={sample.buyer_token}")
    assert page.status_code == 200, page.text
    resp = client.post("/portal/login", data={"csrf": csrf_of(page.text),
                                              "token": sample.buyer_token})
    assert resp.status_code == 303, resp.text
    return csrf_of(client.get("/portal").text)


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real, tiny PNG (the upload path sniffs content, so it must be one)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
