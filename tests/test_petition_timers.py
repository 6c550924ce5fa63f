"""Deadlines that act, in memory with a moved clock: reminders, escalation to the leader, the confirmation
timeout, urgent petitions, the clock pause, the extension broadcast, and the sample petitions' due dates.

The clock is moved with time-machine; SpiffWorkflow compares timer due times with the same wall clock, and
a timer fires on `refresh_timers()` + `do_engine_steps()` (what the scheduler's sweep does). Every timer is
checked on both sides of its moment: not fired just before, fired just after.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import broadcast
from tests.bpmn_driver import (
    ROOT,
    complete,
    end_event,
    petition_seed,
    ready,
    ready_task,
    round_trip,
    start,
)
from workflows.calendar import reset_calendar

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
ACCEPT = {"register_decision": "accept"}
DRAFT = {"answer_text": "Ban đã làm việc với EVNHANOI.", "result_type": "DA_GIAI_QUYET"}


def at(day: str, hour: int = 9, minute: int = 0, second: int = 0) -> dt.datetime:
    """A moment in Hanoi time."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute, second), HANOI)


@pytest.fixture(autouse=True)
def reference_calendar() -> Iterator[None]:
    reset_calendar()  # the helpers count with the reference calendar, whatever a database test left behind
    yield
    reset_calendar()


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(at("2026-01-05"), tick=False) as traveller:
        yield traveller


def classify(priority: str = "THUONG", category: str = "DIEN") -> dict[str, Any]:
    return {"petition_type": "KN", "category": category, "priority": priority, "within_authority": True,
            "triage_outcome": "THUOC_THAM_QUYEN"}


def assign(*agencies: str, working_days: int = 10) -> dict[str, Any]:
    return {"lead_unit": "QHXD", "coordinating_agencies": list(agencies), "working_days": working_days}


def to_handle(received: str = "2026-01-05", priority: str = "THUONG", agencies: tuple[str, ...] = (),
              working_days: int = 10) -> Any:
    """Start, register, classify and assign on the receipt day (the clock must be on that day)."""
    wf = start(petition_seed(received_date=received))
    complete(wf, "register", ACCEPT)
    complete(wf, "classify", classify(priority))
    complete(wf, "assign", assign(*agencies, working_days=working_days))
    return wf


def tick(wf: Any, clock: Any, moment: dt.datetime) -> Any:
    """Move the clock and run what a sweep runs; return the workflow after a serialization round trip."""
    clock.move_to(moment)
    wf = round_trip(wf)  # timers survive being saved between sweeps
    wf.refresh_timers()
    wf.do_engine_steps()
    return wf


def fired(wf: Any, bpmn_id: str) -> int:
    """How many times the event `bpmn_id` has fired (completed)."""
    return sum(1 for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == bpmn_id)


def timers(wf: Any) -> dict[str, str]:
    """Waiting timer events by bpmn id -> due moment (ISO with offset)."""
    found = {}
    for task in wf.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if definition is not None and getattr(definition, "expression", None):
            found[task.task_spec.bpmn_id] = task.internal_data.get("event_value")
    return found


# ---- reminders and escalation -----------------------------------------------------------------------------

def test_handle_timers_are_armed_on_calendar_moments_with_an_explicit_offset(clock: Any) -> None:
    wf = to_handle()
    assert ready_task(wf, "handle").data["due_date"] == "2026-01-19"  # Mon 5 Jan + 10 WD
    assert timers(wf) == {
        "timer_handle_reminder": "2026-01-15T08:00:00+07:00",  # 2 WD before, at the start of office hours
        "timer_handle_overdue": "2026-01-19T17:00:00+07:00",   # the due date's 17:00
    }


def test_the_reminder_fires_on_its_working_day_not_the_day_before(clock: Any) -> None:
    wf = to_handle()
    wf = tick(wf, clock, at("2026-01-14", 23, 59, 59))
    assert fired(wf, "timer_handle_reminder") == 0
    wf = tick(wf, clock, at("2026-01-15", 7, 59, 59))
    assert fired(wf, "timer_handle_reminder") == 0
    wf = tick(wf, clock, at("2026-01-15", 8, 0, 1))
    assert fired(wf, "timer_handle_reminder") == 1
    assert ready(wf) == [("handle", "unit")]  # non-interrupting: the unit keeps its task, nothing else opens
    assert "end_handle_reminder" in {t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED)}
    wf = tick(wf, clock, at("2026-01-16"))
    assert fired(wf, "timer_handle_reminder") == 1  # once


def test_the_reminder_skips_weekends_and_tet(clock: Any) -> None:
    # Received Tue 3 Feb 2026, 10 WD: Tết is 16-20 Feb, so the due date is Tue 24 Feb; 2 WD before is Fri 13.
    clock.move_to(at("2026-02-03"))
    wf = to_handle(received="2026-02-03")
    assert ready_task(wf, "handle").data["due_date"] == "2026-02-24"
    assert timers(wf)["timer_handle_reminder"] == "2026-02-13T08:00:00+07:00"
    wf = tick(wf, clock, at("2026-02-12", 23, 59))
    assert fired(wf, "timer_handle_reminder") == 0
    wf = tick(wf, clock, at("2026-02-13", 8, 1))
    assert fired(wf, "timer_handle_reminder") == 1
    wf = tick(wf, clock, at("2026-02-23", 8, 1))
    assert fired(wf, "timer_handle_reminder") == 1


def test_the_escalation_puts_an_overdue_task_in_the_leaders_inbox_on_the_due_day(clock: Any) -> None:
    wf = to_handle()
    wf = tick(wf, clock, at("2026-01-19", 16, 59, 59))
    assert ("review_overdue", "leader") not in ready(wf)
    wf = tick(wf, clock, at("2026-01-19", 17, 0, 1))
    assert ready(wf) == [("handle", "unit"), ("review_overdue", "leader")]
    review = ready_task(wf, "review_overdue")
    assert review.task_spec.extensions["properties"]["formJsonSchemaFilename"] == "review_overdue.json"
    assert review.task_spec.bpmn_name == "Xem xét hồ sơ quá hạn"
    escalation = next(t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == "timer_handle_overdue")
    assert escalation.task_spec.extensions["properties"] == {"notify": "overdue", "notifyTask": "handle"}
    complete(wf, "review_overdue", {"instruction": "Đề nghị phòng QHXD hoàn thành trong tuần."})
    assert ready(wf) == [("handle", "unit")]
    complete(wf, "handle", {"handling_notes": "Đã xử lý."})
    assert ready(wf) == [("draft_answer", "unit")]


def test_an_overdue_review_left_open_is_closed_with_the_petition(clock: Any) -> None:
    wf = to_handle()
    wf = tick(wf, clock, at("2026-01-19", 17, 1))
    complete(wf, "handle", {"handling_notes": "Đã xử lý."})
    for step, data in (("draft_answer", DRAFT), ("approve", {"decision": "approve"}),
                       ("send_answer", {"answer_document_no": "1/BQL", "answer_date": "2026-01-20"}),
                       ("confirm", {"rating": "hai_long"})):
        complete(wf, step, data)
    assert wf.is_completed() and end_event(wf) == "end_closed"
    reviews = [t for t in wf.get_tasks() if t.task_spec.bpmn_id == "review_overdue"]
    assert reviews and all(t.state == TaskState.CANCELLED for t in reviews)


def test_coordination_has_its_own_seven_working_day_deadline(clock: Any) -> None:
    wf = to_handle(agencies=("EVNHN",))
    assert ready_task(wf, "coordinate").data["coordination_due_date"] == "2026-01-14"  # Mon 5 Jan + 7 WD
    assert timers(wf)["timer_coordinate_reminder"] == "2026-01-12T08:00:00+07:00"
    assert timers(wf)["timer_coordinate_overdue"] == "2026-01-14T17:00:00+07:00"
    wf = tick(wf, clock, at("2026-01-14", 16, 59))
    assert ("review_overdue", "leader") not in ready(wf)
    assert fired(wf, "timer_coordinate_reminder") == 1
    wf = tick(wf, clock, at("2026-01-14", 17, 1))
    assert sorted(ready(wf)) == [("coordinate", "agency"), ("handle", "unit"), ("review_overdue", "leader")]
    complete(wf, "coordinate", {"reply_text": "Ý kiến của EVNHN"}, agency="EVNHN")
    complete(wf, "handle", {"handling_notes": "Xong."})
    assert ("draft_answer", "unit") in ready(wf)
    assert [r["agency"] for r in ready_task(wf, "draft_answer").data["coordination_replies"]] == ["EVNHN"]


def test_draft_answer_is_watched_against_the_petitions_due_date(clock: Any) -> None:
    wf = to_handle()
    complete(wf, "handle", {"handling_notes": "Xong."})
    assert timers(wf) == {"timer_draft_reminder": "2026-01-15T08:00:00+07:00",
                          "timer_draft_overdue": "2026-01-19T17:00:00+07:00"}
    wf = tick(wf, clock, at("2026-01-19", 17, 1))
    assert ready(wf) == [("draft_answer", "unit"), ("review_overdue", "leader")]


def test_a_step_that_starts_after_its_deadline_is_neither_reminded_nor_escalated_again(clock: Any) -> None:
    wf = to_handle()
    wf = tick(wf, clock, at("2026-01-19", 17, 1))  # handle escalates once
    clock.move_to(at("2026-01-20"))
    complete(wf, "handle", {"handling_notes": "Xong muộn."})
    assert timers(wf)["timer_draft_reminder"].startswith("9999-")  # no "due soon" once the date has passed
    assert timers(wf)["timer_draft_overdue"].startswith("9999-")   # the leader already has the overdue review
    wf = tick(wf, clock, at("2026-01-21", 9, 1))
    assert fired(wf, "timer_draft_overdue") == 0 and fired(wf, "timer_draft_reminder") == 0
    assert [t for t, _ in ready(wf)].count("review_overdue") == 1


def test_a_petition_assigned_after_its_deadline_escalates_at_once(clock: Any) -> None:
    wf = start(petition_seed(received_date="2026-01-05"))
    complete(wf, "register", ACCEPT)
    complete(wf, "classify", classify())
    clock.move_to(at("2026-01-09", 10))  # Friday: the leader gives 3 WD from receipt, already past
    complete(wf, "assign", assign(working_days=3))
    assert ready_task(wf, "handle").data["due_date"] == "2026-01-08"
    assert timers(wf).get("timer_handle_reminder", "").startswith("9999-")
    wf = tick(wf, clock, at("2026-01-09", 10, 1))
    assert ready(wf) == [("handle", "unit"), ("review_overdue", "leader")]


# ---- confirmation timeout ---------------------------------------------------------------------------------

def answered(clock: Any) -> Any:
    wf = to_handle()
    complete(wf, "handle", {"handling_notes": "Xong."})
    complete(wf, "draft_answer", DRAFT)
    complete(wf, "approve", {"decision": "approve"})
    clock.move_to(at("2026-01-08", 10))  # the answer is sent on Thu 8 Jan
    complete(wf, "send_answer", {"answer_document_no": "12/BQL-VP", "answer_date": "2026-01-08"})
    return wf


def test_the_enterprise_has_ten_working_days_to_rate(clock: Any) -> None:
    wf = answered(clock)
    assert ready(wf) == [("confirm", "enterprise")]
    assert ready_task(wf, "confirm").data["rating_due_date"] == "2026-01-22"
    assert timers(wf) == {"timer_confirm_reminder": "2026-01-19T08:00:00+07:00",
                          "timer_confirm_timeout": "2026-01-22T17:00:00+07:00"}


def test_without_a_rating_the_petition_closes_on_the_tenth_working_day(clock: Any) -> None:
    wf = answered(clock)
    wf = tick(wf, clock, at("2026-01-19", 8, 1))
    assert fired(wf, "timer_confirm_reminder") == 1 and ready(wf) == [("confirm", "enterprise")]
    wf = tick(wf, clock, at("2026-01-21", 17, 1))
    wf = tick(wf, clock, at("2026-01-22", 16, 59))
    assert not wf.is_completed() and ready(wf) == [("confirm", "enterprise")]
    wf = tick(wf, clock, at("2026-01-22", 17, 0, 1))
    assert wf.is_completed() and end_event(wf) == "end_no_rating"
    assert wf.data["rating"] == "khong_danh_gia"
    assert wf.get_next_task(spec_name="confirm").state == TaskState.CANCELLED
    ends = {t.task_spec.bpmn_id: t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == "end_no_rating"}
    assert ends["end_no_rating"].task_spec.extensions["properties"]["status"] == "DONG"


def test_a_rating_in_time_cancels_the_timeout(clock: Any) -> None:
    wf = answered(clock)
    clock.move_to(at("2026-01-22", 16))
    complete(wf, "confirm", {"rating": "chap_nhan"})
    assert end_event(wf) == "end_closed" and wf.data["rating"] == "chap_nhan"
    assert not timers(wf)


# ---- urgent petitions -------------------------------------------------------------------------------------

def test_an_urgent_petition_is_acknowledged_in_one_and_acted_on_in_three_working_days(clock: Any) -> None:
    clock.move_to(at("2026-01-07"))  # sample KN.20260107.0006: power cuts, KHAN
    wf = start(petition_seed(received_date="2026-01-07"))
    register = ready_task(wf, "register")  # acknowledge within 1 WD
    assert wf.script_engine.evaluate(register, register.task_spec.extensions["properties"]["dueDate"]) == "2026-01-08"
    complete(wf, "register", ACCEPT)
    complete(wf, "classify", classify("KHAN"))
    complete(wf, "assign", assign("EVNHN", "SCT", working_days=10))
    handle = ready_task(wf, "handle")
    assert handle.data["first_action_date"] == "2026-01-12"  # 3 WD: Thu 8, Fri 9, Mon 12
    assert handle.data["handle_due_date"] == "2026-01-12"
    assert handle.data["due_date"] == "2026-01-21"  # the answer keeps the category deadline
    assert timers(wf)["timer_handle_overdue"] == "2026-01-12T17:00:00+07:00"
    wf = tick(wf, clock, at("2026-01-12", 16, 59))
    assert ("review_overdue", "leader") not in ready(wf)
    wf = tick(wf, clock, at("2026-01-12", 17, 1))
    assert ("review_overdue", "leader") in ready(wf)
    complete(wf, "handle", {"handling_notes": "Đã làm việc với EVNHN tại hiện trường."})
    for agency in ("EVNHN", "SCT"):
        complete(wf, "coordinate", {"reply_text": agency}, agency=agency)
    assert timers(wf)["timer_draft_overdue"] == "2026-01-21T17:00:00+07:00"


def test_a_normal_petition_has_no_first_action_deadline(clock: Any) -> None:
    wf = to_handle(priority="CAO")
    data = ready_task(wf, "handle").data
    assert data["first_action_date"] is None and data["handle_due_date"] == data["due_date"] == "2026-01-19"


# ---- clock pause ------------------------------------------------------------------------------------------

def test_waiting_for_the_enterprise_pauses_the_clock_and_moves_later_deadlines(clock: Any) -> None:
    wf = start(petition_seed(received_date="2026-01-05"))
    clock.move_to(at("2026-01-05", 10))
    complete(wf, "register", {"register_decision": "request_info", "info_request": "Bổ sung bản vẽ."})
    assert ready_task(wf, "supply_info").data["paused_at"] == "2026-01-05T10:00:00+07:00"
    clock.move_to(at("2026-01-08", 15))  # the enterprise answers on Thu 8 Jan: Tue, Wed, Thu were paused
    complete(wf, "supply_info", {"supplied_info": "Đã gửi bản vẽ."})
    register = ready_task(wf, "register")
    assert register.data["paused_working_days"] == 3
    assert register.data["clock_pauses"] == [{"paused_at": "2026-01-05T10:00:00+07:00",
                                              "resumed_at": "2026-01-08T15:00:00+07:00", "working_days": 3}]
    complete(wf, "register", ACCEPT)
    classify_task = ready_task(wf, "classify")
    due = wf.script_engine.evaluate(classify_task, classify_task.task_spec.extensions["properties"]["dueDate"])
    assert due == "2026-01-12"  # received Mon 5 Jan + 2 WD + 3 paused WD
    complete(wf, "classify", classify())
    complete(wf, "assign", assign(working_days=10))
    assert ready_task(wf, "handle").data["due_date"] == "2026-01-22"  # 19 Jan without the pause, + 3 WD
    assert timers(wf)["timer_handle_overdue"] == "2026-01-22T17:00:00+07:00"


def test_an_answer_after_the_cut_off_resumes_the_clock_the_next_working_day(clock: Any) -> None:
    wf = start(petition_seed(received_date="2026-01-05"))
    complete(wf, "register", {"register_decision": "request_info", "info_request": "Bổ sung."})
    clock.move_to(at("2026-01-09", 17, 30))  # Friday after 17:00: counts as Monday 12
    complete(wf, "supply_info", {"supplied_info": "Đã bổ sung."})
    assert ready_task(wf, "register").data["paused_working_days"] == 5  # Tue 6 .. Mon 12


def test_waiting_for_an_agency_does_not_pause_the_clock(clock: Any) -> None:
    wf = to_handle(agencies=("SCT",))
    clock.move_to(at("2026-01-13"))
    complete(wf, "coordinate", {"reply_text": "Ý kiến SCT"}, agency="SCT")
    complete(wf, "handle", {"handling_notes": "Xong."})
    data = ready_task(wf, "draft_answer").data
    assert data["paused_working_days"] == 0 and data["due_date"] == "2026-01-19"


# ---- extension (in memory: the runtime applies the broadcast the same way) ---------------------------------

def run_broadcasting(wf: Any) -> None:
    """do_engine_steps as the runtime runs it: the elements that ran may broadcast values to every branch."""
    ran: list[Any] = []
    wf.do_engine_steps(did_complete_task=ran.append)
    broadcast.apply_all(wf, ran)


def request(wf: Any, days: int = 5, reason: str = "Chờ EVNHN khảo sát lưới điện.") -> None:
    wf.send_event(BpmnEvent(MessageEventDefinition("extension_request"),
                            payload={"working_days": days, "reason": reason, "requested_by": "qhxd"}))
    run_broadcasting(wf)


def decide(wf: Any, data: dict[str, Any]) -> None:
    task = ready_task(wf, "approve_extension")
    task.set_data(**data)
    task.run()
    run_broadcasting(wf)


@pytest.mark.parametrize("last", ["coordinate", "handle"])
def test_a_granted_extension_reaches_every_branch_and_rearms_the_timers(clock: Any, last: str) -> None:
    wf = to_handle(agencies=("EVNHN",))
    request(wf)
    assert ready(wf) == [("approve_extension", "leader"), ("coordinate", "agency"), ("handle", "unit")]
    approval = ready_task(wf, "approve_extension")
    assert approval.data["requested_extension_days"] == 5 and approval.data["extension_reason"].startswith("Chờ")
    decide(wf, {"extension_decision": "approve", "extension_days": 5})
    assert ready(wf) == [("coordinate", "agency"), ("handle", "unit")]
    assert ready_task(wf, "handle").data["due_date"] == "2026-01-26"  # 19 Jan + 5 WD
    assert ready_task(wf, "coordinate", "EVNHN").data["due_date"] == "2026-01-26"
    assert timers(wf)["timer_handle_overdue"] == "2026-01-26T17:00:00+07:00"
    assert timers(wf)["timer_handle_reminder"] == "2026-01-22T08:00:00+07:00"
    assert timers(wf)["timer_coordinate_overdue"] == "2026-01-14T17:00:00+07:00"  # the agency's own deadline stays
    wf = round_trip(wf)
    order = [("coordinate", {"reply_text": "EVNHN"}, "EVNHN"), ("handle", {"handling_notes": "Xong."}, None)]
    if last == "coordinate":
        order.reverse()
    for bpmn_id, data, agency in order:
        complete(wf, bpmn_id, data, agency=agency)
    draft = ready_task(wf, "draft_answer")
    assert draft.data["due_date"] == "2026-01-26" and draft.data["previous_due_date"] == "2026-01-19"
    assert timers(wf)["timer_draft_overdue"] == "2026-01-26T17:00:00+07:00"
    wf = tick(wf, clock, at("2026-01-19", 17, 1))  # the old deadline passes quietly
    assert ("review_overdue", "leader") not in ready(wf)
    wf = tick(wf, clock, at("2026-01-26", 17, 1))
    assert ("review_overdue", "leader") in ready(wf)


def test_an_extension_asked_while_drafting_moves_approve_and_send_answer(clock: Any) -> None:
    wf = to_handle()
    complete(wf, "handle", {"handling_notes": "Xong."})
    request(wf, days=10)
    decide(wf, {"extension_decision": "approve", "extension_days": 10})
    assert timers(wf)["timer_draft_overdue"] == "2026-02-02T17:00:00+07:00"  # 19 Jan + 10 WD
    complete(wf, "draft_answer", DRAFT)
    assert ready_task(wf, "approve").data["due_date"] == "2026-02-02"


def test_a_refused_extension_changes_nothing(clock: Any) -> None:
    wf = to_handle()
    request(wf)
    decide(wf, {"extension_decision": "refuse", "extension_note": "Đề nghị hoàn thành đúng hạn."})
    assert ready(wf) == [("handle", "unit")]
    assert ready_task(wf, "handle").data["due_date"] == "2026-01-19"
    assert timers(wf)["timer_handle_overdue"] == "2026-01-19T17:00:00+07:00"


def test_the_grant_script_notifies_and_declares_what_it_broadcasts() -> None:
    from tests.bpmn_driver import load_petition_spec

    spec = next(s for s in load_petition_spec().task_specs.values() if s.bpmn_id == "grant_extension")
    props = spec.extensions["properties"]
    assert props["notify"] == "extension"
    assert set(broadcast.keys_of(spec)) >= {"due_date", "handle_due_date", "extension_reason"}


# ---- sample petitions: hand-checked due dates ----------------------------------------------------------------

# tracking code -> (received, priority, working days, due date); checked by hand against holidays.VN 0.109:
# New Year 1/1/2026, Tết 16-20/2/2026, weekends. KHAN adds the first-action date (received + 3 WD).
HAND_CHECKED = {
    "KN.20251218.0001": ("2025-12-18", "THUONG", 10, "2026-01-02"),  # skips Thu 1/1
    "KN.20251218.0002": ("2025-12-18", "THUONG", 20, "2026-01-16"),
    "KN.20251218.0003": ("2025-12-18", "THUONG", 20, "2026-01-16"),
    "KN.20251222.0004": ("2025-12-22", "CAO", 10, "2026-01-06"),
    "KN.20260105.0005": ("2026-01-05", "THUONG", 20, "2026-02-02"),
    "KN.20260107.0006": ("2026-01-07", "KHAN", 10, "2026-01-21"),
    "KN.20260108.0007": ("2026-01-08", "THUONG", 15, "2026-01-29"),
    "KN.20260112.0008": ("2026-01-12", "THUONG", 15, "2026-02-02"),  # before Tết
    "KN.20260114.0009": ("2026-01-14", "THUONG", 15, "2026-02-04"),
    "KN.20260115.0010": ("2026-01-15", "THUONG", 15, "2026-02-05"),
    "KN.20260119.0011": ("2026-01-19", "THUONG", 20, "2026-02-23"),  # across Tết
    "KN.20260121.0012": ("2026-01-21", "THUONG", 20, "2026-02-25"),  # across Tết
}


def _samples() -> dict[str, dict[str, Any]]:
    raw = yaml.safe_load((ROOT / "workflows" / "sample-petitions.yaml").read_text(encoding="utf-8"))
    return {p["tracking_code"]: p for p in raw["petitions"]}


def test_the_hand_checked_table_agrees_with_the_sample_file() -> None:
    samples = _samples()
    assert set(samples) == set(HAND_CHECKED)
    for code, (received, priority, working_days, due) in HAND_CHECKED.items():
        sample = samples[code]
        routing = sample["expected_routing"]
        assert (str(sample["received_at"]), sample["priority"], routing["working_days"],
                str(routing["expected_due_date"])) == (received, priority, working_days, due), code


@pytest.mark.parametrize("code", sorted(HAND_CHECKED))
def test_the_process_gives_each_sample_petition_its_hand_checked_due_date(code: str) -> None:
    received, priority, working_days, due = HAND_CHECKED[code]
    sample = _samples()[code]
    with time_machine.travel(at(received), tick=False):
        wf = start(petition_seed(received_date=received, zone=sample["zone"], category_hint=sample["category"]))
        complete(wf, "register", ACCEPT)
        complete(wf, "classify", {**classify(priority, sample["category"]),
                                  "within_authority": sample["expected_routing"]["within_authority"]})
        proposal = ready_task(wf, "assign").data
        assert proposal["proposed_working_days"] == working_days  # the routing table proposes the sample's days
        complete(wf, "assign", {"lead_unit": proposal["proposed_lead_unit"], "coordinating_agencies": [],
                                "working_days": proposal["proposed_working_days"]})
        data = ready_task(wf, "handle").data
        assert data["due_date"] == due
        assert timers(wf)["timer_handle_overdue"] == f"{data['handle_due_date']}T17:00:00+07:00"
        routing = sample["expected_routing"]
        if priority == "KHAN":
            assert data["handle_due_date"] == str(routing["first_action_by"])
            assert wf.script_engine.evaluate(ready_task(wf, "handle"), "working_days_after(received_date, 1)") == \
                str(routing["acknowledge_by"])
