"""The walk over the processes to deploy: which processes, model size, and every node of each scope."""
from __future__ import annotations

from collections import deque
from typing import Any

from lxml import etree

from engine.bpmn_xml import BPMN_NS
from engine.forms import check_schema
from engine.validation.findings import Finding
from engine.validation.flows import FlowChecks
from engine.validation.messages import (
    MSG_BOUNDARY_TARGET,
    MSG_DATA_STORE,
    MSG_EXTRA_PROCESS,
    MSG_FORM_OBJECT,
    MSG_FORM_SCHEMA,
    MSG_MESSAGE_FLOW,
    MSG_MISSING_CALLEE,
    MSG_MISSING_FORM,
    MSG_NESTING,
    MSG_NO_CALLEE,
    MSG_NO_FORM,
    MSG_NO_LANE,
    MSG_NO_PROCESS,
    MSG_NOT_EXECUTABLE,
    MSG_PLAIN_TASK,
    MSG_SEVERAL_PROCESSES,
    MSG_START_TRIGGER,
    MSG_TOO_MANY_NODES,
    MSG_UNKNOWN_LANE,
    MSG_UNKNOWN_PROCESS,
)
from engine.validation.model import (
    ACTIVITIES,
    FLOW_NODES,
    FORM_PROPERTY,
    SUBPROCESSES,
    _local,
    _ns,
    _properties,
    _q,
    _Scope,
    _scope_of,
)
from engine.validation.parallel import ParallelChecks
from engine.validation.unsupported import _UNSUPPORTED_CONTENT, _UNSUPPORTED_NODES, VendorChecks

MAX_SUBPROCESS_DEPTH = 10


class Checker(FlowChecks, VendorChecks, ParallelChecks):
    """Walk the process to deploy and the processes it calls, collecting problems."""

    # -- which processes
    def choose_process(self, process_id: str | None) -> list[str]:
        """Return the process to deploy followed by those it calls; report what is wrong."""
        executable = [pid for pid, (node, _) in self.processes.items() if node.get("isExecutable") == "true"]
        main = self.main_process(process_id, executable)
        if main is None:
            return []
        chosen = self.callees(main)
        for pid in executable:
            if pid not in chosen:
                node, file = self.processes[pid]
                self.add(MSG_EXTRA_PROCESS, file, node, structural=True, process=pid)
        return chosen

    def main_process(self, process_id: str | None, executable: list[str]) -> str | None:
        """Return the process to deploy (the given one, or the only executable one nobody calls)."""
        called = {call.get("calledElement", "") for process, _ in self.processes.values()
                  for call in process.iter(_q("callActivity"))}
        first_file = next(iter(self.roots), "")
        if process_id is None:
            candidates = [pid for pid in executable if pid not in called]
            if len(candidates) == 1:
                return candidates[0]
            if candidates:
                self.add(MSG_SEVERAL_PROCESSES, first_file, structural=True, ids=", ".join(candidates))
                return None
            self.add(MSG_NO_PROCESS, first_file, structural=True)
            # A single process exported as not executable (bpmn.io, Signavio): still list all that must change.
            return next(iter(self.processes)) if len(self.processes) == 1 else None
        if process_id not in self.processes:
            self.add(MSG_UNKNOWN_PROCESS, first_file, structural=True, process=process_id,
                     ids=", ".join(self.processes) or "-")
            return None
        if process_id not in executable:
            node, file = self.processes[process_id]
            self.add(MSG_NOT_EXECUTABLE, file, node, structural=True, process=process_id)
            return None
        return process_id

    def callees(self, main: str) -> list[str]:
        """Return `main` and the processes it calls, transitively; report calls that go nowhere."""
        chosen = [main]
        queue = deque([main])
        while queue:
            node, file = self.processes[queue.popleft()]
            for call in node.iter(_q("callActivity")):
                callee = call.get("calledElement", "")
                if not callee:
                    self.add(MSG_NO_CALLEE, file, call, structural=True)
                elif callee not in self.processes:
                    self.add(MSG_MISSING_CALLEE, file, call, structural=True, process=callee)
                elif callee not in chosen:
                    chosen.append(callee)
                    queue.append(callee)
        return chosen

    # -- the walk
    def run(self, process_id: str | None) -> str | None:
        count = sum(1 for root in self.roots.values() for node in root.iter()
                    if isinstance(node.tag, str) and _ns(node) == BPMN_NS and _local(node) in FLOW_NODES)
        if count > self.rules.max_flow_nodes:
            self.add(MSG_TOO_MANY_NODES, next(iter(self.roots), ""), structural=True, count=count,
                     limit=self.rules.max_flow_nodes)
            return None
        for file, root in self.roots.items():
            for flow in root.iter(_q("messageFlow")):
                self.add(MSG_MESSAGE_FLOW, file, flow, structural=True)
            for store in root.iter(_q("dataStore")):
                self.add(MSG_DATA_STORE, file, store, structural=True)
        chosen = self.choose_process(process_id)
        for pid in chosen:
            process, file = self.processes[pid]
            self.check_scope(_scope_of(process, file), lane=None, depth=0)
        for name, schema in self.forms.items():
            self.check_form(name, schema)
        return chosen[0] if chosen else None

    def check_scope(self, scope: _Scope, lane: str | None, depth: int) -> None:
        if depth > MAX_SUBPROCESS_DEPTH:
            self.add(MSG_NESTING, scope.file, scope.node, structural=True, limit=MAX_SUBPROCESS_DEPTH)
            return
        lanes = self.lanes.get(scope.file, {})
        for child in scope.node:
            if not isinstance(child.tag, str) or _ns(child) != BPMN_NS:
                continue
            local = _local(child)
            if local in _UNSUPPORTED_CONTENT:
                self.add(_UNSUPPORTED_CONTENT[local], scope.file, child, structural=True)
        for node_id, node in scope.nodes.items():
            node_lane = lane if lane is not None else lanes.get(node_id)
            self.check_node(scope, node, node_lane)
            if _local(node) in SUBPROCESSES:
                self.check_scope(_scope_of(node, scope.file), node_lane, depth + 1)
        for flow in scope.flows.values():
            self.check_flow(scope, flow)
        self.check_links(scope)
        self.check_parallel_writes(scope)

    def check_node(self, scope: _Scope, node: etree._Element, lane: str | None) -> None:
        local, file = _local(node), scope.file
        if local in _UNSUPPORTED_NODES:
            self.add(_UNSUPPORTED_NODES[local], file, node, structural=True)
        if local == "task":
            self.add(MSG_PLAIN_TASK, file, node)
        self.check_vendor(node, file)
        self.check_events(scope, node)
        self.check_connections(scope, node)
        if local in ("userTask", "manualTask"):
            self.check_lane(node, file, lane)
        if local == "userTask":
            self.check_user_task_form(node, file)
        elif local == "scriptTask":
            self.check_script_task(node, file)
        elif local == "receiveTask":
            self.check_message(scope, node, node)
        elif local in ("exclusiveGateway", "inclusiveGateway"):
            self.check_gateway(scope, node)
        elif local == "boundaryEvent":
            target = scope.nodes.get(node.get("attachedToRef", ""))
            if target is None or _local(target) not in ACTIVITIES:
                self.add(MSG_BOUNDARY_TARGET, file, node, structural=True, target=node.get("attachedToRef", ""))
        elif local == "startEvent" and scope.node.tag == _q("process"):
            if any(_local(d).endswith("EventDefinition") for d in node):
                self.add(MSG_START_TRIGGER, file, node)
        self.check_extension_code(node, file)
        self.check_loops(node, file)

    def check_lane(self, node: etree._Element, file: str, lane: str | None) -> None:
        if self.rules.lanes is None:
            return
        if lane is None:
            self.add(MSG_NO_LANE, file, node, lanes=self.rules.lane_list())
        elif lane not in self.rules.lanes:
            self.add(MSG_UNKNOWN_LANE, file, node, lane=lane, lanes=self.rules.lane_list())

    def check_user_task_form(self, node: etree._Element, file: str) -> None:
        form = _properties(node).get(FORM_PROPERTY)
        if not form:
            if self.rules.require_forms:
                self.add(MSG_NO_FORM, file, node)
        elif form not in self.forms:
            self.add(MSG_MISSING_FORM, file, node, form=form)

    def check_form(self, name: str, schema: Any) -> None:
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            self.problems.append(Finding.make(MSG_FORM_OBJECT, name, form=name))
            return
        for message in check_schema(schema)[:5]:
            self.problems.append(Finding.make(MSG_FORM_SCHEMA, name, form=name, detail=message))
