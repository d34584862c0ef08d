"""PostgreSQL: aftersales_one_case(n, case_id), the in-SQL check of a case save

A case save inside a transaction (statements.pg_save_statement, not `alone`) is sent without
waiting for its answer, together with the COMMIT (uow.py). Its check that it updated
exactly the case row it meant to — at the version the transaction locked — is therefore
made by the server: this function raises SQLSTATE ASV01 (statements.SAVE_CONFLICT), the
transaction is aborted, and the COMMIT that follows in the same round trip does nothing.
VOLATILE, so the planner never folds it. SQLite needs nothing: it saves one statement at a
time and reads each answer.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
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
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS aftersales_one_case(bigint, text)")
