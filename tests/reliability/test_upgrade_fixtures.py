"""Stored instances of an earlier release (tests/fixtures/instances, made by make_instance_fixtures.py) load
and run to their end under the current code (R7); an unknown serialized format is refused before
SpiffWorkflow deserializes anything."""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Date, DateTime, func, select
from sqlalchemy.orm import Session

from engine.db import UTCDateTime
from engine.errors import StateVersionUnsupported
from engine.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus
from tests.integration.support import Lifecycle
from tests.reliability.driving import drive_to_end
from tests.reliability.invariants import check_invariants
from workflows import tasks
from workflows.models import Enterprise, Petition

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "instances"
STATES = sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith("_definition.json"))


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


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _renumbered(fixture: dict[str, Any], n: int) -> dict[str, Any]:
    """Give the fixture's petition its own tracking code and task ids, so that several fit in one database."""
    text = json.dumps(fixture, ensure_ascii=False)
    code = fixture["petition"]["tracking_code"]
    text = text.replace(code, f"{code[:-4]}{n:04d}")
    fresh: dict[str, str] = {}
    return json.loads(UUID.sub(lambda m: fresh.setdefault(m.group(0), str(uuid.uuid4())), text))


def load_fixture(session: Session, path: Path, n: int = 1) -> Petition:
    """Insert the fixture's rows as that release stored them (as petition number `n`); return the petition."""
    fixture = _renumbered(json.loads(path.read_text(encoding="utf-8")), n)
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


def test_stored_instances_of_an_earlier_release_run_to_their_end(db_kind, app, session, runtime,  # noqa: ARG001
                                                                 make_user) -> None:
    Lifecycle(session, runtime, make_user)  # the officers of every lane
    loaded = [(path, load_fixture(session, path, n)) for n, path in enumerate(STATES, start=1)]
    for path, petition in loaded:
        expected = json.loads(path.read_text(encoding="utf-8"))["open_tasks"]
        instance = session.get(ProcessInstance, petition.instance_id)
        ready = runtime.load(session, instance).get_tasks(state=TaskState.READY, manual=True)
        assert sorted(t.task_spec.bpmn_id for t in ready) == expected, path.name
        steps = drive_to_end(session, runtime, petition.tracking_code)
        session.refresh(instance)
        session.refresh(petition)
        assert instance.status == InstanceStatus.COMPLETED and steps, path.name
        assert petition.status == "DONG", path.name
    session.rollback()
    assert check_invariants(app.extensions["petitions.sessions"], runtime)["instances"] == len(STATES)


def test_there_is_a_fixture_at_every_wait_state_of_the_main_line() -> None:
    waiting = {task for p in STATES for task in json.loads(p.read_text(encoding="utf-8"))["open_tasks"]}
    assert {"register", "supply_info", "classify", "assign", "handle", "coordinate", "approve_extension",
            "draft_answer", "approve", "send_answer", "confirm"} <= waiting


def test_an_unknown_serialized_format_is_refused_before_deserializing(app, session, runtime, make_user,
                                                                      monkeypatch) -> None:
    life = Lifecycle(session, runtime, make_user)
    cases = [("9.0", "9.0", "9.0"), ("1.5", "9.0", "9.0"), ("1.1", None, "1.1")]  # row, state, reported
    touched: list[Any] = []
    for n, (column, embedded, reported) in enumerate(cases, start=1):
        petition = load_fixture(session, STATES[0], n)
        instance = session.get(ProcessInstance, petition.instance_id)
        state = json.loads(instance.state)
        if embedded is not None:
            state["serializer_version"] = embedded
        instance.serializer_version, instance.state = column, json.dumps(state)
        session.commit()
        with monkeypatch.context() as patch:
            patch.setattr("engine.runtime.serializer", lambda: touched.append(1))  # any use would be recorded
            with pytest.raises(StateVersionUnsupported) as refused:
                runtime.load(session, instance)
        assert repr(reported) in str(refused.value) and "'1.5'" in str(refused.value) and not touched
        session.rollback()
        task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
        with pytest.raises(StateVersionUnsupported):
            tasks.complete(session, runtime, life.intake, task.id, {"register_decision": "accept"})
        session.rollback()
        assert session.get(HumanTask, task.id).status == TaskStatus.OPEN
