"""The HTTP API (API.md): `create_app()` builds it; nothing happens at import time."""

from aftersales.entrypoints.api.app import create_app

__all__ = ["create_app"]
