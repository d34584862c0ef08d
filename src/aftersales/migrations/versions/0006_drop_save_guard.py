"""PostgreSQL: drop aftersales_one_case, the in-SQL check of the deleted one-statement save

Migration 0005 made it for a case save sent without waiting for its answer. Every save now
runs through SQLAlchemy and reads its own row count (adapters/db/store.py), so nothing
calls the function. The downgrade makes it again, as 0005 did. SQLite has nothing to drop.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION aftersales_one_case(n bigint, case_id text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF n <> 1 THEN
        RAISE EXCEPTION 'case % was changed by someone else; reload and retry', case_id
            USING ERRCODE = 'ASV01';
    END IF;
    RETURN n;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS aftersales_one_case(bigint, text)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
