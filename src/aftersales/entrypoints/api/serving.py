"""How `aftersales serve` runs uvicorn: whose forwarded headers count, and what the logs keep.

Forwarded headers: uvicorn's ProxyHeadersMiddleware (`--forwarded-allow-ips`) replaces the
client's address by the last untrusted one of `X-Forwarded-For`, but by default it trusts
127.0.0.1, so anybody on the machine (or behind a proxy that passes the header through)
could name any address and escape the per-address sign-in limit. `serve` trusts exactly
AFTERSALES_TRUSTED_PROXIES (addresses or networks; none by default: the peer's address is
the client's). Running uvicorn by hand, pass `--forwarded-allow-ips` the same list.

Logs: a buyer's portal link carries its token in the query (`/portal/login?token=…`), and
uvicorn's access log prints the query string; the filter below blanks `token=` values in
every uvicorn record, so the log never holds a working link.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aftersales.entrypoints.api.settings import ApiSettings

_TOKEN_VALUE = re.compile(r"((?:^|[?&;\s\"'])(?:access_)?token=)[^&;\s\"']+", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with every `token=VALUE` of a query string replaced by `token=[redacted]`."""
    return _TOKEN_VALUE.sub(r"\1" + REDACTED, text) if "oken=" in text.lower() else text


class RedactTokens(logging.Filter):
    """Blanks tokens in a record's message and its %-arguments (uvicorn's access record
    passes the path as an argument), before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_filter() -> None:
    """RedactTokens on uvicorn's loggers (once). Called by create_app, so it holds in every
    server process (`--workers` children build the app themselves) and survives uvicorn's
    logging setup (dictConfig replaces handlers, not a logger's filters)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """The keyword arguments of `uvicorn.run` that `serve` adds to host and port."""
    trusted = list(settings.trusted_proxies)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}
