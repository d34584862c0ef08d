"""Bring a database's schema up to date with Alembic (same migrations on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from aftersales.domain.errors import InvalidInput
from aftersales.migrations.guard import FORCE, DowngradeRefused

__all__ = ["DowngradeRefused", "current_revision", "migrate_to", "revisions", "upgrade"]


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "aftersales:migrations")
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str, *, force: bool = False) -> None:
    """Down to `revision`; refused (DowngradeRefused, nothing changed) where it would delete
    rows, unless `force` (migrations/guard.py)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes[FORCE] = force
        command.downgrade(cfg, revision)


def revisions() -> list[str]:
    """Every revision id, oldest first (the chain is linear)."""
    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def migrate_to(engine: Engine, target: str = "head", *, force: bool = False) -> str | None:
    """Up or down to `target` (a revision id, `head` or `base`); returns the new revision."""
    chain = revisions()
    aliases: dict[str, str | None] = {"head": chain[-1], "base": None}
    wanted = aliases.get(target, target)
    if wanted is not None and wanted not in chain:
        raise InvalidInput(f"no revision {target!r} (known: {', '.join(chain)}, head, base)",
                           code="unknown_revision")
    at = current_revision(engine)
    position: dict[str | None, int] = {None: -1, **{rev: i for i, rev in enumerate(chain)}}
    if at is not None and at not in position:
        raise InvalidInput(f"the database is at revision {at!r}, which this version does not "
                           "know (a newer aftersales migrated it)", code="unknown_revision")
    if position[wanted] < position[at]:
        downgrade(engine, "base" if wanted is None else wanted, force=force)
    elif wanted is not None:
        upgrade(engine, wanted)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


def revision(engine: Engine, message: str) -> None:
    """Developers: autogenerate a new migration from the tables module."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)
