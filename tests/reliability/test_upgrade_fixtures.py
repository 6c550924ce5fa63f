"""Stored instances of an earlier release (tests/fixtures/instances, made by make_instance_fixtures.py) load
and run to their end under the current code (R7); an unknown serialized format is refused before
SpiffWorkflow deserializes anything."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Date, DateTime, func, select
from sqlalchemy.orm import Session

from engine.db import UTCDateTime
from engine.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus
from engine.runtime import StateVersionUnsupported
from tests.integration.support import Lifecycle
from tests.reliability.driving import drive_to_end
from tests.reliability.invariants import check_invariants
from workflows import tasks
from workflows.models import Enterprise, Petition

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "instances"
STATES = sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith("_definition.json"))
ON_POSTGRES = {"0.1.0_06_handle_and_coordinate.json", "0.1.0_13_confirm.json"}


def _values(model: type, stored: dict[str, Any], new_id: bool = True, **override: Any) -> Any:
    """Build a row from stored column values: columns this release no longer has are dropped, new ones default."""
    values: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.name not in stored or (new_id and column.name == "id"):
            continue
        value = stored[column.name]
        if isinstance(value, str) and isinstance(column.type, UTCDateTime | DateTime):
            value = dt.datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(column.type, Date):
            value = dt.date.fromisoformat(value)
        values[column.key] = value
    return model(**(values | override))


def load_fixture(session: Session, path: Path) -> Petition:
    """Insert the fixture's rows as that release stored them; return the petition."""
    fixture = json.loads(path.read_text(encoding="utf-8"))
    release = fixture["release"]
    stored_definition = json.loads((FIXTURES / f"{release}_definition.json").read_text(encoding="utf-8"))
    assert stored_definition["content_hash"] == fixture["definition"]
    definition = session.scalar(select(ProcessDefinition).where(
        ProcessDefinition.content_hash == stored_definition["content_hash"]))
    if definition is None:  # the model changed since: the old version is stored beside the new one
        last = session.scalar(select(func.max(ProcessDefinition.version)))
        definition = _values(ProcessDefinition, stored_definition, version=last + 1, active=False)
        session.add(definition)
        session.flush()
    instance = _values(ProcessInstance, fixture["instance"], definition_id=definition.id)
    session.add(instance)
    session.flush()
    for row in fixture["human_tasks"]:
        session.add(_values(HumanTask, row, new_id=False, instance_id=instance.id))
    enterprise = session.scalar(select(Enterprise).where(Enterprise.tax_code == "0100000001"))
    petition = _values(Petition, fixture["petition"], instance_id=instance.id, enterprise_id=enterprise.id)
    session.add(petition)
    session.commit()
    return petition


def _check_and_finish(session: Session, runtime: Any, app: Any, path: Path) -> None:
    petition = load_fixture(session, path)
    expected = json.loads(path.read_text(encoding="utf-8"))["open_tasks"]
    instance = session.get(ProcessInstance, petition.instance_id)
    workflow = runtime.load(session, instance)
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert sorted(t.task_spec.bpmn_id for t in ready) == expected
    steps = drive_to_end(session, runtime, petition.tracking_code)
    session.refresh(instance)
    session.refresh(petition)
    assert instance.status == InstanceStatus.COMPLETED and steps
    assert petition.status == "DONG"
    session.rollback()
    check_invariants(app.extensions["petitions.sessions"], runtime)


@pytest.mark.parametrize("path", STATES, ids=[p.stem for p in STATES])
def test_stored_instance_of_an_earlier_release_runs_to_its_end(path: Path, app, session, runtime, make_user) -> None:
    Lifecycle(session, runtime, make_user)  # the officers of every lane
    _check_and_finish(session, runtime, app, path)


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(ON_POSTGRES))
@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_stored_instances_run_on_postgresql(name: str, db_kind, app, session, runtime, make_user) -> None:  # noqa: ARG001
    Lifecycle(session, runtime, make_user)
    _check_and_finish(session, runtime, app, FIXTURES / name)


def test_there_is_a_fixture_at_every_wait_state_of_the_main_line() -> None:
    waiting = {task for p in STATES for task in json.loads(p.read_text(encoding="utf-8"))["open_tasks"]}
    assert {"register", "supply_info", "classify", "assign", "handle", "coordinate", "approve_extension",
            "draft_answer", "approve", "send_answer", "confirm"} <= waiting


@pytest.mark.parametrize("column,embedded", [("9.0", "9.0"), ("1.5", "9.0"), ("1.1", None)])
def test_an_unknown_serialized_format_is_refused_before_deserializing(column: str, embedded: str | None, app, session,
                                                                      runtime, make_user, monkeypatch) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = load_fixture(session, STATES[0])
    instance = session.get(ProcessInstance, petition.instance_id)
    state = json.loads(instance.state)
    if embedded is not None:
        state["serializer_version"] = embedded
    instance.serializer_version, instance.state = column, json.dumps(state)
    session.commit()
    touched: list[Any] = []
    monkeypatch.setattr("engine.runtime.serializer", lambda: touched.append(1))  # any use would be recorded
    with pytest.raises(StateVersionUnsupported) as refused:
        runtime.load(session, instance)
    assert "9.0" in str(refused.value) if "9.0" in (column, embedded) else "1.1" in str(refused.value)
    assert "1.5" in str(refused.value) and not touched
    session.rollback()
    task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
    with pytest.raises(StateVersionUnsupported):
        tasks.complete(session, runtime, life.intake, task.id, {"register_decision": "accept"})
    session.rollback()
    assert session.get(HumanTask, task.id).status == TaskStatus.OPEN
