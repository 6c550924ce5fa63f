"""Checks of gateways, sequence flows, events and connectivity within one scope."""
from __future__ import annotations

from lxml import etree

from engine.validation.messages import (
    MSG_BAD_DEFAULT,
    MSG_DANGLING_FLOW,
    MSG_DEAD_END,
    MSG_IGNORED_CONDITION,
    MSG_LINK_NO_CATCH,
    MSG_MESSAGE_MISSING,
    MSG_MESSAGE_REF,
    MSG_MESSAGE_THROW,
    MSG_NO_CONDITION,
    MSG_NO_DEFAULT,
    MSG_NOT_PYTHON,
    MSG_NOT_REACHED,
    WHAT_CONDITION,
    WHAT_TIMER,
)
from engine.validation.model import PYTHON_FORMATS, SUBPROCESSES, _local, _q, _Scope, _text
from engine.validation.scripts import CodeChecks
from engine.validation.unsupported import _UNSUPPORTED_EVENTS


class FlowChecks(CodeChecks):
    """Check gateways, flows, events, links and that every element is connected."""

    def check_connections(self, scope: _Scope, node: etree._Element) -> None:
        local, node_id = _local(node), node.get("id", "")
        in_event_subprocess = scope.node.get("triggeredByEvent") == "true"
        link = node.find(_q("linkEventDefinition")) is not None
        compensation = node.get("isForCompensation") == "true"
        if (not scope.incoming.get(node_id) and local not in ("startEvent", "boundaryEvent")
                and not (link and local == "intermediateCatchEvent") and not compensation
                and not (local in SUBPROCESSES and node.get("triggeredByEvent") == "true")
                and not in_event_subprocess):
            self.add(MSG_NOT_REACHED, scope.file, node)
        if (not scope.outgoing.get(node_id) and local != "endEvent" and not (link and local == "intermediateThrowEvent")
                and not compensation and not (local in SUBPROCESSES and node.get("triggeredByEvent") == "true")):
            self.add(MSG_DEAD_END, scope.file, node)

    def check_events(self, scope: _Scope, node: etree._Element) -> None:
        for definition in node:
            local = _local(definition)
            if local in _UNSUPPORTED_EVENTS:
                self.add(_UNSUPPORTED_EVENTS[local], scope.file, node, structural=True)
            elif local == "messageEventDefinition":
                self.check_message(scope, node, definition)
            elif local == "timerEventDefinition":
                for part in definition:
                    if _local(part) in ("timeDuration", "timeDate", "timeCycle"):
                        self.check_code(_text(part), "eval", WHAT_TIMER, scope.file, node, timer=True)

    def check_message(self, scope: _Scope, node: etree._Element, definition: etree._Element) -> None:
        if _local(node) in ("intermediateThrowEvent", "endEvent"):
            self.add(MSG_MESSAGE_THROW, scope.file, node, structural=True)
            return
        ref = definition.get("messageRef")
        if not ref:
            self.add(MSG_MESSAGE_MISSING, scope.file, node, structural=True)
        elif ref not in self.messages:
            self.add(MSG_MESSAGE_REF, scope.file, node, structural=True, ref=ref)

    def check_gateway(self, scope: _Scope, node: etree._Element) -> None:
        outgoing = scope.outgoing.get(node.get("id", ""), [])
        default = node.get("default")
        if default and default not in {f.get("id") for f in outgoing}:
            self.add(MSG_BAD_DEFAULT, scope.file, node, flow=default)
        if len(outgoing) > 1 and not default and _local(node) == "exclusiveGateway":
            self.add(MSG_NO_DEFAULT, scope.file, node, count=len(outgoing))
        if len(outgoing) > 1:
            for flow in outgoing:
                if flow.get("id") != default and flow.find(_q("conditionExpression")) is None:
                    self.add(MSG_NO_CONDITION, scope.file, flow)

    def check_flow(self, scope: _Scope, flow: etree._Element) -> None:
        for end in ("sourceRef", "targetRef"):
            if flow.get(end, "") not in scope.nodes:
                self.add(MSG_DANGLING_FLOW, scope.file, flow, structural=True, flow=flow.get("id", ""),
                         target=flow.get(end, ""))
        condition = flow.find(_q("conditionExpression"))
        if condition is None:
            return
        source = scope.nodes.get(flow.get("sourceRef", ""))
        if source is not None and _local(source) not in ("exclusiveGateway", "inclusiveGateway"):
            self.add(MSG_IGNORED_CONDITION, scope.file, flow, tag=f"bpmn:{_local(source)}")
            return
        language = (condition.get("language") or "").strip().lower()
        if language and language not in PYTHON_FORMATS and "python" not in language:
            self.add(MSG_NOT_PYTHON, scope.file, flow, what=WHAT_CONDITION, language=condition.get("language"))
            return
        self.check_code(_text(condition), "eval", WHAT_CONDITION, scope.file, flow)

    def check_links(self, scope: _Scope) -> None:
        catches = {d.get("name", "") for node in scope.nodes.values() if _local(node) == "intermediateCatchEvent"
                   for d in node.iterfind(_q("linkEventDefinition"))}
        for node in scope.nodes.values():
            if _local(node) != "intermediateThrowEvent":
                continue
            for definition in node.iterfind(_q("linkEventDefinition")):
                if definition.get("name", "") not in catches:
                    self.add(MSG_LINK_NO_CATCH, scope.file, node, link=definition.get("name", ""))
