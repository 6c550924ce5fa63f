"""the audit chain's lock, head and append in one round trip (PostgreSQL)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27

A transaction's events were linked at commit in two round trips under the chain's lock (`audit_chain_head`, then
the INSERT), and between them the app computed the hashes. Every other writer waited for that, including for the
app's thread to be scheduled again (figure 2 of docs/performance.md: on 2 busy CPUs about one backend was always
queued on the lock). `audit_append(key, events)` takes the lock, reads the head, links and inserts the events
in one call, so the lock is held from this call to the COMMIT that follows it.

The hash is the one `engine.audit.compute_hash` computes: SHA-256 of the previous hash followed by the event's
canonical JSON. The app renders that JSON (sorted keys, no spaces, UTF-8), except for the chain index, which only
the function knows: each event comes as the text before its index (`before`) and after it (`after`), and the
function hashes `prev || before || index || after`. The events' columns come as JSON values. A VOLATILE PL/pgSQL
function, for the reason 0014 gives: its head read, after the lock, sees every link committed before.
`audit_chain_head` stays (an older release's code may still be running during a rolling upgrade).
"""
from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append(lock_key bigint, events jsonb)
RETURNS TABLE (chain_index bigint, prev_hash text, hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_index bigint;
    head_hash text;
    ev jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.chain_index, e.hash INTO head_index, head_hash FROM audit_event e ORDER BY e.chain_index DESC LIMIT 1;
    IF NOT FOUND THEN
        head_index := 0;
        head_hash := repeat('0', 64);
    END IF;
    FOR ev IN SELECT value FROM jsonb_array_elements(events) LOOP
        head_index := head_index + 1;
        chain_index := head_index;
        prev_hash := head_hash;
        hash := encode(sha256(convert_to(head_hash || (ev->>'before') || head_index::text || (ev->>'after'), 'UTF8')),
                       'hex');
        INSERT INTO audit_event (chain_index, at, actor, role, action, instance_id, business_key, task_id, bpmn_id,
                                 data, prev_hash, hash)
        VALUES (head_index, (ev->>'at')::timestamptz, ev->>'actor', ev->>'role', ev->>'action',
                (ev->>'instance_id')::integer, ev->>'business_key', ev->>'task_id', ev->>'bpmn_id', ev->'data',
                head_hash, hash);
        head_hash := hash;
        RETURN NEXT;
    END LOOP;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_append(bigint, jsonb)")
