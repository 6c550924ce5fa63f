"""Compare two deployed versions of a process element by element, in words for people."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.bpmn_xml import BPMN_NS, parse_untrusted_xml
from engine.errors import BpmnRejected
from engine.models import ProcessDefinition
from engine.validation import FLOW_NODES, N_, SPIFF_NS, element_kind

ASPECT_LABELS = {
    "type": N_("type"), "name": N_("name"), "lane": N_("lane"), "condition": N_("condition"),
    "source": N_("from"), "target": N_("to"), "script": N_("script"), "preScript": N_("pre-script"),
    "postScript": N_("post-script"), "timer": N_("timer"), "default": N_("default flow"),
    "multiInstance": N_("multi-instance"), "attachedTo": N_("attached to"), "interrupting": N_("interrupting"),
    "calledElement": N_("called process"), "message": N_("message"), "documentation": N_("documentation"),
    "loop": N_("loop"),
}
# The kinds `Change.kind` names (`element_kind` of each BPMN tag), marked for the catalog.
KIND_LABELS = (
    N_("form"), N_("sequence flow"), N_("task"), N_("user task"), N_("manual task"), N_("script task"),
    N_("service task"), N_("send task"), N_("receive task"), N_("business rule task"), N_("sub process"),
    N_("transaction"), N_("ad hoc sub process"), N_("call activity"), N_("exclusive gateway"),
    N_("parallel gateway"), N_("inclusive gateway"), N_("event based gateway"), N_("complex gateway"),
    N_("start event"), N_("end event"), N_("intermediate catch event"), N_("intermediate throw event"),
    N_("boundary event"),
)
CHANGE_ADDED, CHANGE_REMOVED, CHANGE_CHANGED = "added", "removed", "changed"


@dataclass(frozen=True)
class Aspect:
    """One changed attribute of an element: its label key, old and new values (text)."""

    key: str
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    """An element added, removed or changed between two versions."""

    change: str  # added | removed | changed
    element_id: str
    tag: str  # BPMN local name, or "form"
    name: str
    lane: str = ""
    aspects: tuple[Aspect, ...] = ()

    @property
    def kind(self) -> str:
        """Return the element's kind in English words ('user task'), a message id."""
        return "form" if self.tag == "form" else element_kind(self.tag)


@dataclass
class VersionDiff:
    """The changes from `old` to `new`, and the element ids to highlight on each diagram."""

    old: ProcessDefinition
    new: ProcessDefinition
    changes: list[Change]

    def ids(self, change: str) -> list[str]:
        """Return the BPMN ids of elements with this kind of change."""
        return [c.element_id for c in self.changes if c.change == change and c.tag != "form"]


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _text(node: etree._Element | None) -> str:
    return " ".join("".join(node.itertext()).split()) if node is not None else ""


def _child(node: etree._Element, *path: str) -> etree._Element | None:
    found: etree._Element | None = node
    for part in path:
        found = None if found is None else found.find(part if part.startswith("{") else f"{{{BPMN_NS}}}{part}")
    return found


def _describe(node: etree._Element, lanes: Mapping[str, str]) -> dict[str, str]:
    """Return the comparable aspects of one element as texts."""
    local = _local(node)
    aspects = {"type": local, "name": node.get("name", ""), "documentation": _text(_child(node, "documentation"))}
    if local in FLOW_NODES:
        aspects["lane"] = lanes.get(node.get("id", ""), "")
    if local == "sequenceFlow":
        aspects.update(source=node.get("sourceRef", ""), target=node.get("targetRef", ""),
                       condition=_text(_child(node, "conditionExpression")))
    aspects["script"] = _text(_child(node, "script"))
    for name in ("preScript", "postScript"):
        aspects[name] = _text(_child(node, "extensionElements", f"{{{SPIFF_NS}}}{name}"))
    for prop in node.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        aspects[f"property:{prop.get('name', '')}"] = prop.get("value", "")
    timer = _child(node, "timerEventDefinition")
    if timer is not None:
        aspects["timer"] = "; ".join(f"{_local(p)} {_text(p)}" for p in timer if isinstance(p.tag, str))
    message = _child(node, "messageEventDefinition")
    if message is not None:
        aspects["message"] = message.get("messageRef", "")
    if local.endswith("Gateway"):
        aspects["default"] = node.get("default", "")
    mi = _child(node, "multiInstanceLoopCharacteristics")
    if mi is not None:
        parts = [f"{_local(p)}={_text(p) or p.get('name', '')}" for p in mi if isinstance(p.tag, str)]
        aspects["multiInstance"] = ("sequential " if mi.get("isSequential") == "true" else "") + ", ".join(parts)
    loop = _child(node, "standardLoopCharacteristics")
    if loop is not None:
        aspects["loop"] = _text(_child(loop, "loopCondition"))
    if local == "boundaryEvent":
        aspects["attachedTo"] = node.get("attachedToRef", "")
        aspects["interrupting"] = node.get("cancelActivity", "true")
    if local == "callActivity":
        aspects["calledElement"] = node.get("calledElement", "")
    return {k: v for k, v in aspects.items() if v}


def _elements(definition: ProcessDefinition) -> dict[str, tuple[etree._Element, dict[str, str]]]:
    elements: dict[str, tuple[etree._Element, dict[str, str]]] = {}
    for name, text in definition.bpmn_files.items():
        try:
            root = parse_untrusted_xml(text.encode("utf-8"), name)
        except BpmnRejected:
            continue
        lanes = {ref.text.strip(): ref.getparent().get("name", "")
                 for ref in root.iter(f"{{{BPMN_NS}}}flowNodeRef") if ref.text}
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            for node in process.iter():
                if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                    continue
                if (_local(node) in FLOW_NODES or _local(node) == "sequenceFlow") and node.get("id"):
                    elements[node.get("id", "")] = (node, _describe(node, lanes))
    return elements


def _form_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            changes.append(Change(CHANGE_ADDED, name, "form", str(new[name].get("title", ""))))
        elif name not in new:
            changes.append(Change(CHANGE_REMOVED, name, "form", str(old[name].get("title", ""))))
        elif old[name] != new[name]:
            before, after = old[name].get("properties", {}) or {}, new[name].get("properties", {}) or {}
            aspects = [Aspect(f"field:{field_name}", json.dumps(before.get(field_name), ensure_ascii=False)
                              if field_name in before else "", json.dumps(after.get(field_name), ensure_ascii=False)
                              if field_name in after else "")
                       for field_name in sorted(set(before) | set(after)) if before.get(field_name) != after.get(field_name)]
            if old[name].get("required") != new[name].get("required"):
                aspects.append(Aspect("required", ", ".join(old[name].get("required", [])),
                                      ", ".join(new[name].get("required", []))))
            changes.append(Change(CHANGE_CHANGED, name, "form", str(new[name].get("title", "")),
                                  aspects=tuple(aspects)))
    return changes


def diff_versions(old: ProcessDefinition, new: ProcessDefinition) -> VersionDiff:
    """Return what changed from `old` to `new`: elements by BPMN id, then forms."""
    before, after = _elements(old), _elements(new)
    changes: list[Change] = []
    for element_id in sorted(set(before) | set(after), key=lambda i: (i not in after, i)):
        if element_id not in before:
            node, aspects = after[element_id]
            changes.append(Change(CHANGE_ADDED, element_id, _local(node), aspects.get("name", ""),
                                  aspects.get("lane", "")))
        elif element_id not in after:
            node, aspects = before[element_id]
            changes.append(Change(CHANGE_REMOVED, element_id, _local(node), aspects.get("name", ""),
                                  aspects.get("lane", "")))
        else:
            (_, old_aspects), (node, new_aspects) = before[element_id], after[element_id]
            differing = tuple(Aspect(key, old_aspects.get(key, ""), new_aspects.get(key, ""))
                              for key in sorted(set(old_aspects) | set(new_aspects))
                              if old_aspects.get(key, "") != new_aspects.get(key, ""))
            if differing:
                changes.append(Change(CHANGE_CHANGED, element_id, _local(node), new_aspects.get("name", ""),
                                      new_aspects.get("lane", ""), differing))
    changes += _form_changes(old.forms or {}, new.forms or {})
    return VersionDiff(old, new, changes)
