"""The API's few knobs, read once when the app is built (never at import time)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from aftersales.entrypoints.retention import idempotency_ttl_seconds

MB = 1024 * 1024


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _env_networks(name: str) -> tuple[str, ...]:
    """Addresses or networks (CIDR), separated by commas or spaces; each must parse (uvicorn
    would take a typo for a host name that never matches, trusting nobody silently)."""
    out = []
    for item in os.environ.get(name, "").replace(",", " ").split():
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not an IP address or network") from None
    return tuple(out)


@dataclass(frozen=True)
class ApiSettings:
    # JSON bodies are small; 1 MiB leaves room for an order with hundreds of lines.
    max_json_bytes: int = 1 * MB
    # Evidence uploads: None → the service's cap (Deps.max_upload_bytes, set from
    # AFTERSALES_MAX_UPLOAD_MB); the body limit adds room for the multipart framing.
    max_upload_bytes: int | None = None
    # A token lookup is one query per request; caching a *valid* token for a few seconds
    # removes it from the hot path. Revocation takes effect within this delay; 0 disables.
    token_cache_seconds: float = 5.0
    # How long a duplicate request waits for the first one with its Idempotency-Key.
    idempotency_wait_seconds: float = 10.0
    # A claim is a lease: a key claimed this long ago with no stored answer belongs to a
    # request that died with its process, and the next retry runs the work again (safe:
    # actions are state-checked, refunds unique per case and round).
    idempotency_lease_seconds: float = 60.0
    # Keys are kept this long (Stripe's 24 h), then reusable with any body; the worker
    # purges them (idempotency_ttl_seconds()).
    idempotency_ttl_seconds: float = 24 * 3600.0
    # Proxies whose X-Forwarded-For names the client (serving.py); none: the peer is.
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> ApiSettings:
        return cls(
            max_json_bytes=_env_int("AFTERSALES_MAX_JSON_BYTES", cls.max_json_bytes),
            token_cache_seconds=_env_float("AFTERSALES_TOKEN_CACHE_SECONDS", cls.token_cache_seconds),
            idempotency_wait_seconds=_env_float("AFTERSALES_IDEMPOTENCY_WAIT_SECONDS",
                                                cls.idempotency_wait_seconds),
            idempotency_lease_seconds=_env_float("AFTERSALES_IDEMPOTENCY_LEASE_SECONDS",
                                                 cls.idempotency_lease_seconds),
            idempotency_ttl_seconds=idempotency_ttl_seconds(),
            trusted_proxies=_env_networks("AFTERSALES_TRUSTED_PROXIES"),
        )

