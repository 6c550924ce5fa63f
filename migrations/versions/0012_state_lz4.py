"""lz4 compression of the stored workflow state (PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27

Every engine step rewrites `process_instance.state` (about 20-60 KB of JSON, TOASTed) and reads it back at the
next one. PostgreSQL compresses it with pglz by default; lz4 compresses to about the same size for a fraction of
the server's CPU (docs/performance.md, figures 2 and 5). Only values written from now on use lz4; the rows
already stored stay readable as they are and are recompressed at their instance's next step. SQLite, and a
PostgreSQL server built without lz4 (or older than 14), are left unchanged.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _lz4_available(bind: sa.engine.Connection) -> bool:
    if bind.dialect.name != "postgresql" or bind.dialect.server_version_info < (14,):
        return False
    values = bind.execute(sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return bool(values) and "lz4" in values


def upgrade() -> None:
    bind = op.get_bind()
    if _lz4_available(bind):
        op.execute("ALTER TABLE process_instance ALTER COLUMN state SET COMPRESSION lz4")


def downgrade() -> None:
    bind = op.get_bind()
    if _lz4_available(bind):
        op.execute("ALTER TABLE process_instance ALTER COLUMN state SET COMPRESSION default")
