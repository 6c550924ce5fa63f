"""The XML model of a BPMN file: namespaces, element kinds, scopes, lanes and Spiff extensions."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn_xml import BPMN_NS

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
FORM_PROPERTY = "formJsonSchemaFilename"
PYTHON_FORMATS = frozenset({"", "python", "python3", "text/python", "text/x-python", "application/x-python"})


def _q(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _ns(node: etree._Element) -> str:
    return etree.QName(node).namespace or "" if isinstance(node.tag, str) else ""


def _text(node: etree._Element | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""


ACTIVITIES = frozenset({"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
                        "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity"})
GATEWAYS = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
                      "complexGateway"})
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"})
FLOW_NODES = ACTIVITIES | GATEWAYS | EVENTS
SUBPROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})


@dataclass
class _Scope:
    """A process or embedded subprocess: its flow nodes and sequence flows."""

    node: etree._Element
    file: str
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    flows: dict[str, etree._Element] = field(default_factory=dict)
    outgoing: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    incoming: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    boundary: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))


def _scope_of(process: etree._Element, file: str) -> _Scope:
    scope = _Scope(process, file)
    for child in process:
        local = _local(child)
        if _ns(child) != BPMN_NS:
            continue
        if local in FLOW_NODES:
            scope.nodes[child.get("id", "")] = child
        elif local == "sequenceFlow":
            scope.flows[child.get("id", "")] = child
    for flow in scope.flows.values():
        scope.outgoing[flow.get("sourceRef", "")].append(flow)
        scope.incoming[flow.get("targetRef", "")].append(flow)
    for node in scope.nodes.values():
        if _local(node) == "boundaryEvent":
            scope.boundary[node.get("attachedToRef", "")].append(node)
    return scope


def _lanes(root: etree._Element) -> dict[str, str]:
    """Return flow node id -> lane name as SpiffWorkflow computes it (the innermost lane's name)."""
    lanes: dict[str, str] = {}
    for ref in root.iter(_q("flowNodeRef")):
        if ref.text and ref.text.strip():
            lanes[ref.text.strip()] = ref.getparent().get("name") or ""
    return lanes


def _properties(node: etree._Element) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in node.iterfind(f"{_q('extensionElements')}/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        props[prop.get("name", "")] = prop.get("value", "")
    return props


def _spiff_text(node: etree._Element, name: str) -> str | None:
    found = node.find(f"{_q('extensionElements')}/{{{SPIFF_NS}}}{name}")
    return None if found is None else _text(found)
