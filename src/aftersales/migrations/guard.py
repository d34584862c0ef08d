"""Down-migrations never delete a merchant's rows unless told to.

A downgrade that would drop a table holding rows is refused (`DowngradeRefused`, one line:
which tables, how many rows, what to do) unless it runs with `force` (`aftersales migrate
--to REV --force`). The refusal is raised inside the migration transaction, which both
databases run with their DDL (SQLite: BEGIN IMMEDIATE, engine.py), so a refused downgrade
leaves the schema and every row exactly as they were. Where old code can live with what a
newer revision added (a nullable column), the downgrade keeps it instead (0002).
"""

from __future__ import annotations

from alembic import context, op
from sqlalchemy import inspect, text

from aftersales.domain.errors import InvalidInput

FORCE = "force_downgrade"


class DowngradeRefused(InvalidInput):
    code = "downgrade_refused"


def forced() -> bool:
    return bool(context.config.attributes.get(FORCE, False))


def rows(table: str, where: str | None = None) -> int:
    conn = op.get_bind()
    if not inspect(conn).has_table(table):
        return 0
    sql = f'SELECT count(*) FROM "{table}"' + (f" WHERE {where}" if where else "")
    return int(conn.execute(text(sql)).scalar_one())


def refuse_losing(revision: str, *tables: str) -> None:
    """Raise unless forced when any of `tables` holds rows this downgrade would drop."""
    if forced():
        return
    held = {name: n for name in tables if (n := rows(name))}
    if held:
        listed = ", ".join(f"{n} rows of {name}" for name, n in held.items())
        raise DowngradeRefused(
            f"downgrading below revision {revision} would delete {listed}; nothing was "
            "changed (back up with `aftersales backup`, then add --force to delete them)")


def has_column(table: str, column: str) -> bool:
    return any(c["name"] == column for c in inspect(op.get_bind()).get_columns(table))
