"""inbox queue index (the open tasks of a lane in inbox order)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

A partial index over the open tasks only, whose column order is the inbox query's: one lane (role, scope
kind, scope value) and then the page order (due date, creation time, id). Each branch of the inbox query
(`engine.inbox.open_tasks`) reads it in order and stops after one page, so the first page of an officer's
inbox costs a few index pages whatever the backlog (docs/performance.md, figure 3). Completed tasks, the
bulk of `human_task`, are not in it.
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
    op.create_index('ix_human_task_open_queue', 'human_task',
                    ['role', 'scope_kind', 'scope_value', 'due_date', 'created_at', 'id'],
                    postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    op.drop_index('ix_human_task_open_queue', table_name='human_task')
