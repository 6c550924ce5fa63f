"""Drive `bpmn/petition.bpmn` in memory, lane by lane, without a database (reusable by any test).

    wf = start(petition_seed())
    assert ready(wf) == [("register", "intake")]
    complete(wf, "register", {"register_decision": "accept"})

`complete` validates the submission against the task's form first, so a test that drives the process
also proves that the forms accept what the process needs.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parents[1]
BPMN_FILE = ROOT / "bpmn" / "petition.bpmn"
FORMS_DIR = ROOT / "bpmn" / "forms"
PROCESS_ID = "petition"


def petition_seed(**overrides: Any) -> dict[str, Any]:
    """Return the data `workflows.service.submit_petition` seeds on start, with overrides."""
    seed: dict[str, Any] = {
        "tracking_code": "PAKN-2026-000001",
        "title": "Mất điện kéo dài tại KCN Thăng Long",
        "content": "Nhà máy bị mất điện nhiều lần trong tuần, đề nghị Ban làm việc với điện lực.",
        "zone": "TL",
        "channel": "CONG_DVC",
        "enterprise_tax_code": "0101234567",
        "enterprise_name": "Công ty TNHH Ví Dụ",
        "received_date": "2026-01-05",
        "category_hint": "DIEN",
        "reopen_count": 0,
    }
    seed.update(overrides)
    return seed


@lru_cache(maxsize=1)
def load_petition_spec() -> Any:
    """Parse the petition BPMN with the spiff parser and its XSD validator; return the process spec."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(BPMN_FILE))
    return parser.get_spec(PROCESS_ID)


def load_forms() -> dict[str, dict[str, Any]]:
    """Return every form schema in `bpmn/forms`, keyed by file name."""
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(FORMS_DIR.glob("*.json"))}


def script_engine() -> PythonScriptEngine:
    """Return the sandboxed script engine with the domain helpers, as the application builds it."""
    from engine.sandbox import make_script_engine
    from workflows.helpers import HELPERS

    return make_script_engine(HELPERS)


def start(data: Mapping[str, Any] | None = None, engine: PythonScriptEngine | None = None) -> BpmnWorkflow:
    """Start a petition instance seeded with `data` (default: `petition_seed()`) and run it to its first wait."""
    workflow = BpmnWorkflow(load_petition_spec(), script_engine=engine or script_engine())
    workflow.task_tree.data.update(petition_seed() if data is None else dict(data))
    workflow.do_engine_steps()
    return workflow


def ready_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """Return the READY manual (user) tasks: the instance's open inbox entries."""
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def ready(workflow: BpmnWorkflow) -> list[tuple[str, str]]:
    """Return (bpmn_id, lane) of every READY user task, sorted so that comparisons ignore tree order."""
    return sorted((t.task_spec.bpmn_id, t.task_spec.lane) for t in ready_tasks(workflow))


def ready_task(workflow: BpmnWorkflow, bpmn_id: str, agency: str | None = None) -> Any:
    """Return the one READY user task `bpmn_id` (for a coordination instance, the one of `agency`)."""
    found = [t for t in ready_tasks(workflow) if t.task_spec.bpmn_id == bpmn_id
             and (agency is None or t.data.get("agency") == agency)]
    if len(found) != 1:
        raise AssertionError(f"expected one READY {bpmn_id!r} (agency={agency!r}), ready: {ready(workflow)}")
    return found[0]


def form_of(task: Any) -> dict[str, Any]:
    """Return the form schema named by the task's `formJsonSchemaFilename` property, choices filled in."""
    name = task.task_spec.extensions["properties"]["formJsonSchemaFilename"]
    return with_choices(json.loads((FORMS_DIR / name).read_text(encoding="utf-8")))


def with_choices(schema: dict[str, Any]) -> dict[str, Any]:
    """Fill every `x-options` property with the reference-data codes as an enum (as the domain does at load)."""
    from workflows.reference import get_reference

    def fill(prop: dict[str, Any]) -> None:
        if prop.get("x-options"):
            prop["enum"] = [code for code, _ in get_reference().options(prop["x-options"], "vi")]
        if isinstance(prop.get("items"), dict):
            fill(prop["items"])

    for prop in schema.get("properties", {}).values():
        fill(prop)
    return schema


def form_errors(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    """Return the validation messages of `data` against a form schema (empty when valid)."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<form>'}: {e.message}" for e in validator.iter_errors(data)]


def complete(workflow: BpmnWorkflow, bpmn_id: str, data: Mapping[str, Any], agency: str | None = None,
             validate: bool = True) -> Any:
    """Submit `data` on the READY task `bpmn_id` (validated against its form), run it and the engine steps after."""
    task = ready_task(workflow, bpmn_id, agency)
    if validate:
        errors = form_errors(form_of(task), data)
        if errors:
            raise AssertionError(f"submission for {bpmn_id!r} does not fit its form: {errors}")
    task.set_data(**dict(data))
    task.run()
    workflow.do_engine_steps()
    return task


def end_event(workflow: BpmnWorkflow) -> str | None:
    """Return the bpmn id of the end event the instance reached, or None while it runs.

    Side branches (a reminder, an overdue review, an extension decision) end in end events without a `status`
    property; the petition's own end carries one and is preferred.
    """
    ends = [t.task_spec for t in workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent)]
    main = [spec for spec in ends if "status" in spec.extensions.get("properties", {})]
    return (main or ends)[-1].bpmn_id if ends else None


def round_trip(workflow: BpmnWorkflow, engine: PythonScriptEngine | None = None) -> BpmnWorkflow:
    """Serialize and deserialize the instance as the runtime does between requests; re-attach the engine."""
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    restored = serializer.deserialize_json(serializer.serialize_json(workflow))
    restored.script_engine = engine or workflow.script_engine
    return restored
