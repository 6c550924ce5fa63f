"""Form values converted by schema type, and widgets described from the task schemas."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from werkzeug.datastructures import MultiDict

from webapp.formdata import coerce_form, field_widgets
from workflows.wiring import prepare_form

FORMS = Path(__file__).resolve().parents[2] / "bpmn" / "forms"


def _form(name: str) -> dict[str, Any]:
    return prepare_form(json.loads((FORMS / f"{name}.json").read_text(encoding="utf-8")))


def test_coerce_converts_by_type_and_drops_empty_values() -> None:
    schema = {"properties": {
        "n": {"type": "integer"}, "x": {"type": "number"}, "b": {"type": "boolean"}, "s": {"type": "string"},
        "empty": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
        "none": {"type": "array", "items": {"type": "string"}},
    }}
    form = MultiDict([("n", " 12 "), ("x", "2.5"), ("b", "false"), ("s", " hello "), ("empty", "  "),
                      ("tags", "A"), ("tags", ""), ("tags", "B"), ("undeclared", "1")])
    assert coerce_form(schema, form) == {"n": 12, "x": 2.5, "b": False, "s": "hello", "tags": ["A", "B"], "none": []}


def test_coerce_leaves_unconvertible_values_for_the_engine_to_report() -> None:
    schema = {"properties": {"n": {"type": "integer"}, "b": {"type": "boolean"}, "x": {"type": "number"}}}
    assert coerce_form(schema, MultiDict({"n": "twelve", "b": "maybe", "x": "nan"})) == {
        "n": "twelve", "b": "maybe", "x": "nan"}


def test_widgets_of_the_assign_form_use_defaults_from_the_proposal() -> None:
    data = {"proposed_lead_unit": "QHXD", "proposed_coordinating_agencies": ["THUE"], "proposed_working_days": 15}
    fields = {f.name: f for f in field_widgets(_form("assign"), data, "vi")}
    assert fields["lead_unit"].widget == "select" and fields["lead_unit"].value == "QHXD"
    assert ("QHXD", "Phòng Quản lý Quy hoạch và Xây dựng") in fields["lead_unit"].options
    assert fields["coordinating_agencies"].widget == "checkboxes"
    assert fields["coordinating_agencies"].value == ["THUE"]
    assert fields["working_days"].widget == "number" and fields["working_days"].value == "15"
    assert fields["working_days"].attrs == {"min": 1, "max": 60, "step": 1}
    assert fields["assign_note"].widget == "textarea" and fields["assign_note"].required is False
    assert fields["lead_unit"].required is True and fields["lead_unit"].label == "Đơn vị chủ trì"


def test_widgets_follow_the_language_and_task_data_wins_over_defaults() -> None:
    fields = {f.name: f for f in field_widgets(_form("classify"), {"category_hint": "XD", "priority": "KHAN"}, "en")}
    assert fields["petition_type"].label == "Petition type"
    assert ("KN", "Petition / proposal") in fields["petition_type"].options
    assert fields["category"].value == "XD"
    assert fields["priority"].value == "KHAN"
    assert fields["within_authority"].widget == "radio" and fields["within_authority"].value == "true"
    assert [code for code, _ in fields["within_authority"].options] == ["true", "false"]


def test_date_fields_use_a_date_input() -> None:
    fields = {f.name: f for f in field_widgets(_form("send_answer"), {}, "vi")}
    assert fields["answer_date"].widget == "date"
    assert fields["answer_document_no"].widget == "text" and fields["answer_document_no"].attrs == {"maxlength": 50}
