"""A deep instance's finished history moves to `process_task_archive`; execution and the history view do not change.

The petition's one unbounded loop (the leader returns the draft, the unit drafts again) deepens SpiffWorkflow's
task tree at every turn. `engine.compaction` keeps the stored tree between `KEEP` and `TRIGGER` levels above
the unfinished tasks and archives the rest; these tests drive the same petition with and without it.
"""
from __future__ import annotations

import json

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine import compaction
from engine.errors import Conflict
from engine.models import ProcessInstance, TaskArchive
from tests.integration.support import Lifecycle
from workflows import audit_trail
from workflows.models import Petition
from workflows.sla import request_extension

RETURN = {"decision": "return", "return_reason": "Bổ sung số liệu."}
TURNS = 45  # 90 steps: about 225 levels, so the tree is cut at least twice


@pytest.fixture
def life(db_kind, session, runtime, make_user) -> Lifecycle:  # on SQLite and on PostgreSQL
    return Lifecycle(session, runtime, make_user)


def _draft(turn: int) -> dict[str, str]:
    return {"answer_text": f"Dự thảo lần {turn}.", "result_type": "DA_GIAI_QUYET"}


def _loop(life: Lifecycle, petition: Petition, turns: int, *, cold_every: int = 0) -> None:
    for turn in range(turns):
        if cold_every and turn % cold_every == 0:
            life.runtime.workflows.clear()  # the next step restores the compacted tree from its JSON
        life.do(life.leader, petition, "approve", **RETURN)
        life.do(life.unit, petition, "draft_answer", **_draft(turn))


def _workflow(life: Lifecycle, petition: Petition):
    return life.runtime.load(life.session, life.session.get(ProcessInstance, petition.instance_id))


def _archives(life: Lifecycle, petition: Petition) -> list[str]:
    return list(life.session.scalars(select(TaskArchive.record).where(
        TaskArchive.instance_id == petition.instance_id).order_by(TaskArchive.id)))


def _finish(life: Lifecycle, petition: Petition) -> ProcessInstance:
    life.answer_and_send(petition)
    life.do(life.enterprise_user, petition, "confirm", rating="hai_long")
    instance = life.session.get(ProcessInstance, petition.instance_id)
    life.session.refresh(instance)
    return instance


def test_a_deep_petition_keeps_a_bounded_tree_and_ends_the_same(life: Lifecycle) -> None:
    shallow = life.submit()
    life.to_answer(shallow)
    shallow_tasks = len(_workflow(life, shallow).tasks)
    petition = life.submit()
    life.to_answer(petition)
    _loop(life, petition, TURNS, cold_every=7)
    workflow = _workflow(life, petition)
    depth = len(compaction.frontier(workflow)) - 1
    assert compaction.KEEP <= depth <= compaction.TRIGGER
    assert len(workflow.tasks) < 4 * shallow_tasks  # without compaction: about 9 more tasks per step
    records = _archives(life, petition)
    assert len(records) >= 2
    cut = [task for text in records for task in json.loads(text)["tasks"]]
    assert all(task["state"] & TaskState.FINISHED_MASK for task in cut)
    assert not {task["id"] for task in cut} & {str(task_id) for task_id in workflow.tasks}
    # The data the process carries is the newest draft's, whatever was cut.
    [ready] = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert ready.task_spec.bpmn_id == "approve" and ready.data["answer_text"] == f"Dự thảo lần {TURNS - 1}."
    instance = _finish(life, petition)
    assert (instance.status, instance.end_event) == ("completed", "end_closed")


def test_the_history_view_shows_the_archived_steps_as_if_nothing_was_cut(life: Lifecycle) -> None:
    petitions = []
    for compact in (False, True):
        life.runtime.compact = compact
        petition = life.submit()
        life.to_answer(petition)
        _loop(life, petition, TURNS)
        petitions.append(petition)
    life.runtime.compact = True
    plain, compacted = petitions
    assert _archives(life, plain) == [] and len(_archives(life, compacted)) >= 2
    assert len(_workflow(life, compacted).tasks) < len(_workflow(life, plain).tasks) / 2
    traces = [audit_trail.path_taken(life.session, life.runtime, p) for p in petitions]
    assert all(trace.from_state for trace in traces)
    assert traces[1].order == traces[0].order
    assert traces[1].order.count("draft_answer") == TURNS + 1 and traces[1].order[0] == "start"
    assert traces[1].flows == traces[0].flows and traces[1].taken == traces[0].taken
    assert traces[1].current == traces[0].current == ["approve"]
    for bpmn_id, element in traces[0].elements.items():
        assert [v.actor for v in traces[1].elements[bpmn_id].visits] == [v.actor for v in element.visits], bpmn_id


def _with_refused_extension(life: Lifecycle, *, compact: bool) -> tuple[Petition, dict]:
    """A petition whose unit asked for an extension (refused) early, then looped; return it and its final data."""
    life.runtime.compact = compact
    try:
        petition = life.submit()
        life.to_answer(petition)
        life.do(life.leader, petition, "approve", **RETURN)  # draft_answer is open: the unit may ask now
        request_extension(life.session, life.runtime, life.unit, petition.tracking_code, 5, "Chờ số liệu của EVNHN.")
        life.session.commit()
        life.do(life.leader, petition, "approve_extension", extension_decision="refuse", extension_note="Làm đúng hạn.")
        life.do(life.unit, petition, "draft_answer", **_draft(0))
        _loop(life, petition, TURNS)
        workflow = _workflow(life, petition)
        extension_tasks = [t for t in workflow.tasks.values() if t.task_spec.bpmn_id == "approve_extension"]
        assert bool(extension_tasks) is not compact  # with compaction, its branch was cut away
        life.do(life.leader, petition, "approve", **RETURN)
        with pytest.raises(Conflict, match="already been requested"):
            request_extension(life.session, life.runtime, life.unit, petition.tracking_code, 3, "Lần hai")
        life.session.rollback()
        life.do(life.unit, petition, "draft_answer", **_draft(TURNS))
        instance = _finish(life, petition)
        assert (instance.status, instance.end_event) == ("completed", "end_closed")
        return petition, dict(life.runtime.load(life.session, instance).data)
    finally:
        life.runtime.compact = True


def test_an_extension_decided_in_the_archived_history_still_counts(life: Lifecycle) -> None:
    # The count comes from human_task; the tree no longer holds the decided approval (asserted inside).
    plain, plain_data = _with_refused_extension(life, compact=False)
    compacted, data = _with_refused_extension(life, compact=True)
    assert _archives(life, plain) == [] and _archives(life, compacted)
    # The ended extension branch's end event stays under the root, so the process data at the end (which
    # SpiffWorkflow's end join merges from every ended branch) is the same as without a cut.
    assert data.pop("tracking_code") == compacted.tracking_code and plain_data.pop("tracking_code")
    assert data == plain_data and data["answer_text"] == f"Dự thảo lần {TURNS}."


def test_a_cut_that_would_drop_an_unfinished_task_is_not_made(life: Lifecycle) -> None:
    life.runtime.compact = False
    try:
        petition = life.submit()
        life.to_answer(petition)
        _loop(life, petition, TURNS)
    finally:
        life.runtime.compact = True
    workflow = _workflow(life, petition)
    chain = compaction.frontier(workflow)
    assert len(chain) - 1 > compaction.TRIGGER
    old = chain[5]  # far above the kept levels
    old._state = TaskState.WAITING
    before = len(workflow.tasks)
    assert compaction.compact(workflow) is None
    assert len(workflow.tasks) == before and workflow.task_tree.children[0] is chain[1]
    old._state = TaskState.COMPLETED
    workflow.last_task = chain[6]
    assert compaction.compact(workflow) is None  # nor one that would drop the last completed task
    workflow.last_task = chain[-1]
    record = compaction.compact(workflow)
    assert record is not None and len(workflow.tasks) < before
    assert workflow.task_tree.children == [chain[-1 - compaction.KEEP]]
    assert len(compaction.frontier(workflow)) - 1 == compaction.KEEP + 1  # the root, then the kept levels
    with pytest.raises(ValueError):
        compaction.compact(workflow, keep=10, trigger=5)


def test_compaction_leaves_a_shallow_petition_alone(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_answer(petition)
    _loop(life, petition, 5)
    assert life.session.scalar(select(func.count()).select_from(TaskArchive)) == 0


def test_a_compacted_petition_migrates_to_a_new_version_and_goes_on(life: Lifecycle) -> None:
    from engine import migration
    from tests import bpmn_edit
    from tests.engine.test_migration import DESIGNER, deploy

    petition = life.submit()
    life.to_answer(petition)
    _loop(life, petition, TURNS)
    assert _archives(life, petition)
    v2 = deploy(life.session, bpmn_edit.insert_task_after_register)
    [verdict] = migration.migrate(life.session, life.runtime, v2, [petition.instance_id], DESIGNER)
    life.session.commit()
    assert verdict.migrated, verdict.reasons
    instance = life.session.get(ProcessInstance, petition.instance_id)
    assert instance.definition_id == v2.id
    _loop(life, petition, 3)
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    assert trace.from_state and trace.order[0] == "start" and trace.order.count("draft_answer") == TURNS + 4
    instance = _finish(life, petition)
    assert (instance.status, instance.end_event) == ("completed", "end_closed")
