"""Trace the path a petition took through its BPMN diagram, with per-element times and actors."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.bpmn_xml import BPMN_NS, parse_untrusted_xml
from engine.models import AuditEvent, HumanTask, ProcessDefinition, TaskStatus
from engine.runtime import Runtime
from workflows.audit_trail.loading import STEP_TRIGGERS, _instance, _tasks, definition_of
from workflows.models import Petition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visit:
    """One pass through a BPMN element: when, and by whom (for an automatic element, whoever's step ran it)."""

    at: dt.datetime
    actor: str
    role: str
    task_id: str | None = None


@dataclass
class ElementTrace:
    """Everything that happened at one BPMN element."""

    bpmn_id: str
    name: str
    visits: list[Visit] = field(default_factory=list)
    current: bool = False  # an open task waits here now
    waiting_since: dt.datetime | None = None
    waiting_for: str | None = None  # role / scope of the open task
    claimed_by: str | None = None

    @property
    def first(self) -> Visit | None:
        """Return the first completed visit."""
        return self.visits[0] if self.visits else None

    @property
    def last(self) -> Visit | None:
        """Return the last completed visit."""
        return self.visits[-1] if self.visits else None


@dataclass
class PathTrace:
    """The path a petition took: completed elements in order, the sequence flows taken, the open tasks."""

    code: str
    definition: ProcessDefinition | None
    order: list[str]  # completed element ids in the order they completed (repeats on loops)
    taken: list[str]  # completed element ids, each once, in order of first completion
    flows: list[str]  # sequence flow ids taken
    current: list[str]  # element ids of the open tasks
    current_task_ids: list[str]
    elements: dict[str, ElementTrace]
    from_state: bool  # False when only the audit log could be read (the stored state could not be restored)


def _sequence_flows(definition: ProcessDefinition) -> dict[tuple[str, str], list[str]]:
    flows: dict[tuple[str, str], list[str]] = {}
    for filename, xml in (definition.bpmn_files or {}).items():
        root = parse_untrusted_xml(xml.encode("utf-8") if isinstance(xml, str) else xml, filename)
        for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            key = (flow.get("sourceRef", ""), flow.get("targetRef", ""))
            flows.setdefault(key, []).append(flow.get("id", ""))
    return flows


def diagram_xml(definition: ProcessDefinition) -> str:
    """Return the BPMN XML (with its diagram) of the definition's process."""
    files = definition.bpmn_files or {}
    for xml in files.values():
        if f'id="{definition.process_id}"' in xml:
            return xml
    return next(iter(files.values()), "")


def _is_join(spec: Any) -> bool:
    return type(spec).__name__ in ("ParallelGateway", "InclusiveGateway")


def _arrived(task: Any) -> bool:
    # A parallel join is represented once per incoming branch; the branches that arrived first end CANCELLED.
    if task.state in (TaskState.COMPLETED, TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
        return True
    return task.state == TaskState.CANCELLED and (_is_join(task.task_spec) or task.task_spec.manual)


def _named_parent(task: Any) -> Any:
    parent = task.parent
    while parent is not None and not parent.task_spec.bpmn_id:
        parent = parent.parent
    return parent


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


class _PathBuilder:
    """Walks a restored workflow's task tree once and fills a PathTrace."""

    def __init__(self, trace: PathTrace, events: Sequence[AuditEvent], rows: Mapping[str, HumanTask],
                 flows: Mapping[tuple[str, str], list[str]]) -> None:
        self.trace, self.rows, self.flows = trace, rows, flows
        self.completions = {e.task_id: e for e in events if e.action == "TASK_COMPLETED" and e.task_id}
        self.steps = [e for e in events if e.action in STEP_TRIGGERS]

    def element(self, task: Any) -> ElementTrace:
        spec = task.task_spec
        return self.trace.elements.setdefault(spec.bpmn_id, ElementTrace(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id))

    def step_actor(self, at: dt.datetime) -> Actor:
        # An automatic element ran in the step of the last event that moved the process on before it.
        chosen = None
        for event in self.steps:
            if event.at > at:
                break
            chosen = event
        return Actor(chosen.actor, chosen.role) if chosen is not None else Actor("system", "system")

    def flow_into(self, task: Any) -> None:
        parent = _named_parent(task)
        if parent is None or parent.state != TaskState.COMPLETED or not _arrived(task):
            return
        for flow_id in self.flows.get((parent.task_spec.bpmn_id, task.task_spec.bpmn_id), []):
            if flow_id not in self.trace.flows:
                self.trace.flows.append(flow_id)

    def waiting(self, task: Any) -> None:
        row = self.rows.get(str(task.id))
        item = self.element(task)
        item.current = True
        item.waiting_since = row.created_at if row else _moment(task.last_state_change)
        item.waiting_for = (row.scope_value or row.role) if row else None
        item.claimed_by = row.claimed_by if row else None
        if task.task_spec.bpmn_id not in self.trace.current:
            self.trace.current.append(task.task_spec.bpmn_id)
        self.trace.current_task_ids.append(str(task.id))

    def visit(self, task: Any) -> Visit:
        event = self.completions.get(str(task.id))
        if event is not None:
            return Visit(event.at, event.actor, event.role, str(task.id))
        row = self.rows.get(str(task.id))
        if task.task_spec.manual and row is not None and row.completed_at is not None:
            return Visit(row.completed_at, row.completed_by or "", row.role, row.id)
        at = _moment(task.last_state_change)
        actor = self.step_actor(at)
        return Visit(at, actor.name, actor.role)

    def walk(self, workflow: Any) -> None:
        completed: list[tuple[float, int, Any]] = []
        for index, task in enumerate(workflow.get_tasks(max_depth=1_000_000)):
            if not task.task_spec.bpmn_id:
                continue
            self.flow_into(task)
            if task.state == TaskState.COMPLETED:
                completed.append((task.last_state_change, index, task))
            elif task.state == TaskState.READY and task.task_spec.manual:
                self.waiting(task)
        for _, _, task in sorted(completed, key=lambda item: (item[0], item[1])):
            bpmn_id = task.task_spec.bpmn_id
            self.element(task).visits.append(self.visit(task))
            self.trace.order.append(bpmn_id)
            if bpmn_id not in self.trace.taken:
                self.trace.taken.append(bpmn_id)


def path_taken(session: Session, runtime: Runtime, petition: Petition) -> PathTrace:
    """Return the path the petition took through its BPMN version, with per-element times and actors.

    Read from the instance's stored task tree: completed elements (user tasks, gateways, scripts, events) in
    the order they completed, the sequence flows between an element and the next one it ran, the open tasks.
    If the state cannot be restored, the completed user tasks are read from the audit log instead.
    """
    code = petition.tracking_code
    definition = definition_of(session, petition)
    events = audit.history(session, code)
    rows = {row.id: row for row in _tasks(session, code)}
    trace = PathTrace(code, definition, [], [], [], [], [], {}, from_state=False)
    instance = _instance(session, petition)
    workflow = None
    if instance is not None and definition is not None:
        try:
            workflow = runtime.load_history(session, instance)
        except Exception as exc:  # noqa: BLE001 - whatever fails, the audit log still tells the user-task path
            log.warning("path of %s read from the audit log only: %s", code, exc)
    if workflow is None:
        return _path_from_log(trace, events, rows)
    trace.from_state = True
    _PathBuilder(trace, events, rows, _sequence_flows(definition)).walk(workflow)
    return trace


def _path_from_log(trace: PathTrace, events: Sequence[AuditEvent], rows: Mapping[str, HumanTask]) -> PathTrace:
    for event in events:
        if event.action == "TASK_COMPLETED" and event.bpmn_id:
            row = rows.get(event.task_id or "")
            item = trace.elements.setdefault(event.bpmn_id, ElementTrace(event.bpmn_id, row.name if row else event.bpmn_id))
            item.visits.append(Visit(event.at, event.actor, event.role, event.task_id))
            trace.order.append(event.bpmn_id)
            if event.bpmn_id not in trace.taken:
                trace.taken.append(event.bpmn_id)
    for row in rows.values():
        if row.status == TaskStatus.OPEN:
            item = trace.elements.setdefault(row.bpmn_id, ElementTrace(row.bpmn_id, row.name))
            item.current, item.waiting_since, item.claimed_by = True, row.created_at, row.claimed_by
            item.waiting_for = row.scope_value or row.role
            if row.bpmn_id not in trace.current:
                trace.current.append(row.bpmn_id)
            trace.current_task_ids.append(row.id)
    return trace
