"""designer drafts and definition status

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

`process_draft`: models being edited in the designer (one BPMN file and its forms, with author and the
version it was opened from). `process_definition` records who deactivated a version and when (the
`active` flag itself exists since 0001; new instances take the newest active version).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_by', sa.String(length=150), nullable=True))
        batch_op.add_column(sa.Column('deactivated_at', engine.db.UTCDateTime(timezone=True), nullable=True))

    op.create_table('process_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=200), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('bpmn', sa.Text(), nullable=False),
    sa.Column('forms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('base_definition_id', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=150), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['base_definition_id'], ['process_definition.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('process_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_draft_process_id'), ['process_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_draft_process_id'))

    op.drop_table('process_draft')
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('deactivated_by')
