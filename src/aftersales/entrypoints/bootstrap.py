"""The composition root: the one place that picks adapters and wires the service layer."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from aftersales.adapters.blobs import FileBlobStore
from aftersales.adapters.clock import SystemClock
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.uow import SqlUnitOfWork
from aftersales.adapters.evidence_checks import DEFAULT_MAX_PIXELS, ContentChecks
from aftersales.adapters.ids import new_id
from aftersales.adapters.payments import ShopGateway
from aftersales.adapters.profiles import load_profile
from aftersales.adapters.secrets import SecretBox, load_key
from aftersales.domain.errors import InvalidInput
from aftersales.service.deps import Deps, EvidenceQuota
from aftersales.service.ports import Clock, PaymentGateway


@dataclass
class App:
    engine: Engine
    deps: Deps


class ConfigError(InvalidInput):
    code = "invalid_configuration"


def data_dir() -> Path:
    """AFTERSALES_DATA_DIR, default ./var: the folder that holds the evidence folder."""
    return Path(os.environ.get("AFTERSALES_DATA_DIR", "var"))


def evidence_root(explicit: str | Path | None = None) -> Path:
    """Where evidence files live: AFTERSALES_EVIDENCE_DIR, default <data dir>/evidence.

    Its own folder, never the one the SQLite file is in (nor one above it): a backup,
    a disk quota or a clean-up of one then never takes the other with it."""
    return Path(explicit or os.environ.get("AFTERSALES_EVIDENCE_DIR") or data_dir() / "evidence")


def check_apart(engine: Engine, evidence: Path) -> None:
    """Refuse an evidence folder that holds the SQLite database file."""
    db = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not db or db == ":memory:":
        return
    folder, db_file = evidence.resolve(), Path(db).resolve()
    if folder == db_file.parent or folder in db_file.parents:
        raise ConfigError(f"the evidence folder {evidence} holds the database file {db}: "
                          "set AFTERSALES_EVIDENCE_DIR (or AFTERSALES_DATA_DIR) elsewhere")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be above zero, not {value}")
    return value


def evidence_quota() -> EvidenceQuota:
    """AFTERSALES_EVIDENCE_CASE_FILES / _CASE_MB / _BUYER_FILES / _BUYER_MB (a buyer: per shop)."""
    mb = 1024 * 1024
    d = EvidenceQuota()
    return EvidenceQuota(
        case_files=_int_env("AFTERSALES_EVIDENCE_CASE_FILES", d.case_files),
        case_bytes=_int_env("AFTERSALES_EVIDENCE_CASE_MB", d.case_bytes // mb) * mb,
        buyer_files=_int_env("AFTERSALES_EVIDENCE_BUYER_FILES", d.buyer_files),
        buyer_bytes=_int_env("AFTERSALES_EVIDENCE_BUYER_MB", d.buyer_bytes // mb) * mb)


def bootstrap(database_url: str | None = None, *, clock: Clock | None = None,
              payments: PaymentGateway | None = None, engine: Engine | None = None,
              evidence_dir: str | Path | None = None) -> App:
    eng = engine or make_engine(database_url)
    max_mb = int(os.environ.get("AFTERSALES_MAX_UPLOAD_MB", "20"))
    evidence = evidence_root(evidence_dir)
    check_apart(eng, evidence)
    secrets = functools.cache(lambda: SecretBox(load_key(data_dir())))
    deps = Deps(
        uow=lambda: SqlUnitOfWork(eng, new_id, secrets),
        clock=clock or SystemClock(),
        new_id=new_id,
        payments=payments or ShopGateway(),
        profiles=load_profile,
        blobs=FileBlobStore(evidence),
        max_upload_bytes=max_mb * 1024 * 1024,
        checks=ContentChecks(_int_env("AFTERSALES_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS)),
        evidence_quota=evidence_quota(),
    )
    return App(eng, deps)
