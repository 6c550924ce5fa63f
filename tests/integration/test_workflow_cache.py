"""The engine reuses the workflow object it saved at an instance's last step, and only when that is safe.

A hit must behave exactly like a fresh load from the stored JSON; a rolled-back step, a step by another
process (another Runtime) and a state changed behind the engine's back must all fall back to the JSON.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from engine.models import ProcessInstance
from engine.runtime import Runtime
from engine.state import dump_state, state_dict
from tests.integration.support import Lifecycle
from workflows import petitions, tasks
from workflows.wiring import build_runtime


@pytest.fixture
def life(db_kind, session, runtime, make_user) -> Lifecycle:  # noqa: ARG001 - db_kind parametrizes the backend
    return Lifecycle(session, runtime, make_user)


def _state(life: Lifecycle, petition) -> str:
    life.session.expire_all()
    return life.session.get(ProcessInstance, petition.instance_id).state


def test_next_step_reuses_the_saved_object_and_stores_what_a_fresh_load_would(life: Lifecycle) -> None:
    petition = life.submit()
    cache = life.runtime.workflows
    hits = cache.hits
    life.do(life.intake, petition, "register", register_decision="accept")
    assert cache.hits == hits + 1  # the object saved by `submit` was taken
    stored = _state(life, petition)
    # The object kept for the next step serializes to exactly the stored text, and so does a fresh load.
    kept = cache._entries[petition.instance_id]
    assert kept[0] == stored
    fresh = Runtime(life.runtime.hooks, workflow_cache_size=0).load(
        life.session, life.session.get(ProcessInstance, petition.instance_id))
    assert dump_state(fresh) == stored == dump_state(kept[1])
    life.do(life.intake, petition, "classify", petition_type="KN", category="DIEN", priority="THUONG",
            within_authority=True, triage_outcome="THUOC_THAM_QUYEN")
    assert cache.hits == hits + 2
    assert life.open_steps(petition) == [("assign", "leader")]


def test_a_rolled_back_step_is_not_kept(life: Lifecycle) -> None:
    petition = life.submit()
    before = _state(life, petition)
    task_id = life.task_of(life.intake, petition, "register")
    tasks.complete(life.session, life.runtime, life.intake, task_id, {"register_decision": "accept"})
    life.session.rollback()  # the request failed after the step ran
    assert petition.instance_id not in life.runtime.workflows._entries  # taken by the step, never put back
    assert _state(life, petition) == before
    misses = life.runtime.workflows.misses
    life.do(life.intake, petition, "register", register_decision="accept")
    assert life.runtime.workflows.misses == misses + 1  # loaded from the stored JSON
    assert [s for s, _ in life.open_steps(petition)] == ["classify"]


def test_a_step_by_another_process_makes_the_kept_object_stale(life: Lifecycle) -> None:
    petition = life.submit()
    other = build_runtime()  # another worker: its own cache
    assert petition.instance_id in life.runtime.workflows._entries
    task_id = life.task_of(life.intake, petition, "register")
    tasks.complete(life.session, other, life.intake, task_id, {"register_decision": "accept"})
    life.session.commit()
    misses = life.runtime.workflows.misses
    # This runtime's object is one step behind: the stored text differs, so it loads the JSON.
    life.do(life.intake, petition, "classify", petition_type="KN", category="DIEN", priority="THUONG",
            within_authority=True, triage_outcome="THUOC_THAM_QUYEN")
    assert life.runtime.workflows.misses == misses + 1
    assert life.open_steps(petition) == [("assign", "leader")]
    history = [e.bpmn_id for e in petitions.history(life.session, petition) if e.action == "TASK_COMPLETED"]
    assert history == ["register", "classify"]


def test_a_state_changed_behind_the_engines_back_is_read_from_the_database(life: Lifecycle) -> None:
    petition = life.submit()
    stored = json.loads(_state(life, petition))
    stored["data"]["note_from_repair"] = "sửa tay"
    life.session.execute(text("UPDATE process_instance SET state = :s WHERE id = :i"),
                         {"s": json.dumps(stored), "i": petition.instance_id})
    life.session.commit()
    life.do(life.intake, petition, "register", register_decision="accept")
    assert json.loads(_state(life, petition))["data"]["note_from_repair"] == "sửa tay"


def test_state_dict_equals_the_serializers_dict_without_specs(life: Lifecycle) -> None:
    from engine.definitions import serializer

    petition = life.submit()
    life.to_assignment(petition)
    workflow = life.runtime.load(life.session, life.session.get(ProcessInstance, petition.instance_id))
    full = serializer().to_dict(workflow)
    full.pop("spec")
    full.pop("subprocess_specs")
    assert state_dict(workflow) == full


@pytest.mark.parametrize("size", [0, 1])
def test_the_cache_is_bounded(life: Lifecycle, size: int) -> None:
    life.runtime.workflows.size = size
    for _ in range(3):
        life.submit()
    assert len(life.runtime.workflows) == size
