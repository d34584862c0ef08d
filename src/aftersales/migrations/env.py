"""Alembic environment: the connection comes from aftersales.adapters.db.migrate."""

from __future__ import annotations

from alembic import context

from aftersales.adapters.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `aftersales migrate`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
