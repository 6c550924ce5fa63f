"""reliability (idempotency keys, serialized-format version)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

The serialized-format version already has its column (`process_instance.serializer_version`, 0001); the
runtime checks it, and the version inside the state, before deserializing.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_key',
    sa.Column('scope', sa.String(length=50), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key')
    )


def downgrade() -> None:
    op.drop_table('idempotency_key')
