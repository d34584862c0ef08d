"""Douyin (抖店) open-API signatures, shared by the connector and the fake platform.

Documented (research A §2.1, §2.6; the official Go SDK utils/sign_util.go, DY-py):
- param_json is canonical JSON: keys sorted recursively, no whitespace, no escaping of
  non-ASCII; the same string is signed and sent as the body.
- request sign: s = "app_key"+app_key+"method"+method+"param_json"+param_json
  +"timestamp"+timestamp+"v"+"2"; pattern = secret + s + secret; hmac-sha256 → hex
  HMAC-SHA256(key=secret, pattern), md5 → hex MD5(pattern); lower-case hex.
- push: header event-sign = hex MD5(app_key + raw body + app_secret), the raw bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def canonical(params: Any) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_sign(app_key: str, secret: str, method: str, param_json: str, timestamp: str,
                 sign_method: str = "hmac-sha256") -> str:
    s = f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v2"
    pattern = f"{secret}{s}{secret}"
    if sign_method == "md5":
        return hashlib.md5(pattern.encode()).hexdigest()
    if sign_method == "hmac-sha256":
        return hmac.new(secret.encode(), pattern.encode(), hashlib.sha256).hexdigest()
    raise ValueError(f"unknown sign_method {sign_method!r}")


def push_sign(app_key: str, body: bytes, secret: str) -> str:
    return hashlib.md5(app_key.encode() + body + secret.encode()).hexdigest()


def push_verified(app_key: str, body: bytes, secret: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(push_sign(app_key, body, secret),
                                                     given.strip().lower())
