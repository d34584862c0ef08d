"""Platform sync adapters: each platform's after-sales payload parsed into a PlatformSnapshot.

    adapter = adapter_for("douyin")
    snapshot = adapter.parse(payload)   # PayloadError (code, message naming the field)

Pure parse-and-map, one module per platform; base.py says why.
"""

from aftersales.adapters.platforms.base import (
    PLATFORMS,
    PayloadError,
    PlatformAdapter,
    adapter_for,
)

__all__ = ["PLATFORMS", "PayloadError", "PlatformAdapter", "adapter_for"]
