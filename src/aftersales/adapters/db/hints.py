"""A column the query planner should not pick an index for: `+column` on SQLite.

Why: every query filters on `shop_id` (tables.py says why), and most tables have an index
that starts with `shop_id`. SQLite, without statistics (nobody runs ANALYZE on an
embedded database), may then read a case's rows through that index — every row of the
shop — instead of the index on `case_id` that finds them directly: an action's read of
the case history grew with the shop's size. A unary `+` keeps the condition and takes the
column out of index selection (sqlite.org/optoverview.html, "Disqualifying WHERE clause
terms using unary-+"). PostgreSQL plans from statistics and gets the plain column.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class Unindexed(ColumnElement[Any]):
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type

    # SQLAlchemy declares it a (list) instance attribute: ClassVar would not match it
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012


@compiles(Unindexed)
def _plain(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(Unindexed, "sqlite")
def _sqlite(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column, not to be used to choose an index (SQLite); see the module docstring."""
    return Unindexed(column)
