"""What one engine step asks of the database: each row read once, the step's changes flushed once.

Figures 2 and 5 of docs/performance.md are mostly SQLAlchemy's and psycopg's time per statement and per
flush, so the step's I/O is pinned here by counting (never by timing): a change that reads a row twice again
or flushes half-way makes these fail. The steps' results are checked too, since reading less must not mean
seeing less.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from tests.integration.support import Lifecycle
from workflows import tasks
from workflows.models import Notification, Petition
from workflows.wiring import petition_of

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
CLASSIFY = {"petition_type": "KN", "category": "DIEN", "priority": "THUONG", "within_authority": True,
            "triage_outcome": "THUOC_THAM_QUYEN"}


@pytest.fixture
def life(db_kind, clock, session, runtime, make_user) -> Lifecycle:  # noqa: ARG001 - fixtures order the setup
    return Lifecycle(session, runtime, make_user)  # `clock`: Monday 05/01/2026 (tests/integration/conftest.py)


@contextmanager
def recording(session: Session) -> Iterator[tuple[list[str], list[int]]]:
    """Record the SQL statements sent and the flushes run (with how many objects each wrote) meanwhile."""
    statements: list[str] = []
    flushes: list[int] = []
    engine = session.get_bind()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    def on_flush(flushing: Session, _context: Any, _instances: Any) -> None:
        flushes.append(len(flushing.new) + len(flushing.dirty) + len(flushing.deleted))

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(session, "before_flush", on_flush)
    try:
        yield statements, flushes
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(session, "before_flush", on_flush)


def reads(statements: list[str], table: str) -> list[str]:
    """The statements that read rows of `table` (its columns first in the select list)."""
    return [s for s in statements if s.startswith(f"SELECT {table}.")]


def test_a_completion_reads_each_row_once_and_flushes_once(life: Lifecycle) -> None:
    warm = life.submit()  # the first use of a form reads the deployed version once per process
    life.to_assignment(warm)
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept")
    task_id = life.task_of(life.intake, petition, "classify")
    life.session.commit()
    with recording(life.session) as (statements, flushes):
        tasks.complete(life.session, life.runtime, life.intake, task_id, CLASSIFY)
        life.session.commit()
    assert len(flushes) == 1 and flushes[0] >= 4  # the completed row, the next task, the instance, the petition
    assert len(reads(statements, "process_instance")) == 1  # the lock, with the version's hash
    assert [s for s in statements if "calendar_override" in s] == reads(statements, "process_instance")  # and stamp
    assert reads(statements, "process_definition") == []
    task_reads = reads(statements, "human_task")
    assert len(task_reads) == 1  # the task, the open rows and the petition, under the lock, in one statement
    assert "LEFT OUTER JOIN petition" in task_reads[0]
    assert reads(statements, "petition") == []  # the object-level check and the projection share that row
    assert reads(statements, "timer") == []  # waiting at classify, then at assign: no timer before or after
    life.session.refresh(petition)
    assert life.open_steps(petition) == [("assign", "leader")]
    # The projection ran on the petition it read once.
    assert (petition.status, petition.category, petition.priority) == ("DA_PHAN_LOAI", "DIEN", "THUONG")


def test_a_step_reads_the_timer_rows_only_when_its_state_waited_on_a_timer_or_arms_one(life: Lifecycle) -> None:
    from engine.models import Timer, TimerKind

    petition = life.submit()
    life.to_assignment(petition)
    life.session.commit()

    def engine_timers() -> list[tuple[str, Any]]:
        return [(row.bpmn_id, row.fired_at) for row in life.session.scalars(
            select(Timer).where(Timer.instance_id == petition.instance_id,
                                Timer.kind.in_((TimerKind.BOUNDARY, TimerKind.INTERMEDIATE))))]

    assert engine_timers() == []
    with recording(life.session) as (statements, _flushes):  # waiting at assign (no timer), arms handle's reminder
        life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
        life.session.commit()
    assert len(reads(statements, "timer")) == 1
    armed = engine_timers()
    assert armed and all(fired_at is None for _bpmn_id, fired_at in armed)
    with recording(life.session) as (statements, _flushes):  # waited on handle's timers: their rows must go
        life.do(life.unit, petition, "handle", handling_notes="Đã làm việc với điện lực.")
        life.session.commit()
    assert len(reads(statements, "timer")) == 1
    after = engine_timers()  # draft_answer's own timers, armed by the same step
    assert after and not {bpmn_id for bpmn_id, _ in armed} & {bpmn_id for bpmn_id, _ in after}


def test_the_lock_brings_the_calendar_stamp_and_a_change_made_elsewhere_applies_at_the_next_step(
        life: Lifecycle) -> None:
    from engine.audit import Actor
    from workflows import calendar

    petition = life.submit()
    life.to_assignment(petition)
    life.session.commit()
    seen = (calendar._current, calendar._stamp)
    with Session(life.session.get_bind()) as other:  # e.g. the admin page served by another worker
        calendar.add_override(other, dt.date(2026, 1, 20), "off", "Nghỉ thêm", Actor("admin", "admin"))
        other.commit()
    calendar._current, calendar._stamp = seen  # this process has not seen the change yet
    assert calendar.current_calendar().is_working_day(dt.date(2026, 1, 20))
    with recording(life.session) as (statements, _flushes):
        life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
        life.session.commit()
    lock = reads(statements, "process_instance")[0]
    assert "calendar_override" in lock and "FOR UPDATE" in lock or life.session.get_bind().dialect.name == "sqlite"
    assert [s for s in statements if "count(calendar_override.id)" in s] == [lock]  # the stamp: no read of its own
    assert reads(statements, "calendar_override")  # its change seen: the days read again
    assert calendar._stamp != seen[1]
    assert not calendar.current_calendar().is_working_day(dt.date(2026, 1, 20))  # reloaded for this step


def test_the_check_under_the_lock_still_hides_a_denunciation(life: Lifecycle, make_user: Any) -> None:
    inspector = make_user("thanhtra", "intake", "inspector")
    petition = life.submit("Tố cáo cán bộ")
    life.to_assignment(petition, petition_type="TC")
    task = next(t.task for t in tasks.inbox(life.session, life.runtime, inspector)
                if t.task.business_key == petition.tracking_code)
    life.session.commit()
    with recording(life.session) as (statements, flushes):
        with pytest.raises(NotFound):  # an ordinary intake officer: as if the task did not exist
            tasks.complete(life.session, life.runtime, life.intake, task.id, {"guidance": "x"})
    life.session.rollback()
    assert flushes == [] and not [s for s in statements if s.startswith(("UPDATE", "INSERT"))]
    assert [t.task.bpmn_id for t in tasks.inbox(life.session, life.runtime, inspector)
            if t.task.business_key == petition.tracking_code] == [task.bpmn_id]  # still open


def test_a_reminder_reads_the_open_rows_once_for_its_recipients_and_the_projection(life: Lifecycle,
                                                                                   clock: Any) -> None:
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    instance_id = petition.instance_id
    clock.move_to(dt.datetime(2026, 1, 16, 12, 0, tzinfo=HANOI))  # the reminder of `handle` is due, not the rest
    before = life.session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1)) or 0
    life.session.commit()
    with recording(life.session) as (statements, flushes):
        fired = life.runtime.fire_timers(life.session, instance_id)
        life.session.commit()
    assert [row.bpmn_id for row in fired] and all(row.fired_at is not None for row in fired)
    assert len(flushes) == 1
    assert len(reads(statements, "human_task")) == 1  # the reminder's recipients and the projection share it
    assert len(reads(statements, "petition")) == 1
    reminded = life.session.scalars(select(Notification).where(Notification.id > before)).all()
    assert {n.user_id for n in reminded} >= {life.unit.id}  # the unit's officer holding `handle` was reminded
    assert life.open_steps(petition) == [("handle", "unit")]


def test_a_sweep_batch_reads_each_table_once_for_all_its_timers(life: Lifecycle, clock: Any) -> None:
    # `engine.timers._batch` fires up to 10 timers in one transaction: `Runtime.lock_free` reads the instances
    # (locked), their timer rows, open task rows and petitions once for the batch, not once per timer.
    from engine.timers import fire_due_timers

    petitions = []
    for _ in range(3):
        petition = life.submit()
        life.to_assignment(petition)
        life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
        petitions.append(petition)
    clock.move_to(dt.datetime(2026, 1, 16, 12, 0, tzinfo=HANOI))  # each `handle` reminder is due, not the rest
    before = life.session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1)) or 0
    life.session.commit()
    sessions = life.session.get_bind()  # the sweep opens its own sessions on the same database
    from engine.db import session_factory

    factory = session_factory(sessions)
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(sessions, "before_cursor_execute", on_execute)
    try:
        fired = fire_due_timers(factory, life.runtime)
    finally:
        event.remove(sessions, "before_cursor_execute", on_execute)
    assert fired == 3
    assert len(reads(statements, "process_instance")) == 1  # locked and read together, with their hashes
    assert len([s for s in reads(statements, "timer") if "FROM timer WHERE" in s]) == 1  # the rows (not the claims)
    assert len(reads(statements, "human_task")) == 1  # the reminders' recipients and the projections
    assert len(reads(statements, "petition")) == 1
    life.session.expire_all()
    reminded = life.session.scalars(select(Notification).where(Notification.id > before)).all()
    assert {n.tracking_code for n in reminded} == {p.tracking_code for p in petitions}
    for petition in petitions:
        life.session.refresh(petition)
        assert life.open_steps(petition) == [("handle", "unit")]


def test_the_petition_read_keeps_this_transactions_unflushed_changes(life: Lifecycle) -> None:
    petition = life.submit()
    instance_id = petition.instance_id
    life.session.commit()
    life.session.expire_all()
    # `submit` links a new petition to its instance after the first step, without flushing: the read finds it.
    row = life.session.scalar(select(Petition).where(Petition.id == petition.id))
    row.instance_id = None
    life.session.flush()
    row.instance_id = instance_id
    assert petition_of(life.session, instance_id) is row
    # A change made in this transaction and not flushed is kept, not overwritten by the row as stored.
    life.session.rollback()
    row = life.session.scalar(select(Petition).where(Petition.id == petition.id))
    row.title = "Đã sửa trong giao dịch này"
    assert petition_of(life.session, instance_id).title == "Đã sửa trong giao dịch này"
    life.session.rollback()
    assert petition_of(life.session, instance_id).title == "Mất điện kéo dài tại nhà xưởng"
