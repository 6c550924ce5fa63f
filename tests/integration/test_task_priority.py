"""The petition's priority as the rank of its task rows (`human_task.priority`), on SQLite and PostgreSQL.

New task rows take the rank of the priority in the process data (hook `task_created`); the step that changes
the priority re-ranks the instance's open tasks with one UPDATE, and no other step writes the column.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from engine.models import HumanTask, ProcessInstance, TaskStatus
from tests.integration.support import Lifecycle
from workflows.models import Petition
from workflows.priority import PRIORITY_RANK, rank
from workflows.wiring import refresh_petition


@pytest.fixture
def life(db_kind, session, runtime, make_user) -> Lifecycle:  # noqa: ARG001 - db_kind parametrizes the backend
    return Lifecycle(session, runtime, make_user)


@pytest.fixture
def reranks(life: Lifecycle) -> Iterator[list[str]]:
    """The UPDATE statements that set human_task.priority, as they are sent."""
    seen: list[str] = []
    bind = life.session.get_bind()

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:  # noqa: ARG001
        if statement.lstrip().upper().startswith("UPDATE HUMAN_TASK") and "priority" in statement.lower():
            seen.append(statement)

    event.listen(bind, "before_cursor_execute", spy)
    yield seen
    event.remove(bind, "before_cursor_execute", spy)


def _ranks(life: Lifecycle, petition: Petition) -> dict[str, tuple[str, int]]:
    rows = life.session.scalars(select(HumanTask).where(HumanTask.business_key == petition.tracking_code))
    return {row.bpmn_id: (row.status, row.priority) for row in rows}


def test_the_ranks() -> None:
    assert [rank(p) for p in ("KHAN", "CAO", "THUONG", None, "")] == [0, 1, 2, 2, 2]
    assert PRIORITY_RANK == {"KHAN": 0, "CAO": 1, "THUONG": 2}


@pytest.mark.parametrize("priority", ["KHAN", "CAO", "THUONG"])
def test_tasks_after_classification_take_the_petition_rank_and_other_steps_write_none(
        life: Lifecycle, reranks: list[str], priority: str) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept")
    assert _ranks(life, petition)["classify"] == ("open", 2)  # not classified yet: as THUONG
    life.do(life.intake, petition, "classify", petition_type="KN", category="DIEN", priority=priority,
            within_authority=True, triage_outcome="THUOC_THAM_QUYEN")
    assert _ranks(life, petition)["assign"] == ("open", rank(priority))
    # Classify changed the rank (KHAN, CAO): one UPDATE (here it finds the new row already ranked); THUONG: none.
    assert len(reranks) == (0 if priority == "THUONG" else 1)
    reranks.clear()
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN"], working_days=10)
    ranks = _ranks(life, petition)
    assert ranks["handle"] == ("open", rank(priority)) and ranks["coordinate"] == ("open", rank(priority))
    assert reranks == []


def test_a_new_priority_reranks_the_open_tasks_including_those_of_the_same_step(life: Lifecycle,
                                                                                reranks: list[str]) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept")
    instance = life.session.get(ProcessInstance, petition.instance_id)
    classify = life.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                           HumanTask.status == TaskStatus.OPEN))
    done = life.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                       HumanTask.status == TaskStatus.COMPLETED))
    # A row created earlier in the step, before the data carried the priority (not flushed yet).
    fresh = HumanTask(id="fresh-task", instance_id=instance.id, business_key=instance.business_key,
                      bpmn_id="side", name="Bên", lane="intake", role="intake", priority=2)
    life.session.add(fresh)
    refresh_petition(life.session, instance, {"priority": "KHAN"})
    assert (classify.priority, fresh.priority, done.priority) == (0, 0, 2)
    assert len(reranks) == 1
    life.session.expire_all()
    assert [life.session.get(HumanTask, t).priority for t in (classify.id, fresh.id, done.id)] == [0, 0, 2]
    refresh_petition(life.session, instance, {"priority": "KHAN"})  # unchanged: no statement
    refresh_petition(life.session, instance, {})
    assert len(reranks) == 1
    refresh_petition(life.session, instance, {"priority": "THUONG"})
    assert life.session.get(HumanTask, classify.id).priority == 2 and len(reranks) == 2
    life.session.rollback()
