"""API tokens expire (expires_at); sign-in attempts counted per key in one row each

`api_tokens.revoked_at` exists since 0001; this adds `expires_at` beside it. The desk's
sign-in limit moves from one row per failure (console_signin_failures, checked and counted
in two steps) to one counter row per key (signin_attempts), incremented and read back in a
single upsert so parallel guesses cannot pass the check together.

Downgrade keeps what the older schema can hold: a token past its expiry is marked revoked
at that time (it stays unusable); a token that would still expire later cannot be kept
(the old schema would make it permanent), so the downgrade refuses while one exists. The
attempt counters (minutes of sign-in history) are not carried back.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('signin_attempts',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_signin_attempts'))
    )
    with op.batch_alter_table('signin_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signin_attempts_window_start'), ['window_start'],
                              unique=False)
    with op.batch_alter_table('console_signin_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_signin_failures_key_at'))
    op.drop_table('console_signin_failures')


def downgrade() -> None:
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)),
                      sa.column('revoked_at', sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    bind = op.get_bind()
    live = bind.execute(sa.select(sa.func.count()).select_from(tokens).where(
        tokens.c.expires_at > now, tokens.c.revoked_at.is_(None))).scalar_one()
    if live:
        raise RuntimeError(
            f"cannot downgrade below 0008: {live} API token(s) still have an expiry ahead, which "
            "the older schema would turn into tokens that never expire; revoke them first "
            "(aftersales token revoke) or wait until they expire")
    bind.execute(sa.update(tokens).where(tokens.c.expires_at.is_not(None),
                                         tokens.c.revoked_at.is_(None))
                 .values(revoked_at=tokens.c.expires_at))
    op.create_table('console_signin_failures',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_signin_failures'))
    )
    with op.batch_alter_table('console_signin_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_signin_failures_key_at'), ['key', 'at'],
                              unique=False)
    with op.batch_alter_table('signin_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signin_attempts_window_start'))
    op.drop_table('signin_attempts')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
