"""The composition root: the one place that picks adapters and wires the service layer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from aftersales.adapters.blobs import FileBlobStore
from aftersales.adapters.clock import SystemClock
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.uow import SqlUnitOfWork
from aftersales.adapters.ids import new_id
from aftersales.adapters.payments import ShopGateway
from aftersales.adapters.profiles import load_profile
from aftersales.service.deps import Deps
from aftersales.service.ports import Clock, PaymentGateway


@dataclass
class App:
    engine: Engine
    deps: Deps


def data_dir() -> Path:
    """Where evidence files live: AFTERSALES_DATA_DIR, default ./var (beside the SQLite file)."""
    return Path(os.environ.get("AFTERSALES_DATA_DIR", "var"))


def bootstrap(database_url: str | None = None, *, clock: Clock | None = None,
              payments: PaymentGateway | None = None, engine: Engine | None = None,
              evidence_dir: str | Path | None = None) -> App:
    eng = engine or make_engine(database_url)
    max_mb = int(os.environ.get("AFTERSALES_MAX_UPLOAD_MB", "20"))
    deps = Deps(
        uow=lambda: SqlUnitOfWork(eng, new_id),
        clock=clock or SystemClock(),
        new_id=new_id,
        payments=payments or ShopGateway(),
        profiles=load_profile,
        blobs=FileBlobStore(evidence_dir or data_dir() / "evidence"),
        max_upload_bytes=max_mb * 1024 * 1024,
    )
    return App(eng, deps)
