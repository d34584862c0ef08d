"""The live connection of each platform family that has one (issue 21: Douyin so far)."""

from __future__ import annotations

from aftersales.adapters.platforms.douyin_client import DouyinConnection
from aftersales.domain.errors import InvalidInput
from aftersales.service.connection_ports import PlatformConnection

CONNECTED = ("douyin",)


def connection_for(platform: str, base_url: str) -> PlatformConnection:
    if platform == "douyin":
        return DouyinConnection(base_url)
    raise InvalidInput(f"no live connection for {platform!r} yet; there is: "
                       f"{', '.join(CONNECTED)}", code="platform_not_connectable")
