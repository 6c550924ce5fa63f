"""The schema's indexes for the engine step's reads and for every foreign key (migration 0013), on both databases.

The database is built by the migrations (the app fixture runs them), so these check what a deployment has, not
only what the models declare.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

from engine import timers
from engine.db import is_sqlite

BOTH = pytest.mark.usefixtures("db_kind")  # SQLite and PostgreSQL


def _leading_columns(session: Session, table: str) -> set[str]:
    """The first column of every index, primary key and unique constraint of `table`."""
    found = inspect(session.get_bind())
    leading = {ix["column_names"][0] for ix in found.get_indexes(table) if ix["column_names"]}
    leading |= {uq["column_names"][0] for uq in found.get_unique_constraints(table) if uq["column_names"]}
    primary = found.get_pk_constraint(table)["constrained_columns"]
    return leading | ({primary[0]} if primary else set())


@BOTH
def test_every_foreign_key_leads_an_index(session: Session) -> None:
    # A foreign key without an index makes every lookup through it (the petition of an instance, read by every
    # engine step) and every referential check on delete a scan of the whole table.
    found = inspect(session.get_bind())
    missing = [f"{table}.{fk['constrained_columns'][0]}"
               for table in found.get_table_names()
               for fk in found.get_foreign_keys(table)
               if fk["constrained_columns"][0] not in _leading_columns(session, table)]
    assert missing == []


@BOTH
def test_the_petition_of_an_instance_is_indexed(session: Session) -> None:
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(session.get_bind()).get_indexes("petition")}
    assert indexes["ix_petition_instance_id"] == ["instance_id"]


@BOTH
def test_the_claim_index_holds_only_unfired_timers_in_claim_order(session: Session) -> None:
    indexes = {ix["name"]: ix for ix in inspect(session.get_bind()).get_indexes("timer")}
    assert "ix_timer_due" not in indexes
    assert indexes["ix_timer_open_due"]["column_names"] == ["due_at", "id"]
    if is_sqlite(session):
        sql = session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_timer_open_due'")).scalar_one()
    else:
        sql = session.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_timer_open_due'")).scalar_one()
    assert "fired_at IS NULL" in sql



def _plan(session: Session, statement: str, params: object) -> str:
    """EXPLAIN a statement as the driver receives it, with scans that ignore order made dear."""
    conn = session.connection()
    # A test database is small: without this the planner may rightly prefer to read it all.
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params))


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_the_claim_reads_the_index_in_order_without_sorting(db_kind: str, session: Session) -> None:
    # The claim's own statement (engine.timers._claim_many), as the sweep sends it to the driver.
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        captured.append((statement, parameters))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", capture)
    try:
        timers._claim_many(session, dt.datetime(2026, 1, 16, tzinfo=dt.timezone.utc), {1, 2}, 10)
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    statement, params = captured[-1]
    plan = _plan(session, statement, params)
    session.rollback()
    assert "ix_timer_open_due" in plan
    assert "Sort" not in plan


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_the_petition_of_an_instance_reads_its_index(db_kind: str, session: Session) -> None:
    from workflows.wiring import _PETITION_OF

    compiled = _PETITION_OF.compile(session.get_bind())
    plan = _plan(session, str(compiled), compiled.construct_params({"instance_id": 1}))
    session.rollback()
    assert "ix_petition_instance_id" in plan


@BOTH
def test_the_migrated_indexes_match_the_models(session: Session) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.db import Base

    with session.get_bind().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "index" in repr(d[0] if isinstance(d, list) else d[0]).lower()] == []
