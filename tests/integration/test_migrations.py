"""Migrations run on both databases and produce exactly the schema tables.py describes.

Why compare with autogenerate: a column added to tables.py without a migration works in
tests that call `metadata.create_all` and breaks in production; here the only way to a
schema is `aftersales migrate`, so any drift shows up as a diff.
"""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.migrate import alembic_config, current_revision, upgrade
from aftersales.adapters.db.tables import metadata


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
