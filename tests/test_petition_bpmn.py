"""The petition BPMN model and its forms: structure, forms, and every branch driven lane by lane."""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from jsonschema import Draft202012Validator
from SpiffWorkflow.bpmn.specs.mixins import EndEventMixin as EndEvent
from SpiffWorkflow.bpmn.specs.mixins import ExclusiveGatewayMixin as ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins import ScriptTaskMixin as ScriptTask
from SpiffWorkflow.bpmn.specs.mixins import UserTaskMixin as UserTask

from tests.bpmn_driver import (
    BPMN_FILE,
    ROOT,
    complete,
    end_event,
    form_errors,
    load_forms,
    load_petition_spec,
    petition_seed,
    ready,
    ready_task,
    ready_tasks,
    round_trip,
    script_engine,
    start,
    with_choices,
)

LANES = {"intake", "leader", "unit", "agency", "enterprise"}
USER_TASK_LANES = {
    "register": "intake", "supply_info": "enterprise", "classify": "intake", "record_out_of_track": "intake",
    "forward": "intake", "assign": "leader", "handle": "unit", "coordinate": "agency",
    "draft_answer": "unit", "approve": "leader", "send_answer": "intake", "confirm": "enterprise",
    "review_overdue": "leader", "approve_extension": "leader",
}
# Side tasks (started by a boundary event, outside the petition's main line) carry no petition status.
SIDE_TASKS = {"review_overdue", "approve_extension"}
END_STATUSES = {"end_rejected": "KHONG_TIEP_NHAN", "end_out_of_track": "DONG",
                "end_forwarded": "CHUYEN_CO_QUAN_KHAC", "end_closed": "DONG", "end_no_rating": "DONG"}
# Ends of side branches: they close a branch, never the petition.
SIDE_ENDS = {"end_handle_reminder", "end_coordinate_reminder", "end_draft_reminder", "end_confirm_reminder",
             "end_overdue_reviewed", "end_extension_granted", "end_extension_refused"}
OPTION_KINDS = {"categories", "units", "agencies", "zones", "rejection_reasons", "priorities", "petition_types",
                "result_types"}

ACCEPT = {"register_decision": "accept"}
CLASSIFY_KN = {"petition_type": "KN", "category": "DIEN", "priority": "CAO", "within_authority": True,
               "triage_outcome": "THUOC_THAM_QUYEN"}
DRAFT = {"answer_text": "Ban đã làm việc với EVNHANOI; lịch cắt điện được điều chỉnh.", "result_type": "DA_GIAI_QUYET"}
APPROVE = {"decision": "approve"}
SEND = {"answer_document_no": "125/BQL-VP", "answer_date": "2026-01-20"}


@pytest.fixture(autouse=True)
def on_receipt_day() -> Iterator[time_machine.Coordinates]:
    """Freeze the clock on the seed's receipt day (Mon 5 Jan 2026, 09:00 in Hanoi), so no deadline has passed:
    the branch tests see only the main line; tests/test_petition_timers.py moves the clock on purpose."""
    with time_machine.travel(dt.datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")), tick=False) as clock:
        yield clock


def assign(*agencies: str, working_days: int = 10) -> dict[str, Any]:
    return {"lead_unit": "QHXD", "coordinating_agencies": list(agencies), "working_days": working_days}


def reply(agency: str) -> dict[str, Any]:
    return {"reply_text": f"Ý kiến của {agency}", "reply_document_no": f"{agency}/01"}


def step(wf: Any, bpmn_id: str, data: dict[str, Any], expect: list[tuple[str, str]], agency: str | None = None) -> None:
    """Complete one task and assert which (bpmn_id, lane) tasks are READY afterwards."""
    complete(wf, bpmn_id, data, agency=agency)
    assert ready(wf) == sorted(expect), f"after {bpmn_id}"


def to_assign(wf: Any) -> None:
    assert ready(wf) == [("register", "intake")]
    step(wf, "register", ACCEPT, [("classify", "intake")])
    step(wf, "classify", CLASSIFY_KN, [("assign", "leader")])


def answer_and_send(wf: Any) -> None:
    """From draft_answer READY: draft, approve, send; ends with confirm READY."""
    step(wf, "draft_answer", DRAFT, [("approve", "leader")])
    step(wf, "approve", APPROVE, [("send_answer", "intake")])
    step(wf, "send_answer", SEND, [("confirm", "enterprise")])


def to_draft(wf: Any, *agencies: str) -> None:
    """From assign READY with these agencies: handle and every coordination; ends with draft_answer READY."""
    step(wf, "assign", assign(*agencies),
         [("handle", "unit")] + [("coordinate", "agency")] * len(agencies))
    for agency in agencies:
        complete(wf, "coordinate", reply(agency), agency=agency)
    step(wf, "handle", {"handling_notes": "Đã kiểm tra hiện trường."}, [("draft_answer", "unit")])


# ---- structure ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spec() -> Any:
    return load_petition_spec()


def _user_specs(spec: Any) -> dict[str, Any]:
    return {s.bpmn_id: s for s in spec.task_specs.values() if isinstance(s, UserTask)}


def test_the_model_parses_with_the_xsd_validator_and_has_the_contracted_lanes(spec: Any) -> None:
    assert spec.name == "petition"
    lanes = {s.lane for s in spec.task_specs.values() if s.lane}
    assert lanes == LANES
    assert {bpmn_id: s.lane for bpmn_id, s in _user_specs(spec).items()} == USER_TASK_LANES
    scripts = {s.bpmn_id for s in spec.task_specs.values() if isinstance(s, ScriptTask)}
    assert scripts == {"start_clock", "propose_routing", "set_deadline", "reopen", "grant_extension",
                       "close_without_rating"}


def test_every_user_task_names_its_form_a_status_and_a_due_date(spec: Any) -> None:
    statuses = {s["code"] for s in yaml.safe_load((ROOT / "workflows" / "reference-data.yaml").read_text())["statuses"]}
    for bpmn_id, task_spec in _user_specs(spec).items():
        props = task_spec.extensions["properties"]
        assert props["formJsonSchemaFilename"] == f"{bpmn_id}.json"
        if bpmn_id in SIDE_TASKS:
            assert "status" not in props, bpmn_id
        else:
            assert props["status"] in statuses, bpmn_id
        assert props["dueDate"], bpmn_id
        assert task_spec.bpmn_name, bpmn_id


def test_end_events_carry_their_petition_status(spec: Any) -> None:
    ends = {s.bpmn_id: s.extensions for s in spec.task_specs.values() if isinstance(s, EndEvent)}
    assert {k: v["properties"]["status"] for k, v in ends.items() if k not in SIDE_ENDS} == END_STATUSES
    assert set(ends) == set(END_STATUSES) | SIDE_ENDS
    assert not any("status" in ends[k].get("properties", {}) for k in SIDE_ENDS)


def test_exclusive_gateways_have_a_default_flow(spec: Any) -> None:
    text = BPMN_FILE.read_text(encoding="utf-8")
    splits = [s for s in spec.task_specs.values() if isinstance(s, ExclusiveGateway) and len(s.outputs) > 1]
    assert {s.bpmn_id for s in splits} == {"gw_register", "gw_classify", "gw_approve", "gw_confirm", "gw_extension"}
    for gateway in splits:
        assert gateway.default_task_spec is not None, gateway.bpmn_id
        assert f'id="{gateway.bpmn_id}"' in text


def test_every_expression_in_the_model_compiles_under_the_sandbox(spec: Any) -> None:
    from engine.sandbox import compile_check

    checked = 0
    for task_spec in spec.task_specs.values():
        for source in (getattr(task_spec, "script", None), getattr(task_spec, "prescript", None),
                       getattr(task_spec, "postscript", None)):
            if source:
                assert compile_check(source, "exec") == [], (task_spec.name, source)
                checked += 1
        for condition, _ in getattr(task_spec, "cond_task_specs", []):
            if condition is not None:  # a _BpmnCondition operator holding the expression text
                assert compile_check(condition.args[0], "eval") == [], (task_spec.name, condition.args[0])
                checked += 1
        due = getattr(task_spec, "extensions", {}).get("properties", {}).get("dueDate")
        if due:
            assert compile_check(due, "eval") == [], (task_spec.name, due)
            checked += 1
        timer = getattr(getattr(task_spec, "event_definition", None), "expression", None)
        if timer:
            assert compile_check(timer, "eval") == [], (task_spec.name, timer)
            checked += 1
    # scripts, pre/post scripts (coordinate 2, supply_info 2, send_answer 1, approve_extension 1), conditions,
    # due dates, timer expressions
    assert checked == 6 + 6 + 7 + 14 + 8


# ---- forms ----------------------------------------------------------------------------------------------

def _walk_properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(schema["properties"].items())


def test_there_is_exactly_one_valid_form_per_user_task(spec: Any) -> None:
    forms = load_forms()
    assert set(forms) == {f"{bpmn_id}.json" for bpmn_id in USER_TASK_LANES}
    for name, schema in forms.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert schema["type"] == "object" and schema["additionalProperties"] is False, name
        assert schema["title"] and schema["x-title-en"], name
        assert set(schema["required"]) <= set(schema["properties"]), name
        for field, prop in _walk_properties(schema):
            assert prop.get("title") and prop.get("x-title-en"), (name, field)
            kind = prop.get("x-options") or prop.get("items", {}).get("x-options")
            assert kind is None or kind in OPTION_KINDS, (name, field, kind)
            if prop.get("x-widget") == "textarea":
                assert prop["maxLength"] > 0, (name, field)


@pytest.mark.parametrize(("form", "data", "missing"), [
    ("register.json", {"register_decision": "reject"}, "rejection_reason"),
    ("register.json", {"register_decision": "request_info"}, "info_request"),
    ("approve.json", {"decision": "return"}, "return_reason"),
    ("confirm.json", {"rating": "khong_hai_long"}, "comment"),
])
def test_conditional_fields_are_required_only_for_their_choice(form: str, data: dict[str, Any], missing: str) -> None:
    schema = load_forms()[form]
    errors = form_errors(schema, data)
    assert len(errors) == 1 and missing in errors[0]
    field = next(iter(data))
    others = [o["const"] for o in schema["properties"][field]["oneOf"] if o["const"] != data[field]]
    for other in others:
        assert not [e for e in form_errors(schema, {field: other}) if missing in e], other


def test_forms_refuse_unknown_fields_and_choices() -> None:
    forms = {name: with_choices(schema) for name, schema in load_forms().items()}
    assert form_errors(forms["register.json"], {"register_decision": "accept", "extra": 1})
    assert form_errors(forms["confirm.json"], {"rating": "rat_hai_long"})
    assert form_errors(forms["classify.json"], {**CLASSIFY_KN, "category": "KHONG_CO"})
    assert form_errors(forms["classify.json"], {**CLASSIFY_KN, "petition_type": "KTN"})
    assert form_errors(forms["assign.json"], assign("KHONG_CO"))
    assert form_errors(forms["assign.json"], assign("SXD", "SXD"))
    assert form_errors(forms["assign.json"], assign(working_days=61))
    assert form_errors(forms["send_answer.json"], {"answer_document_no": "1", "answer_date": "20/01/2026"})


def test_prefill_hints_point_at_data_the_process_provides() -> None:
    forms = load_forms()
    hints = {(name, field): prop["x-default-from"] for name, schema in forms.items()
             for field, prop in schema["properties"].items() if "x-default-from" in prop}
    assert hints == {
        ("assign.json", "lead_unit"): "proposed_lead_unit",
        ("assign.json", "coordinating_agencies"): "proposed_coordinating_agencies",
        ("assign.json", "working_days"): "proposed_working_days",
        ("approve_extension.json", "extension_days"): "requested_extension_days",
        ("classify.json", "category"): "category_hint",
    }


# ---- branches -------------------------------------------------------------------------------------------

def test_accepted_answered_and_satisfied_closes_the_petition() -> None:
    wf = start()
    to_assign(wf)
    proposal = ready_task(wf, "assign").data
    assert proposal["proposed_lead_unit"] == "QHXD"
    assert proposal["proposed_coordinating_agencies"] == ["EVNHN", "SCT"]
    assert proposal["proposed_working_days"] == 10
    to_draft(wf, "EVNHN")
    answer_and_send(wf)
    step(wf, "confirm", {"rating": "hai_long"}, [])
    assert wf.is_completed() and end_event(wf) == "end_closed"
    assert wf.data["coordination_replies"] == [{"agency": "EVNHN", "text": "Ý kiến của EVNHN", "document_no": "EVNHN/01"}]
    assert wf.data["due_date"] > wf.data["received_date"]


def test_rejected_at_register_ends_rejected() -> None:
    wf = start()
    step(wf, "register", {"register_decision": "reject", "rejection_reason": "NOI_DUNG_KHONG_RO"}, [])
    assert end_event(wf) == "end_rejected"


def test_request_info_goes_to_the_enterprise_and_back_to_register() -> None:
    wf = start()
    step(wf, "register", {"register_decision": "request_info", "info_request": "Bổ sung địa chỉ nhà máy."},
         [("supply_info", "enterprise")])
    assert ready_task(wf, "supply_info").data["enterprise_tax_code"] == "0101234567"
    step(wf, "supply_info", {"supplied_info": "Lô 12, KCN Thăng Long."}, [("register", "intake")])
    step(wf, "register", ACCEPT, [("classify", "intake")])
    step(wf, "classify", CLASSIFY_KN, [("assign", "leader")])
    to_draft(wf)
    answer_and_send(wf)
    step(wf, "confirm", {"rating": "chap_nhan"}, [])
    assert end_event(wf) == "end_closed"


@pytest.mark.parametrize(("petition_type", "within_authority"), [("KNAI", True), ("TC", True), ("KNAI", False)])
def test_complaints_and_denunciations_leave_the_petition_track(petition_type: str, within_authority: bool) -> None:
    wf = start()
    step(wf, "register", ACCEPT, [("classify", "intake")])
    step(wf, "classify", {**CLASSIFY_KN, "petition_type": petition_type, "within_authority": within_authority},
         [("record_out_of_track", "intake")])
    step(wf, "record_out_of_track", {"guidance": "Hướng dẫn gửi Thanh tra thành phố."}, [])
    assert end_event(wf) == "end_out_of_track"


def test_a_petition_outside_the_boards_authority_is_forwarded() -> None:
    wf = start()
    step(wf, "register", ACCEPT, [("classify", "intake")])
    step(wf, "classify", {**CLASSIFY_KN, "petition_type": "HD", "triage_outcome": "KHONG_THUOC_THAM_QUYEN"}, [("forward", "intake")])
    step(wf, "forward", {"forwarded_to": "Sở Tài chính", "forward_document_no": "12/BQL-VP"}, [])
    assert end_event(wf) == "end_forwarded"


def test_a_draft_returned_by_the_leader_goes_back_to_the_unit_then_is_approved() -> None:
    wf = start()
    to_assign(wf)
    to_draft(wf, "SCT")
    step(wf, "draft_answer", DRAFT, [("approve", "leader")])
    step(wf, "approve", {"decision": "return", "return_reason": "Bổ sung căn cứ pháp lý."}, [("draft_answer", "unit")])
    draft = ready_task(wf, "draft_answer")
    assert draft.data["return_reason"] == "Bổ sung căn cứ pháp lý."
    assert [r["agency"] for r in draft.data["coordination_replies"]] == ["SCT"]
    answer_and_send(wf)
    step(wf, "confirm", {"rating": "hai_long"}, [])
    assert end_event(wf) == "end_closed"


def test_dissatisfaction_reopens_once_then_closes() -> None:
    wf = start()
    to_assign(wf)
    to_draft(wf)
    answer_and_send(wf)
    step(wf, "confirm", {"rating": "khong_hai_long", "comment": "Chưa giải quyết triệt để."}, [("draft_answer", "unit")])
    assert ready_task(wf, "draft_answer").data["reopen_count"] == 1
    answer_and_send(wf)
    step(wf, "confirm", {"rating": "khong_hai_long", "comment": "Vẫn chưa đạt."}, [])
    assert end_event(wf) == "end_closed"
    assert wf.data["reopen_count"] == 1 and wf.data["rating"] == "khong_hai_long"


AGENCIES = ("EVNHN", "SCT", "SXD")


@pytest.mark.parametrize("handle_position", ["first", "last", "middle"])
def test_three_agencies_in_parallel_keep_every_reply_whatever_finishes_last(handle_position: str) -> None:
    wf = start()
    to_assign(wf)
    step(wf, "assign", assign(*AGENCIES), [("handle", "unit")] + [("coordinate", "agency")] * 3)
    scopes = sorted(t.data["agency"] for t in ready_tasks(wf) if t.task_spec.bpmn_id == "coordinate")
    assert scopes == sorted(AGENCIES)
    order: list[str | None] = list(reversed(AGENCIES))
    order.insert({"first": 0, "last": 3, "middle": 1}[handle_position], None)
    for agency in order:
        if agency is None:
            complete(wf, "handle", {"handling_notes": "Đã họp với các bên."})
        else:
            complete(wf, "coordinate", reply(agency), agency=agency)
    assert ready(wf) == [("draft_answer", "unit")]
    data = ready_task(wf, "draft_answer").data
    assert sorted(data["coordination_replies"], key=lambda r: r["agency"]) == [
        {"agency": a, "text": f"Ý kiến của {a}", "document_no": f"{a}/01"} for a in sorted(AGENCIES)]
    assert data["handling_notes"] == "Đã họp với các bên."
    assert "agency" not in data and "reply" not in data


@pytest.mark.parametrize("order", list(itertools.permutations(AGENCIES)))
def test_replies_survive_serialization_between_requests(order: tuple[str, ...]) -> None:
    wf = start()
    to_assign(wf)
    complete(wf, "assign", assign(*AGENCIES))
    wf = round_trip(wf)
    for agency in order:
        complete(wf, "coordinate", {"reply_text": f"Ý kiến của {agency}"}, agency=agency)
        wf = round_trip(wf)
    complete(wf, "handle", {"handling_notes": "Xong."})
    replies = ready_task(wf, "draft_answer").data["coordination_replies"]
    assert [r["agency"] for r in replies] == list(order)
    assert all(r["document_no"] is None for r in replies)


def test_no_coordinating_agencies_means_the_unit_handles_alone() -> None:
    wf = start()
    to_assign(wf)
    step(wf, "assign", assign(), [("handle", "unit")])
    step(wf, "handle", {"handling_notes": "Tự xử lý."}, [("draft_answer", "unit")])
    assert ready_task(wf, "draft_answer").data["coordination_replies"] == []
    answer_and_send(wf)
    step(wf, "confirm", {"rating": "hai_long"}, [])
    assert end_event(wf) == "end_closed"


# ---- due dates ------------------------------------------------------------------------------------------

def test_every_due_date_expression_evaluates_to_an_iso_date() -> None:
    from workflows.helpers import HELPERS

    wda, today = HELPERS["working_days_after"], HELPERS["today"]
    received = "2026-01-05"
    engine = script_engine()
    seen: dict[str, str] = {}

    def record(wf: Any) -> None:
        for task in ready_tasks(wf):
            value = engine.evaluate(task, task.task_spec.extensions["properties"]["dueDate"])
            assert isinstance(value, str) and len(value) == 10, (task.task_spec.bpmn_id, value)
            seen.setdefault(task.task_spec.bpmn_id, value)

    wf = start(petition_seed(received_date=received), engine)
    record(wf)
    complete(wf, "register", {"register_decision": "request_info", "info_request": "Bổ sung."})
    record(wf)
    complete(wf, "supply_info", {"supplied_info": "Đã bổ sung."})
    complete(wf, "register", ACCEPT)
    record(wf)
    complete(wf, "classify", CLASSIFY_KN)
    record(wf)
    complete(wf, "assign", assign("EVNHN", working_days=15))
    record(wf)
    complete(wf, "coordinate", reply("EVNHN"), agency="EVNHN")
    complete(wf, "handle", {"handling_notes": "Xong."})
    for bpmn_id, data in (("draft_answer", DRAFT), ("approve", APPROVE), ("send_answer", SEND)):
        record(wf)
        complete(wf, bpmn_id, data)
    record(wf)
    due = wda(received, 15)
    assert seen == {
        "register": wda(received, 1), "supply_info": wda(today(), 10), "classify": wda(received, 2),
        "assign": wda(received, 3), "handle": due, "coordinate": wda(today(), 7), "draft_answer": due,
        "approve": due, "send_answer": due, "confirm": wda(today(), 10),
    }
    for bpmn_id, petition_type in (("record_out_of_track", "KNAI"), ("forward", "HD")):
        wf = start(petition_seed(received_date=received), engine)
        complete(wf, "register", ACCEPT)
        complete(wf, "classify", {**CLASSIFY_KN, "petition_type": petition_type, "triage_outcome": "HANH_VI_CAN_BO"})
        assert ready(wf) == [(bpmn_id, "intake")]
        record(wf)
    assert seen["record_out_of_track"] == seen["forward"] == wda(received, 5)


# ---- diagram ------------------------------------------------------------------------------------------------

def test_the_diagram_draws_every_element_inside_its_lane_without_overlaps() -> None:
    from lxml import etree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
          "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
    root = etree.parse(str(BPMN_FILE)).getroot()
    process = root.find("bpmn:process", ns)
    shapes = {s.get("bpmnElement"): tuple(float(s.find("dc:Bounds", ns).get(k)) for k in ("x", "y", "width", "height"))
              for s in root.iterfind(".//bpmndi:BPMNShape", ns)}
    edges = {e.get("bpmnElement"): [(float(w.get("x")), float(w.get("y"))) for w in e.iterfind("di:waypoint", ns)]
             for e in root.iterfind(".//bpmndi:BPMNEdge", ns)}
    nodes = {e.get("id"): e for e in process if e.get("id") and etree.QName(e).localname not in ("sequenceFlow", "laneSet")}
    flows = process.findall("bpmn:sequenceFlow", ns)
    assert set(nodes) <= set(shapes) and {f.get("id") for f in flows} <= set(edges)
    placed = set()
    for lane in process.iterfind(".//bpmn:lane", ns):
        lx, ly, lw, lh = shapes[lane.get("id")]
        for ref in lane.iterfind("bpmn:flowNodeRef", ns):
            x, y, w, h = shapes[ref.text]
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, (lane.get("id"), ref.text)
            placed.add(ref.text)
    assert placed == set(nodes)
    ids = sorted(nodes)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            (ax, ay, aw, ah), (bx, by, bw, bh) = shapes[a], shapes[b]
            attached = b == nodes[a].get("attachedToRef") or a == nodes[b].get("attachedToRef")
            assert attached or not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), (a, b)

    def touches(point: tuple[float, float], box: tuple[float, ...]) -> bool:
        x, y, w, h = box
        return x - 2 <= point[0] <= x + w + 2 and y - 2 <= point[1] <= y + h + 2

    for flow in flows:
        points = edges[flow.get("id")]
        assert touches(points[0], shapes[flow.get("sourceRef")]), flow.get("id")
        assert touches(points[-1], shapes[flow.get("targetRef")]), flow.get("id")
        assert all(p[0] == q[0] or p[1] == q[1] for p, q in zip(points, points[1:], strict=False)), flow.get("id")
