"""Migrations run on both databases and produce exactly the schema tables.py describes.

Why compare with autogenerate: a column added to tables.py without a migration works in
tests that call `metadata.create_all` and breaks in production; here the only way to a
schema is `aftersales migrate`, so any drift shows up as a diff.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.migrate import alembic_config, current_revision, upgrade
from aftersales.adapters.db.tables import metadata
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service import shops
from aftersales.service.errors import Unauthorized


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrate_up_from_empty_reaches_head_and_matches_tables(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == _head()
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert set(metadata.tables) <= names
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    metadata)
        assert diff == [], f"tables.py and the migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_migrate_twice_is_a_no_op(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == _head()
    finally:
        engine.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_0008_downgrade_keeps_what_tokens_mean_and_refuses_what_it_cannot(
        fresh_db_url: str) -> None:
    """Below 0008 there is no expires_at: a token already expired is kept revoked (at its
    expiry), one that would still expire refuses the downgrade with a message saying
    why; up again, every token is as it was."""
    app = bootstrap(fresh_db_url)
    try:
        upgrade(app.engine)
        shop = shops.create_shop(app.deps, "s", "taobao").shop.id
        later = shops.create_token(app.deps, shop, "agent", label="later",
                                   expires_in=timedelta(days=1))
        shops.create_token(app.deps, shop, "agent", label="forever")
        gone = shops.create_token(app.deps, shop, "agent", label="gone",
                                  expires_in=timedelta(seconds=1))
        time.sleep(1.1)
        with pytest.raises(RuntimeError, match="expiry ahead"):
            _downgrade(app.engine, "0005")
        assert current_revision(app.engine) == _head()
        shops.revoke_token(app.deps, later)
        _downgrade(app.engine, "0005")
        assert current_revision(app.engine) == "0005"
        with app.engine.connect() as conn:
            rows = {r.label: r for r in conn.exec_driver_sql(
                "SELECT label, revoked_at FROM api_tokens")}
        assert rows["forever"].revoked_at is None
        assert rows["later"].revoked_at is not None and rows["gone"].revoked_at is not None
        upgrade(app.engine)
        with app.deps.uow() as uow:
            for token in (gone, later):
                with pytest.raises(Unauthorized) as refused:
                    shops.authenticate(uow, token, app.deps.clock.now())
                assert refused.value.code == "token_revoked"
    finally:
        app.engine.dispose()


def _save_guard(engine: Engine) -> bool:
    """Whether PostgreSQL has migration 0005's aftersales_one_case (SQLite: never)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(*) FROM pg_proc WHERE proname = 'aftersales_one_case'").scalar() == 1


def test_0006_drops_the_save_guard_and_its_downgrade_makes_it_again(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    pg = engine.dialect.name == "postgresql"
    try:
        upgrade(engine, "0005")
        assert _save_guard(engine) is pg
        upgrade(engine)
        assert current_revision(engine) == _head()
        assert not _save_guard(engine)
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        assert current_revision(engine) == "0005"
        assert _save_guard(engine) is pg
        upgrade(engine)
        assert not _save_guard(engine)
    finally:
        engine.dispose()
