"""inbox queue (task priority; the open tasks of a lane in inbox order)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

Adds `human_task.priority`, the task's rank among tasks due the same day (lower first; 100 when the domain
does not rank it), and a partial index over the open tasks only whose column order is the inbox query's:
one lane (role, scope kind, scope value) and then the page order (due date, priority, creation time, id).
Each branch of the inbox query (`engine.inbox.open_tasks`) reads it in order and stops after one page, so the
first page of an officer's inbox costs a few index pages whatever the backlog (docs/performance.md,
figure 3). Completed tasks, the bulk of `human_task`, are not in it.

The open tasks that exist already get the rank of their petition's priority, as the domain's hooks give new
ones (KHAN 0, CAO 1, otherwise 2: workflows/priority.py); closed tasks keep the default, no inbox reads them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table('human_task') as batch:
        batch.add_column(sa.Column('priority', sa.SmallInteger(), server_default=sa.text('100'), nullable=False))
    op.execute("UPDATE human_task SET priority = ("
               "SELECT min(CASE p.priority WHEN 'KHAN' THEN 0 WHEN 'CAO' THEN 1 ELSE 2 END) FROM petition p "
               "WHERE p.instance_id = human_task.instance_id) "
               "WHERE status = 'open' AND EXISTS (SELECT 1 FROM petition p WHERE p.instance_id = human_task.instance_id)")
    op.create_index('ix_human_task_open_queue', 'human_task',
                    ['role', 'scope_kind', 'scope_value', 'due_date', 'priority', 'created_at', 'id'],
                    postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    op.drop_index('ix_human_task_open_queue', table_name='human_task')
    with op.batch_alter_table('human_task') as batch:
        batch.drop_column('priority')
