"""A header-read timeout for uvicorn, which has none (docs/decisions.md "Client timeouts").

uvicorn 0.54 times out a connection only between requests (`timeout_keep_alive`, armed
after a response). A client that connects and sends nothing, or sends half a request
line or half its headers and then stalls (slowloris), holds its connection and its file
descriptor for ever. These protocols close a connection whose request headers have not
all arrived within `header_timeout` seconds of the connection opening or of the previous
response. A request whose headers are in is not timed here (a slow body upload is the
nginx front's `client_body_timeout`, deploy/).

The timeout is read from AFTERSALES_HEADER_TIMEOUT (`aftersales serve --header-timeout`
sets it) so that it reaches every worker process uvicorn spawns.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_ENV = "AFTERSALES_HEADER_TIMEOUT"
DEFAULT_HEADER_TIMEOUT = 10.0


class _HeaderTimeout:
    """Mixed in before uvicorn's protocol class; uses its `loop`, `transport`, `cycle`."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        raw = os.environ.get(HEADER_TIMEOUT_ENV, "")
        self.header_timeout = float(raw) if raw.strip() else DEFAULT_HEADER_TIMEOUT
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        self._disarm()
        if self.header_timeout > 0:
            self._header_timer = self.loop.call_later(self.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _timed_out(self) -> None:
        """No request in progress (none began, or the last one was answered): close."""
        self._header_timer = None
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.transport.close()


class TimedH11Protocol(_HeaderTimeout, H11Protocol):
    pass


class TimedHttpToolsProtocol(_HeaderTimeout, HttpToolsProtocol):
    pass


def protocol_class() -> str:
    """The import string of the protocol `serve` runs: httptools when installed (uvicorn's
    own "auto" choice), else h11."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "aftersales.entrypoints.api.connections:TimedH11Protocol"
    return "aftersales.entrypoints.api.connections:TimedHttpToolsProtocol"
