"""the audit chain's lock and head in one round trip (PostgreSQL)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27

Every transaction that records events links them into the chain at commit: take the chain's advisory lock,
read the head (the last index and hash), insert. The lock and the read were two statements, so the lock was
held across two round trips before the insert, and every other writer waited that much longer
(docs/performance.md, figure 2). `audit_chain_head(key)` takes the lock and then reads the head, in one call.

It has to be a function: one plain statement cannot do both, since it reads with the snapshot taken when it
started, before it waited for the lock, and would miss the head committed by the transaction it waited for.
A VOLATILE PL/pgSQL function takes a new snapshot for each statement in it, so its read, after the lock, sees
every chain link committed before the lock was granted. SQLite needs neither (BEGIN IMMEDIATE).
"""
from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_chain_head(lock_key bigint)
RETURNS TABLE (chain_index bigint, hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT e.chain_index::bigint, e.hash::text FROM audit_event e ORDER BY e.chain_index DESC LIMIT 1;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_chain_head(bigint)")
