"""Make changed versions of `bpmn/petition.bpmn` for designer and migration tests (lxml edits, no DI needed)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from workflows.database import shipped_model

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}
VERIFY_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Kiểm tra hồ sơ",
    "x-title-en": "Verify documents", "type": "object", "additionalProperties": False,
    "properties": {"documents_ok": {"type": "boolean", "title": "Hồ sơ đủ"}}, "required": ["documents_ok"],
}


def _q(tag: str) -> str:
    return f"{{{BPMN}}}{tag}"


def _one(root: etree._Element, xpath: str, **variables: Any) -> etree._Element:
    found = root.xpath(xpath, namespaces=NS, **variables)
    assert len(found) == 1, (xpath, variables, len(found))
    return found[0]


def edited(edit: Callable[[etree._Element, dict[str, Any]], None]) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Return the shipped model (files, forms) after `edit(root, forms)` changed its main file in place."""
    files, forms = shipped_model()
    forms = dict(forms)
    root = etree.fromstring(files["petition.bpmn"])
    edit(root, forms)
    files = dict(files)
    files["petition.bpmn"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return files, forms


def insert_task_after_register(root: etree._Element, forms: dict[str, Any], task_id: str = "verify_documents",
                               lane: str = "intake") -> None:
    """Put a new user task (with a form) on the 'accept' path between the register gateway and classify."""
    process = _one(root, "//bpmn:process[@id='petition']")
    flow = _one(root, "//bpmn:sequenceFlow[@sourceRef='gw_register' and @targetRef='classify']")
    flow.set("targetRef", task_id)
    task = etree.SubElement(process, _q("userTask"), id=task_id, name="Kiểm tra hồ sơ")
    extensions = etree.SubElement(task, _q("extensionElements"))
    props = etree.SubElement(extensions, f"{{{SPIFF}}}properties")
    etree.SubElement(props, f"{{{SPIFF}}}property", name="formJsonSchemaFilename", value=f"{task_id}.json")
    etree.SubElement(props, f"{{{SPIFF}}}property", name="status", value="MOI_TIEP_NHAN")
    etree.SubElement(task, _q("incoming")).text = flow.get("id")
    etree.SubElement(task, _q("outgoing")).text = f"flow_{task_id}_done"
    etree.SubElement(process, _q("sequenceFlow"), id=f"flow_{task_id}_done", sourceRef=task_id, targetRef="classify")
    classify = _one(root, "//bpmn:userTask[@id='classify']")
    for incoming in classify.findall(_q("incoming")):
        if incoming.text == flow.get("id"):
            incoming.text = f"flow_{task_id}_done"
    lane_node = _one(root, "//bpmn:lane[@name=$lane]", lane=lane)
    etree.SubElement(lane_node, _q("flowNodeRef")).text = task_id
    forms[f"{task_id}.json"] = VERIFY_FORM


def remove_element(root: etree._Element, element_id: str) -> None:
    """Remove a flow node with its flows, boundary events, lane references and diagram shapes."""
    doomed = {element_id} | set(root.xpath("//bpmn:boundaryEvent[@attachedToRef=$i]/@id", namespaces=NS, i=element_id))
    flows = root.xpath("//bpmn:sequenceFlow", namespaces=NS)
    dead_flows = {f.get("id") for f in flows if f.get("sourceRef") in doomed or f.get("targetRef") in doomed}
    for node in root.xpath("//*[@id]", namespaces=NS):
        if node.get("id") in doomed | dead_flows:
            node.getparent().remove(node)
    for node in root.xpath("//bpmn:flowNodeRef | //bpmn:incoming | //bpmn:outgoing", namespaces=NS):
        if (node.text or "").strip() in doomed | dead_flows:
            node.getparent().remove(node)
    for shape in root.xpath("//*[@bpmnElement]"):
        if shape.get("bpmnElement") in doomed | dead_flows:
            shape.getparent().remove(shape)


def remove_supply_info(root: etree._Element, forms: dict[str, Any]) -> None:
    """Drop the 'request more information' loop (task supply_info and its flows)."""
    remove_element(root, "supply_info")
    forms.pop("supply_info.json", None)


def rename_coordination_output(root: etree._Element, forms: dict[str, Any]) -> None:
    """Change the multi-instance `coordinate` (its output collection)."""
    _one(root, "//bpmn:userTask[@id='coordinate']/bpmn:multiInstanceLoopCharacteristics/bpmn:loopDataOutputRef"
         ).text = "coordination_answers"


def rename_task(task_id: str, name: str) -> Callable[[etree._Element, dict[str, Any]], None]:
    """Return an edit that renames one element."""

    def edit(root: etree._Element, forms: dict[str, Any]) -> None:
        _one(root, "//*[@id=$i]", i=task_id).set("name", name)

    return edit
