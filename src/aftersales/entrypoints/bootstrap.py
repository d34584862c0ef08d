"""The composition root: the one place that picks adapters and wires the service layer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

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


def bootstrap(database_url: str | None = None, *, clock: Clock | None = None,
              payments: PaymentGateway | None = None, engine: Engine | None = None) -> App:
    eng = engine or make_engine(database_url)
    deps = Deps(
        uow=lambda: SqlUnitOfWork(eng, new_id),
        clock=clock or SystemClock(),
        new_id=new_id,
        payments=payments or ShopGateway(),
        profiles=load_profile,
    )
    return App(eng, deps)
