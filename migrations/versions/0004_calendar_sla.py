"""calendar overrides and SLA bookkeeping

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

The working-day calendar's admin-editable days (`calendar_override`). `petitions init` seeds it from the
reference data's `calendar` section; SLA pauses and extensions live in the process data, not in tables.
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('working', 'off')", name='ck_calendar_override_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day')
    )


def downgrade() -> None:
    op.drop_table('calendar_override')
