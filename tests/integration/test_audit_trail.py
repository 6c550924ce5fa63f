"""The audit trail (workflows.audit_trail) of petitions driven through every stage, on SQLite and PostgreSQL:
timeline, path taken, processing-control sheet, search and exports, chain verification and the CLI."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text, update

from engine.audit import Actor
from engine.models import AuditEvent, HumanTask
from tests.integration.support import Lifecycle
from workflows import audit_trail, petitions, sla, tasks
from workflows.audit_trail import SearchFilters
from workflows.models import Petition

CLI = str(Path(sys.executable).parent / "petitions")
DRAFT = {"answer_text": "Điện lực đã thay máy biến áp.", "result_type": "DA_GIAI_QUYET"}

# The completed steps of `drive_through_every_stage`, in order, with who completed each.
EXPECTED_STEPS = [
    ("register", "tn"), ("supply_info", "dn"), ("register", "tn"), ("classify", "tn"), ("assign", "ld"),
    ("handle", "qhxd"), ("coordinate", "pm_evnhn"), ("coordinate", "pm_sct"), ("draft_answer", "qhxd"),
    ("approve", "ld"), ("draft_answer", "qhxd"), ("approve", "ld"), ("send_answer", "tn"), ("confirm", "dn"),
    ("draft_answer", "qhxd"), ("approve", "ld"), ("send_answer", "tn"), ("confirm", "dn"),
]
# Elements and flows of the path that petition takes, and some it never touches.
ON_PATH = {"start", "gw_register_merge", "register", "gw_register", "supply_info", "classify", "gw_classify",
           "propose_routing", "assign", "set_deadline", "fork_handle", "handle", "coordinate", "join_handle",
           "gw_draft_merge", "draft_answer", "approve", "gw_approve", "send_answer", "confirm", "gw_confirm",
           "reopen", "end_closed"}
FLOWS_ON_PATH = {"flow_start", "flow_register_request_info", "flow_supply_done", "flow_register_accept",
                 "flow_classify_in_track", "flow_fork_handle", "flow_fork_coordinate", "flow_handle_done",
                 "flow_coordinate_done", "flow_approve_return", "flow_approve_ok", "flow_confirm_reopen",
                 "flow_reopen_done", "flow_confirm_close"}
OFF_PATH = {"end_rejected", "forward", "end_forwarded", "record_out_of_track", "end_out_of_track",
            "flow_register_reject", "flow_classify_forward", "flow_classify_out_of_track", "flow_forward_done"}


@pytest.fixture
def life(db_kind, session, runtime, make_user) -> Lifecycle:  # noqa: ARG001 - db_kind parametrizes the backend
    return Lifecycle(session, runtime, make_user)


def drive_through_every_stage(life: Lifecycle) -> Petition:
    """Submit, claim and release, ask for information, register, classify, assign with two agencies, handle,
    coordinate, return the draft once, answer, be rated unsatisfied (reopen), answer again, be rated."""
    petition = life.submit()
    register = life.task_of(life.intake, petition, "register")
    tasks.claim(life.session, life.runtime, life.intake, register)
    life.session.commit()
    tasks.release(life.session, life.runtime, life.intake, register)
    life.session.commit()
    life.do(life.intake, petition, "register", register_decision="request_info", info_request="Bổ sung sơ đồ.")
    life.do(life.enterprise_user, petition, "supply_info", supplied_info="Đã gửi sơ đồ mặt bằng.")
    life.to_answer(petition, agencies=("EVNHN", "SCT"))
    life.do(life.leader, petition, "approve", decision="return", return_reason="Nêu rõ căn cứ.")
    life.do(life.unit, petition, "draft_answer", **DRAFT)
    life.answer_and_send(petition)
    life.do(life.enterprise_user, petition, "confirm", rating="khong_hai_long", comment="Vẫn mất điện.")
    life.do(life.unit, petition, "draft_answer", **DRAFT)
    life.answer_and_send(petition)
    life.do(life.enterprise_user, petition, "confirm", rating="hai_long")
    return petition


# ---- timeline -------------------------------------------------------------------------------------------
def test_history_lists_every_step_with_actor_time_duration_and_mark(life: Lifecycle) -> None:
    petition = drive_through_every_stage(life)
    page = audit_trail.timeline(life.session, petition)
    events = page.events
    assert events[0].action == "PETITION_RECEIVED" and events[0].actor == "dn" and events[0].data["channel"]
    assert page.definition is not None and (page.definition.process_id, page.definition.version) == ("petition", 1)
    completed = [e for e in events if e.action == "TASK_COMPLETED"]
    assert [(e.bpmn_id, e.actor) for e in completed] == EXPECTED_STEPS
    rows = {row.id: row for row in life.session.scalars(
        select(HumanTask).where(HumanTask.business_key == petition.tracking_code))}
    assert {e.task_id for e in completed} == {r.id for r in rows.values() if r.status == "completed"}
    for event in completed:
        row = rows[event.task_id]
        assert event.actor == row.completed_by and event.at is not None and event.role == row.role
        assert event.step_days is not None and event.step_days >= 0
        assert event.due_date == row.due_date and event.timing in ("early", "on_time")
    assert all(e.actor and e.at for e in events)
    assert events[0].since_previous is None and all(e.since_previous is not None for e in events[1:])
    assert [e.chain_index for e in events] == sorted(e.chain_index for e in events)
    actions = [e.action for e in events]
    assert {"TASK_CLAIMED", "TASK_RELEASED", "TASK_CREATED", "PROCESS_STARTED"} <= set(actions)
    assert actions[-1] == "PROCESS_COMPLETED" and events[-1].data["end_event"] == "end_closed"
    claimed = next(e for e in events if e.action == "TASK_CLAIMED")
    assert (claimed.actor, claimed.role, claimed.bpmn_id) == ("tn", "intake", "register")
    milestones = [e.milestone for e in events if e.milestone]
    assert {"INFORMATION_REQUESTED", "INFORMATION_SUPPLIED", "PETITION_ACCEPTED", "PETITION_CLASSIFIED",
            "PETITION_ASSIGNED", "DEADLINE_SET", "COORDINATION_REQUESTED", "COORDINATION_ANSWERED",
            "ANSWER_DRAFTED", "ANSWER_RETURNED", "ANSWER_APPROVED", "ANSWER_SENT", "ANSWER_RATED",
            "PETITION_REOPENED"} <= set(milestones)
    assert milestones.count("PETITION_REOPENED") == 1 and milestones.count("ANSWER_RETURNED") == 1
    reopened = next(e for e in events if e.milestone == "PETITION_REOPENED")
    assert reopened.bpmn_id == "draft_answer" and reopened.actor == "dn"  # the rating that reopened it
    assigned = next(e for e in events if e.milestone == "PETITION_ASSIGNED")
    assert assigned.data["working_days"] == 10 and assigned.data["lead_unit"] == "QHXD"
    assert page.timing == "early" and page.total_days >= 0


def test_an_open_step_past_its_due_date_is_overdue_and_completing_it_is_late(life: Lifecycle) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept")
    row = petitions.open_tasks(life.session, petition)[0]
    past = dt.date.today() - dt.timedelta(days=30)
    life.session.execute(update(HumanTask).where(HumanTask.id == row.id).values(due_date=past))
    life.session.commit()
    created = [e for e in audit_trail.timeline(life.session, petition).events if e.task_id == row.id]
    assert [e.timing for e in created] == ["overdue"]
    life.do(life.intake, petition, "classify", petition_type="KN", category="DIEN", priority="THUONG",
            within_authority=True, triage_outcome="THUOC_THAM_QUYEN")
    marks = {e.action: e.timing for e in audit_trail.timeline(life.session, petition).events if e.task_id == row.id}
    assert marks["TASK_COMPLETED"] == "late" and marks["TASK_CREATED"] == ""
    sheet = audit_trail.control_sheet(life.session, petition)
    assert [(r.bpmn_id, r.result) for r in sheet.rows][:2] == [("register", "early"), ("classify", "late")]


def test_timing_against_the_cut_off_of_the_due_day() -> None:
    due = dt.date(2026, 3, 10)
    hanoi = audit_trail.HANOI
    now = dt.datetime(2026, 3, 12, tzinfo=dt.timezone.utc)
    assert audit_trail.timing(due, dt.datetime(2026, 3, 9, 16, 0, tzinfo=hanoi), now) == "early"
    assert audit_trail.timing(due, dt.datetime(2026, 3, 10, 16, 59, tzinfo=hanoi), now) == "on_time"
    assert audit_trail.timing(due, dt.datetime(2026, 3, 10, 17, 1, tzinfo=hanoi), now) == "late"
    assert audit_trail.timing(due, None, dt.datetime(2026, 3, 10, 16, 0, tzinfo=hanoi)) == "in_progress"
    assert audit_trail.timing(due, None, dt.datetime(2026, 3, 10, 17, 1, tzinfo=hanoi)) == "overdue"
    assert audit_trail.timing(due, None, now, open_=False) == "" and audit_trail.timing(None, None, now) == ""


def test_history_of_an_extended_and_escalated_petition(life: Lifecycle) -> None:
    import time_machine

    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    first_due = petition.due_date
    sla.request_extension(life.session, life.runtime, life.unit, petition.tracking_code, 5, "Chờ khảo sát lưới điện.")
    life.session.commit()
    life.do(life.leader, petition, "approve_extension", extension_decision="approve", extension_days=5)
    assert petition.due_date > first_due
    after_deadline = dt.datetime.combine(petition.due_date, dt.time(17, 30), audit_trail.HANOI)
    with time_machine.travel(after_deadline, tick=False):
        life.runtime.fire_timers(life.session, petition.instance_id)
        life.session.commit()
        life.do(life.leader, petition, "review_overdue", instruction="Đề nghị hoàn thành ngay.")
        life.do(life.unit, petition, "handle", handling_notes="Đã xử lý.")
        life.do(life.unit, petition, "draft_answer", **DRAFT)
        life.answer_and_send(petition)
        life.do(life.enterprise_user, petition, "confirm", rating="hai_long")
        page = audit_trail.timeline(life.session, petition)
        sheet = audit_trail.control_sheet(life.session, petition)
    events = page.events
    milestones = [e.milestone for e in events if e.milestone]
    assert {"EXTENSION_REQUESTED", "DEADLINE_EXTENDED", "TASK_ESCALATED", "OVERDUE_REVIEWED"} <= set(milestones)
    requested = next(e for e in events if e.milestone == "EXTENSION_REQUESTED")
    assert (requested.action, requested.actor) == ("MESSAGE_RECEIVED", "qhxd")
    assert requested.data["payload"]["reason"] == "Chờ khảo sát lưới điện."
    granted = next(e for e in events if e.milestone == "DEADLINE_EXTENDED")
    assert (granted.actor, granted.data["extension_days"]) == ("ld", 5)
    escalated = next(e for e in events if e.milestone == "TASK_ESCALATED")
    assert (escalated.action, escalated.actor, escalated.role) == ("TIMER_FIRED", "scheduler", "system")
    handle = next(e for e in events if e.action == "TASK_COMPLETED" and e.bpmn_id == "handle")
    assert handle.timing == "late" and page.timing == "late"
    assert ("review_overdue", "leader") in [(r.bpmn_id, r.to_role) for r in sheet.rows]
    assert next(r for r in sheet.rows if r.bpmn_id == "handle").result == "late"
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    assert {"approve_extension", "grant_extension", "timer_handle_overdue", "review_overdue", "end_closed"} <= set(trace.taken)
    assert {"flow_extension_from_handle", "flow_extension_granted", "flow_handle_overdue"} <= set(trace.flows)
    assert {v.actor for v in trace.elements["grant_extension"].visits} == {"ld"}


# ---- the path on the diagram --------------------------------------------------------------------------------
def test_path_taken_is_read_from_the_stored_state_with_times_and_actors(life: Lifecycle) -> None:
    petition = drive_through_every_stage(life)
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    assert trace.from_state and trace.definition.version == 1
    assert ON_PATH <= set(trace.taken) and not OFF_PATH & set(trace.taken)
    assert FLOWS_ON_PATH <= set(trace.flows) and not OFF_PATH & set(trace.flows)
    assert trace.current == [] and trace.order[0] == "start" and "end_closed" in trace.order[-2:]
    user_steps = [b for b in trace.order if b in {s for s, _ in EXPECTED_STEPS}]
    expected = [s for s, _ in EXPECTED_STEPS]
    expected.insert(expected.index("coordinate") + 2, "coordinate")  # the multi-instance completes after both
    assert user_steps == expected
    approve = trace.elements["approve"]
    assert [v.actor for v in approve.visits] == ["ld", "ld", "ld"]
    assert approve.first.at <= approve.last.at
    assert [v.actor for v in trace.elements["coordinate"].visits if v.task_id] == ["pm_evnhn", "pm_sct"]
    # automatic elements are attributed to the person whose step ran them
    assert {v.actor for v in trace.elements["gw_approve"].visits} == {"ld"}
    assert [v.actor for v in trace.elements["reopen"].visits] == ["dn"]
    assert trace.elements["start"].visits[0].actor == "dn"
    xml = audit_trail.diagram_xml(trace.definition)
    assert 'id="petition"' in xml and "bpmndi:BPMNDiagram" in xml


def test_path_of_an_open_petition_marks_the_current_tasks(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN"], working_days=10)
    life.do(life.unit, petition, "handle", handling_notes="Đã kiểm tra.")
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    assert trace.current == ["coordinate"] and len(trace.current_task_ids) == 1
    assert "handle" in trace.taken and "flow_fork_coordinate" in trace.flows and "flow_handle_done" in trace.flows
    assert "join_handle" not in trace.taken and "draft_answer" not in trace.taken
    waiting = trace.elements["coordinate"]
    assert waiting.current and waiting.waiting_for == "EVNHN" and waiting.waiting_since is not None


def test_path_falls_back_to_the_audit_log_when_the_state_cannot_be_restored(life: Lifecycle, monkeypatch) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept")

    def broken(*_: Any) -> Any:
        raise RuntimeError("state unreadable")

    monkeypatch.setattr(life.runtime, "load", broken)
    trace = audit_trail.path_taken(life.session, life.runtime, petition)
    assert not trace.from_state and trace.taken == ["register"] and trace.current == ["classify"]


# ---- processing-control sheet --------------------------------------------------------------------------------
def test_control_sheet_lists_every_hand_off(life: Lifecycle) -> None:
    petition = drive_through_every_stage(life)
    sheet = audit_trail.control_sheet(life.session, petition)
    assert [(r.bpmn_id, r.to_actor) for r in sheet.rows] == EXPECTED_STEPS
    first, supply = sheet.rows[0], sheet.rows[1]
    assert (first.from_actor, first.from_step, first.to_role) == ("dn", None, "intake")
    assert (supply.from_actor, supply.from_step, supply.to_role, supply.to_scope) == \
        ("tn", "register", "enterprise", "0100000001")
    coordination = [r for r in sheet.rows if r.bpmn_id == "coordinate"]
    assert [(r.from_step, r.to_scope) for r in coordination] == [("assign", "EVNHN"), ("assign", "SCT")]
    reopened = sheet.rows[14]
    assert (reopened.bpmn_id, reopened.from_step, reopened.from_actor) == ("draft_answer", "confirm", "dn")
    for row in sheet.rows:
        assert row.handed_at <= row.done_at and row.due_date is not None and row.result in ("early", "on_time")
        assert row.days is not None and row.status == "completed"
    assert sheet.timing == "early"


def test_control_sheet_orders_steps_opened_in_the_same_microsecond_as_the_engine_opened_them(life: Lifecycle) -> None:
    """Two tasks with the same creation time (parallel branches on a fast host) keep the engine's order.

    The rows used to be ordered by creation time, then by their random ids: the sheet's order of the two
    coordination steps changed from run to run. The pair tied here is one whose ids sort against the order in
    which the engine opened them, so ordering by id fails every time.
    """
    petition = drive_through_every_stage(life)
    created = [e.task_id for e in life.session.scalars(
        select(AuditEvent).where(AuditEvent.business_key == petition.tracking_code,
                                 AuditEvent.action == "TASK_CREATED").order_by(AuditEvent.chain_index))]
    rows = {r.id: r for r in life.session.scalars(select(HumanTask).where(
        HumanTask.business_key == petition.tracking_code))}
    earlier, later = next((a, b) for i, a in enumerate(created) for b in created[i + 1:] if a > b)
    life.session.execute(update(HumanTask).where(HumanTask.id == later).values(created_at=rows[earlier].created_at))
    life.session.commit()
    order = [r.task_id for r in audit_trail.control_sheet(life.session, petition).rows]
    assert order.index(earlier) < order.index(later)


# ---- search and exports --------------------------------------------------------------------------------------
def _late_petition(life: Lifecycle) -> Petition:
    petition = life.submit(title="Thủ tục cấp phép xây dựng", category_hint="XD")
    life.do(life.intake, petition, "register", register_decision="accept")
    row = petitions.open_tasks(life.session, petition)[0]
    life.session.execute(update(HumanTask).where(HumanTask.id == row.id)
                         .values(due_date=dt.date.today() - dt.timedelta(days=30)))
    life.session.commit()
    return petition


def test_search_filters_by_actor_role_unit_action_dates_category_lateness(life: Lifecycle) -> None:
    answered = drive_through_every_stage(life)
    late = _late_petition(life)
    session = life.session
    everything = audit_trail.search(session, SearchFilters())
    assert not everything.truncated and everything.rows
    assert [r.chain_index for r in everything.rows] == sorted((r.chain_index for r in everything.rows), reverse=True)
    total = session.scalar(select(AuditEvent.chain_index).order_by(AuditEvent.chain_index.desc()).limit(1))
    assert everything.until == total

    by_actor = audit_trail.search(session, SearchFilters(actor="LD"))
    assert by_actor.rows and {r.actor for r in by_actor.rows} == {"ld"}
    by_role = audit_trail.search(session, SearchFilters(role="agency", action="TASK_COMPLETED"))
    assert sorted(r.actor for r in by_role.rows) == ["pm_evnhn", "pm_sct"]
    by_unit = audit_trail.search(session, SearchFilters(unit="SCT"))
    assert by_unit.rows and all(r.scope == "SCT" or r.unit == "SCT" for r in by_unit.rows)
    by_lead_unit = audit_trail.search(session, SearchFilters(unit="QHXD"))
    assert {r.business_key for r in by_lead_unit.rows} == {answered.tracking_code}
    by_category = audit_trail.search(session, SearchFilters(category="DIEN"))
    assert {r.business_key for r in by_category.rows} == {answered.tracking_code}
    assert {r.business_key for r in audit_trail.search(session, SearchFilters(category="XD")).rows} == \
        {late.tracking_code}
    late_rows = audit_trail.search(session, SearchFilters(lateness="late"))
    assert late_rows.rows and {(r.business_key, r.bpmn_id) for r in late_rows.rows} == {(late.tracking_code, "classify")}
    assert {r.timing for r in late_rows.rows} == {"overdue"}
    in_time = audit_trail.search(session, SearchFilters(lateness="on_time", action="TASK_COMPLETED"))
    assert len(in_time.rows) == len(EXPECTED_STEPS) + 1  # every step of both petitions was done in time
    today = dt.datetime.now(audit_trail.HANOI).date()
    assert len(audit_trail.search(session, SearchFilters(date_from=today, date_to=today)).rows) == len(everything.rows)
    assert audit_trail.search(session, SearchFilters(date_from=today + dt.timedelta(days=1))).rows == []
    assert audit_trail.search(session, SearchFilters(date_to=today - dt.timedelta(days=1))).rows == []
    assert {r.business_key for r in audit_trail.search(session, SearchFilters(petition=late.tracking_code[-6:])).rows} \
        == {late.tracking_code}
    limited = audit_trail.search(session, SearchFilters(), limit=5)
    assert limited.truncated and [r.chain_index for r in limited.rows] == [r.chain_index for r in everything.rows[:5]]


def test_views_are_recorded_and_searched_for_explicitly(life: Lifecycle) -> None:
    petition = life.submit()
    before = audit_trail.search(life.session, SearchFilters())
    audit_trail.record_view(life.session, Actor("kt", "auditor"), "history", petition=petition.tracking_code)
    life.session.commit()
    assert [r.chain_index for r in audit_trail.search(life.session, SearchFilters()).rows] == \
        [r.chain_index for r in before.rows]
    viewed = audit_trail.search(life.session, SearchFilters(action="AUDIT_VIEWED"))
    assert [(r.actor, r.role, r.data) for r in viewed.rows] == \
        [("kt", "auditor", {"page": "history", "petition": petition.tracking_code})]
    # a search repeated with `until` sees the same snapshot, whatever was appended since
    again = audit_trail.search(life.session, SearchFilters(until=before.until))
    life.submit(title="Kiến nghị khác")
    assert [r.chain_index for r in audit_trail.search(life.session, SearchFilters(until=before.until)).rows] == \
        [r.chain_index for r in again.rows]


def test_csv_and_xlsx_exports_hold_the_same_rows(life: Lifecycle) -> None:
    drive_through_every_stage(life)
    result = audit_trail.search(life.session, SearchFilters(action="TASK_COMPLETED"))
    header = ["#", "time", "actor", "action", "petition", "due", "data"]
    rows = [[r.chain_index, r.at, r.actor, r.action, r.business_key, r.due_date, r.data] for r in result.rows]
    rows.append([0, None, "=HYPERLINK(\"http://evil\")", "+1", "-2", None, {}])  # formula injection attempt
    parsed = list(csv.reader(io.StringIO(audit_trail.to_csv(header, rows).decode("utf-8-sig"))))
    assert parsed[0] == header and len(parsed) == len(rows) + 1
    assert [int(r[0]) for r in parsed[1:-1]] == [r.chain_index for r in result.rows]
    assert parsed[-1][2:5] == ["'=HYPERLINK(\"http://evil\")", "'+1", "'-2"]
    sheet = load_workbook(io.BytesIO(audit_trail.to_xlsx(header, rows, "Audit"))).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == header and len(values) == len(rows) + 1
    assert [v[0] for v in values[1:-1]] == [r.chain_index for r in result.rows]
    assert sum(v[0] for v in values[1:]) == sum(r.chain_index for r in result.rows)
    assert values[-1][2] == "=HYPERLINK(\"http://evil\")" and sheet.cell(len(rows) + 1, 3).data_type == "s"


# ---- verification ----------------------------------------------------------------------------------------
def _unguard(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
    else:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(text("DROP TRIGGER audit_event_no_delete"))


def _middle_event(life: Lifecycle, petition: Petition) -> int:
    indexes = [e.chain_index for e in audit_trail.timeline(life.session, petition).events]
    return indexes[len(indexes) // 2]


def test_verify_passes_on_an_intact_log(life: Lifecycle) -> None:
    drive_through_every_stage(life)
    report = audit_trail.verify(life.session)
    assert report.intact and report.broken_at is None and report.events > 40
    assert report.head_hash == life.session.scalar(select(AuditEvent.hash).where(
        AuditEvent.chain_index == report.head_index))


@pytest.mark.parametrize("tamper", ["change", "delete", "swap"])
def test_verify_locates_exactly_the_tampered_row(life: Lifecycle, tamper: str) -> None:
    petition = drive_through_every_stage(life)
    target = _middle_event(life, petition)
    _unguard(life.session)
    if tamper == "change":  # one field of one row, e.g. who approved
        life.session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE chain_index = :i"), {"i": target})
    elif tamper == "delete":
        life.session.execute(text("DELETE FROM audit_event WHERE chain_index = :i"), {"i": target})
    else:  # two neighbours change places
        for a, b in ((target, -1), (target + 1, target), (-1, target + 1)):
            life.session.execute(text("UPDATE audit_event SET chain_index = :b WHERE chain_index = :a"), {"a": a, "b": b})
    life.session.commit()
    life.session.expire_all()
    report = audit_trail.verify(life.session)
    assert not report.intact and report.broken_at == target
    assert (report.broken_event is None) == (tamper == "delete")
    if tamper == "change":
        assert report.broken_event.actor == "mallory"


@pytest.mark.parametrize("db_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_twenty_threads_completing_tasks_at_once_keep_one_chain(db_kind, app, session, runtime, make_user) -> None:
    assert db_kind == "postgresql" and app.config["PETITIONS_DATABASE_URL"].startswith("postgresql")
    life = Lifecycle(session, runtime, make_user)
    codes = [life.submit(title=f"Kiến nghị số {i}").tracking_code for i in range(20)]
    task_ids = {code: life.task_of(life.intake, petitions.get(session, code), "register") for code in codes}
    before = session.scalar(select(AuditEvent.chain_index).order_by(AuditEvent.chain_index.desc()).limit(1))
    start, errors = threading.Barrier(20), []
    factory = app.extensions["petitions.sessions"]

    def work(code: str) -> None:
        try:
            start.wait(timeout=30)
            with factory() as own:
                user = own.merge(life.intake)
                tasks.complete(own, runtime, user, task_ids[code], {"register_decision": "accept"})
                own.commit()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(code,)) for code in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    session.expire_all()
    added = session.scalars(select(AuditEvent).where(AuditEvent.chain_index > before)
                            .order_by(AuditEvent.chain_index)).all()
    assert [e.chain_index for e in added] == list(range(before + 1, before + 1 + len(added)))
    assert sum(1 for e in added if e.action == "TASK_COMPLETED") == 20
    assert len({e.prev_hash for e in added}) == len(added)  # no two events share a predecessor: no fork
    assert audit_trail.verify(session).intact


# ---- the command line -------------------------------------------------------------------------------------
def test_cli_verify_exit_codes(app, session, runtime, make_user) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept")
    session.commit()  # SQLite: end this session's write transaction so that the command can read
    env = {**os.environ, "PETITIONS_DATABASE_URL": app.config["PETITIONS_DATABASE_URL"]}
    ok = subprocess.run([CLI, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    target = _middle_event(life, petition)
    _unguard(session)
    session.execute(text("UPDATE audit_event SET data = :d WHERE chain_index = :i"), {"d": '{"x": 1}', "i": target})
    session.commit()
    broken = subprocess.run([CLI, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert f"chain index {target}" in broken.stderr
