"""security (login throttling, server-side sessions, rate limits)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_web_session_user_id'), 'web_session', ['user_id'], unique=False)
    op.create_table('rate_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_rate_event_bucket_key_at', 'rate_event', ['bucket', 'key', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_rate_event_bucket_key_at', table_name='rate_event')
    op.drop_table('rate_event')
    op.drop_index(op.f('ix_web_session_user_id'), table_name='web_session')
    op.drop_table('web_session')
