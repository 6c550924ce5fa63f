"""indexes for the engine step's reads (the petition of an instance; the sweep's claim) and every foreign key

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27

- `ix_petition_instance_id`: every engine step reads the petition of its instance (`workflows.wiring.petition_of`:
  the object-level check, the projection of the step onto the petition). Without an index that was a scan of the
  whole petition table in every completion and every timer fire: 1.2 ms at 11,000 petitions, growing with the
  history (docs/performance.md, figures 2 and 5).
- `ix_timer_open_due` (due_at, id) over the unfired timers only replaces `ix_timer_due` (fired_at, due_at). The
  sweep claims "the oldest 10 due timers, by due time then id"; with many timers due at the same moment (the
  deadlines of a conference's batch all fall at the same end of a working day) the old index could not give that
  order, so every claim read and sorted all due timers (9 ms at 11,000). The new one is read in order and left
  after 10 rows. Fired rows, the bulk of the table, are not in it.
- An index on each foreign key that had none as its leading column (app_user.enterprise_id, incident.timer_id,
  process_draft.base_definition_id, conference_enterprise.enterprise_id, petition_source.open311_client_id):
  their lookups and the referential checks on delete no longer scan. `tests/engine/test_indexes.py` keeps it so.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

UNFIRED = sa.text("fired_at IS NULL")
FOREIGN_KEYS = (
    ("ix_app_user_enterprise_id", "app_user", "enterprise_id"),
    ("ix_incident_timer_id", "incident", "timer_id"),
    ("ix_process_draft_base_definition_id", "process_draft", "base_definition_id"),
    ("ix_conference_enterprise_enterprise_id", "conference_enterprise", "enterprise_id"),
    ("ix_petition_source_open311_client_id", "petition_source", "open311_client_id"),
)


def upgrade() -> None:
    op.create_index('ix_petition_instance_id', 'petition', ['instance_id'])
    op.create_index('ix_timer_open_due', 'timer', ['due_at', 'id'], postgresql_where=UNFIRED, sqlite_where=UNFIRED)
    op.drop_index('ix_timer_due', table_name='timer')
    for name, table, column in FOREIGN_KEYS:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in reversed(FOREIGN_KEYS):
        op.drop_index(name, table_name=table)
    op.create_index('ix_timer_due', 'timer', ['fired_at', 'due_at'])
    op.drop_index('ix_timer_open_due', table_name='timer')
    op.drop_index('ix_petition_instance_id', table_name='petition')
