"""`petitions db upgrade` brings a database made at schema 0003, with a running petition in it, to head:
every row is still there, unchanged, and the petition runs to its end.

The old database is filled with the rows a current database holds for a petition at its `assign` step,
trimmed to the tables and columns schema 0003 has (what a database of that release stored).
"""
from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, func, select, text
from sqlalchemy.engine import Engine

import engine.models  # noqa: F401 - registers the engine tables
import workflows.models  # noqa: F401 - registers the domain tables
from engine.audit import verify_chain
from engine.db import Base, make_engine, session_factory
from engine.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests.integration.support import Lifecycle
from tests.reliability.driving import drive_to_end
from tests.reliability.invariants import check_invariants
from tests.reliability.servers import petitions_cli
from workflows.database import alembic_config

OLD = "0003"


def _copy_trimmed(source: Engine, target: Engine) -> dict[str, list[str]]:
    """Copy every row of `source` into the tables and columns `target` has; return {table: columns copied}."""
    old = MetaData()
    old.reflect(bind=target)
    copied: dict[str, list[str]] = {}
    with source.connect() as src, target.begin() as dst:
        for table in Base.metadata.sorted_tables:
            if table.name not in old.tables:
                continue
            columns = [c for c in table.columns if c.name in old.tables[table.name].columns]
            rows = [dict(r._mapping) for r in src.execute(select(*columns))]
            if rows:  # through the old table: the current model's Python-side defaults name newer columns
                dst.execute(old.tables[table.name].insert(), rows)
            copied[table.name] = [c.name for c in columns]
        if target.dialect.name == "postgresql":  # explicit ids were inserted: move the sequences past them
            for name in copied:
                for column in Base.metadata.tables[name].primary_key.columns:
                    if column.autoincrement is True or (column.autoincrement == "auto" and column.type.python_type is int):
                        dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', '{column.name}'), "
                                         f"coalesce((SELECT max({column.name}) FROM {name}), 1))"))
    return copied


def _state_compression(bind: Engine) -> str | None:
    """How PostgreSQL compressed the (one) stored workflow state; None on SQLite."""
    if bind.dialect.name != "postgresql":
        return None
    with bind.connect() as conn:
        return conn.execute(text("SELECT pg_column_compression(state) FROM process_instance")).scalar_one()


def _has_lz4(bind: Engine) -> bool:
    with bind.connect() as conn:
        values = conn.execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return bool(values) and "lz4" in values


def _rows(bind: Engine, table: Table, names: list[str]) -> list[tuple]:
    columns = [table.c[n] for n in names]
    with bind.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(*table.primary_key.columns))]


def test_db_upgrade_from_0003_keeps_the_data_and_the_petition_continues(db_kind, db_url, fresh_url, app, session,  # noqa: ARG001
                                                                         runtime, make_user) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.to_assignment(petition, priority="CAO")
    code = petition.tracking_code
    session.rollback()

    old_engine = make_engine(fresh_url)
    try:
        config = alembic_config(fresh_url)
        with old_engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, OLD)
        current = app.extensions["petitions.engine"]
        copied = _copy_trimmed(current, old_engine)
        assert {"petition", "process_instance", "human_task", "audit_event", "app_user", "timer"} <= set(copied)
        before = {name: _rows(old_engine, Base.metadata.tables[name], cols) for name, cols in copied.items()}
        assert before["petition"] and before["process_instance"] and before["audit_event"]
        assert petitions_cli(fresh_url, "db", "current").strip() == OLD
        old_engine.dispose()

        output = petitions_cli(fresh_url, "db", "upgrade")
        head = ScriptDirectory.from_config(config).get_current_head()
        assert f"from {OLD} to {head}" in output
        assert petitions_cli(fresh_url, "db", "current").strip() == head

        after = {name: _rows(old_engine, Base.metadata.tables[name], cols) for name, cols in copied.items()}
        assert after == before  # every row of the old schema is still there, unchanged

        compression = _state_compression(old_engine)  # the state rows stored before the upgrade: pglz
        assert compression in (None, "pglz")

        sessions = session_factory(old_engine)
        with sessions() as upgraded:
            assert verify_chain(upgraded) is None
            # 0010 ranks the open task by its petition's priority (CAO 1), as the hooks would have.
            assert upgraded.execute(select(HumanTask.bpmn_id, HumanTask.priority)
                                    .where(HumanTask.status == TaskStatus.OPEN)).all() == [("assign", 1)]
            steps = drive_to_end(upgraded, runtime, code)
            assert steps[0] == "assign"
            instance = upgraded.scalar(select(ProcessInstance).where(ProcessInstance.business_key == code))
            assert instance.status == InstanceStatus.COMPLETED
            assert upgraded.scalar(select(func.count()).select_from(ProcessInstance)) == 1
            upgraded.commit()
        if compression is not None:
            # 0012: the state written since is lz4-compressed where the server has lz4 (read back above).
            assert _state_compression(old_engine) == ("lz4" if _has_lz4(old_engine) else "pglz")
        check_invariants(sessions, runtime)
    finally:
        old_engine.dispose()
