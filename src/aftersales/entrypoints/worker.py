"""The deadline worker: `aftersales worker` fires due deadlines until it is told to stop.

Why a poll loop over the database and not in-process timers: a business deadline must
survive restarts and deploys, and any number of workers may run side by side (claims use
FOR UPDATE SKIP LOCKED on PostgreSQL; each batch is one transaction). Each pass reads
"now" once and hands it down. Sandbox shops are left out: their deadlines fall due only
when their own clock is advanced (API.md "Sandbox clocks").

A database outage must not kill the worker — it logs one line and retries with a growing
pause; SIGTERM/SIGINT finish the current pass and exit 0.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy.exc import DBAPIError

from aftersales.adapters.mail import configured_mailer
from aftersales.domain.errors import DomainError
from aftersales.entrypoints.retention import idempotency_ttl_seconds
from aftersales.service import notifications, platform_sync, settlement, timers, writeback
from aftersales.service.deps import Deps
from aftersales.service.ports import Mailer
from aftersales.service.timers import Fired

Log = Callable[[str], None]


def send_queued_notifications(deps: Deps, mailer: Mailer | None = None) -> int:
    """Hook: deliver queued notifications (the outbox) and return how many were sent.

    Called once per pass after the deadlines, so an alert queued by a fired deadline goes
    out promptly. Without SMTP configured (AFTERSALES_SMTP_HOST) alerts stay queued.
    """
    mailer = mailer or configured_mailer()
    return 0 if mailer is None else notifications.send_pending(deps, mailer)


@dataclass
class WorkerStats:
    passes: int = 0
    fired: int = 0
    errors: int = 0
    last: list[Fired] = field(default_factory=list)


def run_pass(deps: Deps, *, batch: int = 200) -> list[Fired]:
    """One pass: everything due now in live (non-sandbox) shops, the 即将超时 alerts for
    deadlines entering their last hours, then the notifications."""
    now = deps.clock.now()
    fired = timers.sweep(deps, now, batch=batch, live_only=True)
    notifications.warn_near_due(deps, now, live_only=True)
    settlement.settle_pending(deps)  # what the payment gateway paid since
    platform_pass(deps, now)
    send_queued_notifications(deps)
    purge_idempotency_keys(deps, now)
    return fired


def platform_pass(deps: Deps, now: datetime) -> None:
    """Connected shops (issue 21): a pull each when its interval passed, then the outbox.

    A platform error is recorded on the connection (last_error) or the outbox row and
    never stops the pass; the next pass tries again."""
    from aftersales.adapters.platforms.base import PayloadError
    from aftersales.adapters.platforms.connections import connection_for

    with deps.uow() as uow:
        connected = [(c.shop_id, c.cursor, c.last_pull_at) for c in uow.connections.connected()]
    every = timedelta(seconds=pull_interval_seconds())
    for shop_id, cursor, last in connected:
        if last is None or now - last >= every:
            try:
                platform_sync.pull(deps, shop_id, connection_for)
            except (DomainError, PayloadError) as exc:  # a payload we cannot read: say so
                with deps.uow() as uow:
                    uow.connections.record_pull(shop_id, cursor or "", now, None,
                                                f"{type(exc).__name__}: {exc}")
                    uow.commit()
    if connected:
        writeback.drain(deps, connection_for)


def pull_interval_seconds() -> float:
    """AFTERSALES_PULL_SECONDS (default 60): how often a connected shop is pulled."""
    return float(os.environ.get("AFTERSALES_PULL_SECONDS", "60"))


def purge_idempotency_keys(deps: Deps, now: datetime) -> int:
    """Forget Idempotency-Keys past their retention (AFTERSALES_IDEMPOTENCY_TTL_HOURS, 24 h):
    the API already treats them as new, this keeps the table from growing for ever."""
    with deps.uow() as uow:
        purged = uow.idempotency.purge_idempotency(now - timedelta(seconds=idempotency_ttl_seconds()))
        uow.commit()
    return purged


def run_worker(deps: Deps, stop: threading.Event, *, interval: float = 1.0, batch: int = 200,
               log: Log = print, max_passes: int | None = None) -> WorkerStats:
    """Loop until `stop` is set (or `max_passes`, for tests); returns what it did."""
    stats = WorkerStats()
    backoff = interval
    while not stop.is_set() and (max_passes is None or stats.passes < max_passes):
        stats.passes += 1
        try:
            stats.last = run_pass(deps, batch=batch)
        except DBAPIError as exc:
            stats.errors += 1
            log(f"worker: database error, retrying in {backoff:.0f}s: {one_line(exc)}")
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        backoff = interval
        stats.fired += len(stats.last)
        for f in stats.last:
            log(f"fired {f.outcome} on case {f.case_id} (due {f.at.isoformat()})")
        stop.wait(interval)
    return stats


def one_line(exc: BaseException) -> str:
    """The first line of a (driver) error: psycopg messages run over several lines."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip()
    return f"{type(inner).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop`: the pass in progress commits or rolls back whole."""

    def _handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
