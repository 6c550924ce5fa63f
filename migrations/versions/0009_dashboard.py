"""dashboard and reports (what the figures count, and indexes for them)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27

Adds to `petition` the facts the dashboard aggregates (first answer and the due date it was measured
against, authority flag, result type, reopenings) with indexes on the period columns, a covering index of
completed steps for the bottleneck view, and fills the facts for
petitions that already exist from their completed human-task rows (the same facts the engine hook writes).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('petition') as batch:
        batch.add_column(sa.Column('answered_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('answer_due_date', sa.Date(), nullable=True))
        batch.add_column(sa.Column('within_authority', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('result_type', sa.String(length=30), nullable=True))
        batch.add_column(sa.Column('reopen_count', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_petition_received_date', 'petition', ['received_date'])
    op.create_index('ix_petition_answered_at', 'petition', ['answered_at'])
    op.create_index('ix_human_task_completed', 'human_task',
                    ['status', 'completed_at', 'bpmn_id', 'created_at', 'due_date'])
    _backfill(op.get_bind())


def _facts(rows: Any) -> dict[str, dict[str, Any]]:
    # Rows of one petition come in creation order: the first send_answer completed is the first answer; a
    # draft_answer created after the first confirm means the petition was reopened.
    facts: dict[str, dict[str, Any]] = defaultdict(dict)
    confirmed: set[str] = set()
    for key, bpmn_id, status, data, completed_at, due_date in rows:
        fact, data, done = facts[key], data or {}, status == 'completed'
        if bpmn_id == 'send_answer' and done and 'answered_at' not in fact:
            fact['answered_at'], fact['answer_due_date'] = completed_at, due_date
        elif bpmn_id == 'classify' and done and 'within_authority' in data:
            fact['within_authority'] = bool(data['within_authority'])
        elif bpmn_id == 'confirm':
            confirmed.add(key)
        elif bpmn_id == 'draft_answer':
            if done and data.get('result_type'):
                fact['result_type'] = data['result_type']
            if key in confirmed:
                fact['reopen_count'] = 1
    return facts


def _backfill(bind: Any) -> None:
    task = sa.table('human_task', sa.column('business_key'), sa.column('bpmn_id'), sa.column('status'),
                    sa.column('data', engine.db.JSONType),
                    sa.column('created_at', engine.db.UTCDateTime(timezone=True)),
                    sa.column('completed_at', engine.db.UTCDateTime(timezone=True)), sa.column('due_date', sa.Date()))
    rows = bind.execute(
        sa.select(task.c.business_key, task.c.bpmn_id, task.c.status, task.c.data, task.c.completed_at,
                  task.c.due_date)
        .where(task.c.status != 'cancelled',
               task.c.bpmn_id.in_(('send_answer', 'classify', 'draft_answer', 'confirm')))
        .order_by(task.c.business_key, task.c.created_at)
    )
    petition = sa.table('petition', sa.column('tracking_code'),
                        sa.column('answered_at', engine.db.UTCDateTime(timezone=True)),
                        sa.column('answer_due_date', sa.Date()), sa.column('within_authority', sa.Boolean()),
                        sa.column('result_type', sa.String()), sa.column('reopen_count', sa.Integer()))
    for key, values in _facts(rows).items():
        if values:
            bind.execute(petition.update().where(petition.c.tracking_code == key).values(**values))


def downgrade() -> None:
    op.drop_index('ix_human_task_completed', table_name='human_task')
    op.drop_index('ix_petition_answered_at', table_name='petition')
    op.drop_index('ix_petition_received_date', table_name='petition')
    with op.batch_alter_table('petition') as batch:
        for column in ('reopen_count', 'result_type', 'within_authority', 'answer_due_date', 'answered_at'):
            batch.drop_column(column)
