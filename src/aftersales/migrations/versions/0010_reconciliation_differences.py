"""reconciliation_differences: platform-reported refunds that did not fit the order;
an index on refunds (status, created_at) for the worker's pending entries

A refund the platform reports is booked only up to what the order has left; the rest (or a
figure that differs from our own refund of the case) is kept here for finance, not booked.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aftersales.migrations.guard import refuse_losing

revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reconciliation_differences',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('shop_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('reported', sa.BigInteger(), nullable=False),
    sa.Column('booked', sa.BigInteger(), nullable=False),
    sa.Column('difference', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                            name=op.f('fk_reconciliation_differences_case_id_cases')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'],
                            name=op.f('fk_reconciliation_differences_order_id_orders')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'],
                            name=op.f('fk_reconciliation_differences_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_differences')),
    sa.UniqueConstraint('case_id', 'reference',
                        name=op.f('uq_reconciliation_differences_case_id_reference'))
    )
    with op.batch_alter_table('reconciliation_differences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_differences_shop_id_at'),
                              ['shop_id', 'at'], unique=False)
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_status_created_at'),
                              ['status', 'created_at'], unique=False)


def downgrade() -> None:
    refuse_losing(revision, 'reconciliation_differences')  # what finance must still look at
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_status_created_at'))
    with op.batch_alter_table('reconciliation_differences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_differences_shop_id_at'))
    op.drop_table('reconciliation_differences')
