"""An instance's stored state: the serialized workflow without its specs, with the format version checked.

The specs live once per deployed version (`process_definition.spec_json`); the `process_instance.state`
column holds the rest of SpiffWorkflow's serialized workflow plus the format version it was written in.
"""
from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import WorkflowConverter

from engine.definitions import SERIALIZER_VERSION, serializer
from engine.errors import StateVersionUnsupported

STATE_VERSION_KEY = "serializer_version"


def check_state_version(business_key: str, column_version: str | None, state: dict[str, Any]) -> None:
    """Raise StateVersionUnsupported unless both the row's and the state's own format version are this release's."""
    embedded = state.get(STATE_VERSION_KEY, column_version)
    if column_version == SERIALIZER_VERSION and embedded == SERIALIZER_VERSION:
        return
    found = embedded if embedded != SERIALIZER_VERSION else column_version
    raise StateVersionUnsupported(
        f"instance {business_key} is stored in serialized format {found!r}; this release reads only "
        f"{SERIALIZER_VERSION!r} (an instance written by a newer release needs that release)",
        found=found, supported=SERIALIZER_VERSION)


def read_state(business_key: str, column_version: str | None, text: str) -> dict[str, Any]:
    """Parse a stored state and check its format version; return it without the version key.

    Checked before SpiffWorkflow sees the state: its migrations of older formats would run code (E16), and a
    newer format would fail half-way. The state carries its version too (states written before it did rely
    on the row's column).
    """
    state = json.loads(text)
    check_state_version(business_key, column_version, state)
    state.pop(STATE_VERSION_KEY, None)
    return state


def dump_state(workflow: BpmnWorkflow) -> str:
    """Return the text stored for a workflow: `state_dict` plus this release's format version."""
    state = state_dict(workflow)
    state[STATE_VERSION_KEY] = SERIALIZER_VERSION
    return json.dumps(state, cls=serializer()._encoder_cls)


def state_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    """Return the workflow's serialized state without its specs (which the definition row holds once).

    What `serializer().to_dict(workflow)` returns minus `spec` and `subprocess_specs`, without converting the
    ~100 task specs on every step only to drop them (about 40% of a save).
    """
    registry = serializer().registry
    typename = registry.typenames[type(workflow)]
    try:
        converter = registry.convert_to_dict[typename].args[1].__self__
    except (AttributeError, IndexError):  # another SpiffWorkflow layout: take the long way
        state = serializer().to_dict(workflow)
        state.pop("spec", None)
        state.pop("subprocess_specs", None)
        return state
    state = WorkflowConverter.to_dict(converter, workflow)
    state["subprocesses"] = converter.mapping_to_dict(workflow.subprocesses)
    state["bpmn_events"] = registry.convert(workflow.bpmn_events)
    state["typename"] = typename
    return state
