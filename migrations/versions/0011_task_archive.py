"""task archive (the finished history cut from deep instances' stored task trees)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27

`process_task_archive` receives, once, the finished tasks that `engine.compaction` cuts from an instance whose
task tree has grown deep (a petition returned for a new draft many times), so that a step's cost no longer
grows with the instance's history (docs/performance.md, figure 4). The process-history view grafts them back.
Existing instances are compacted at their next step, not here.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'process_task_archive',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('record', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_process_task_archive_instance_id', 'process_task_archive', ['instance_id'])


def downgrade() -> None:
    op.drop_index('ix_process_task_archive_instance_id', table_name='process_task_archive')
    op.drop_table('process_task_archive')
