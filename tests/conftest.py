"""Shared fixtures: both databases, an app with a settable clock, and builders.

Why a fresh PostgreSQL database per test module (and per test where a test counts rows
across the whole database): `make test` runs two xdist workers, and tests that sweep
"everything due" must never see another worker's rows. SQLite gets a temporary file.

PostgreSQL tests skip when the server is unreachable on a developer's machine, but fail
in CI (CI=true): a suite that silently skipped half its storage tests would pass for
the wrong reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from aftersales.adapters.clock import FixedClock
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.migrate import upgrade
from aftersales.domain.case import ActionRequest
from aftersales.domain.orders import Order
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.service import cases, orders, shops
from aftersales.service.casework import Loaded
from aftersales.service.ports import Principal, ShopRecord

# CI replays the same examples on every run (derandomized), so a green main cannot turn red
# by chance; developers' runs keep exploring new examples and find what CI would not.
# No per-example deadline: a loaded 2-core machine must not fail a property by timing.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


PG_HOST = os.environ.get("AFTERSALES_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN = f"host={PG_HOST} port=5432 user=postgres dbname=test connect_timeout=3"
# 2026-03-02 10:00 in Shanghai: every test clock starts here unless it says otherwise.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@cache
def _pg_problem() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def require_postgres() -> None:
    problem = _pg_problem()
    if problem is None:
        return
    message = f"PostgreSQL at {PG_HOST}:5432 unreachable: {problem}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: PostgreSQL tests never skip in CI)")
    pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database for the caller; dropped afterwards (even with connections)."""
    require_postgres()
    name = f"as_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'aftersales.db'}"
    else:
        with postgres_database() as url:
            yield url


@contextmanager
def migrated_engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database per test module and kind; tests keep apart by making their own shops."""
    with database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(params=DATABASES)
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test (for tests that count rows database-wide)."""
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def engine(db_url: str) -> Iterator[Engine]:
    with migrated_engine(db_url) as eng:
        yield eng


@pytest.fixture
def clock() -> FixedClock:
    """Set `clock.at` to move time; sandbox shops keep their own clock in the database."""
    return FixedClock(T0)


@pytest.fixture
def app(engine: Engine, clock: FixedClock, tmp_path: Path) -> App:
    return bootstrap(engine=engine, clock=clock, evidence_dir=tmp_path / "evidence")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database for a module whose tests need PostgreSQL itself."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def pg_app(pg_url: str) -> Iterator[App]:
    """The app on `pg_url`, migrated afresh for each test, its clock fixed at T0."""
    with migrated_engine(pg_url) as engine:
        yield bootstrap(engine=engine, clock=FixedClock(T0))


@dataclass
class Make:
    """Builders with sensible defaults, through the service layer (the one write path)."""

    app: App

    def shop(self, platform: str = "kuaishou", *, sandbox: bool = False,
             name: str = "测试小店") -> ShopRecord:
        return shops.create_shop(self.app.deps, name, platform, sandbox=sandbox)

    def principal(self, shop: ShopRecord, role: str = "agent", buyer_id: str | None = None) -> Principal:
        actor = None if role in ("buyer", "platform") else f"{role}1"
        return Principal(shop.shop.id, Role(role), buyer_id, actor)

    def buyer(self, order: Order) -> Principal:
        return Principal(order.shop_id, Role.buyer, order.buyer_id)

    def order(self, shop: ShopRecord, *, state: str = "delivered", price: int = 19900, quantity: int = 1,
              freight: int = 0, buyer_id: str = "buyer-1", currency: str = "CNY",
              gifts: tuple[tuple[str, int], ...] = (("发圈", 900),),
              accessories: tuple[tuple[str, int], ...] = (("防尘袋", 500),),
              category: str | None = "apparel") -> Order:
        now = self.app.deps.clock.now()
        dates = {
            "shipped_at": None if state == "paid" else now - timedelta(days=6),
            "delivered_at": now - timedelta(days=2) if state in ("delivered", "completed") else None,
            "completed_at": now - timedelta(days=1) if state == "completed" else None,
        }
        line = orders.NewLine(sku="DRESS-RED-M", name="法式连衣裙", unit_price=price, quantity=quantity,
                              paid_amount=price * quantity, attributes={"colour": "红色", "size": "M"},
                              category=category, gifts=gifts, accessories=accessories)
        order, _ = orders.import_order(self.app.deps, self.principal(shop, "platform"), orders.NewOrder(
            platform_order_id=f"P{uuid.uuid4().hex[:16]}", buyer_id=buyer_id,
            paid_at=now - timedelta(days=7), payment_method="alipay", currency=currency,
            freight=freight, free_shipping=freight == 0, lines=(line,), **dates))
        return order

    def case(self, shop: ShopRecord, order: Order | None = None, *, type: str = "return_refund",
             reason: str = "quality_issue", refund_method: str | None = None,
             requested_amount: int | None = None, quantity: int | None = None) -> Loaded:
        order = order or self.order(shop)
        line = order.lines[0]
        return cases.open_case(self.app.deps, self.buyer(order), cases.NewCase(
            order_id=order.id, type=type, reason=reason, lines=((line.id, quantity or line.quantity),),
            requested_amount=requested_amount, refund_method=refund_method, description="测试"))

    def act(self, loaded: Loaded, action: str, role: str = "agent",
            request: ActionRequest | None = None) -> Loaded:
        """Act on the case as `role` (a buyer acts as the case's buyer)."""
        case = loaded.case
        who = Principal(case.shop_id, Role(role), case.buyer_id if role == "buyer" else None,
                        None if role in ("buyer", "platform") else f"{role}1")
        return cases.act(self.app.deps, who, case.id, action, request)


@pytest.fixture
def make(app: App) -> Make:
    return Make(app)
