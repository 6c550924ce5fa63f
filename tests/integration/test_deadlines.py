"""Deadlines through the runtime and the database: extension, pause, escalation, inbox order."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.models import HumanTask, ProcessInstance, TaskStatus, Timer
from tests.integration.support import Lifecycle
from workflows import tasks
from workflows.sla import request_extension

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def life(db_kind, clock, session, runtime, make_user) -> Lifecycle:  # noqa: ARG001 - fixtures order the setup
    return Lifecycle(session, runtime, make_user)


def _assigned(life: Lifecycle, agencies: tuple[str, ...] = ("EVNHN",), priority: str = "THUONG") -> Any:
    petition = life.submit()
    life.to_assignment(petition, priority=priority)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=list(agencies), working_days=10)
    return petition


def _open(life: Lifecycle, petition: Any, bpmn_id: str) -> list[HumanTask]:
    return list(life.session.scalars(select(HumanTask).where(
        HumanTask.business_key == petition.tracking_code, HumanTask.bpmn_id == bpmn_id,
        HumanTask.status == TaskStatus.OPEN)))


def _timers(life: Lifecycle, petition: Any) -> dict[str, dt.datetime]:
    rows = life.session.scalars(select(Timer).where(Timer.instance_id == petition.instance_id,
                                                    Timer.fired_at.is_(None)))
    return {row.bpmn_id: row.due_at for row in rows}


def _hanoi(moment: dt.datetime) -> str:
    return moment.astimezone(HANOI).isoformat()


def test_a_granted_extension_moves_the_petition_its_open_tasks_and_its_timers(life: Lifecycle) -> None:
    petition = _assigned(life)
    assert petition.due_date == dt.date(2026, 1, 19)
    request_extension(life.session, life.runtime, life.unit, petition.tracking_code, 5,
                      "Chờ EVNHN khảo sát lại đường dây 22 kV.")
    life.session.commit()
    assert life.open_steps(petition) == [("approve_extension", "leader"), ("coordinate", "agency"), ("handle", "unit")]
    approval = life.task_of(life.leader, petition, "approve_extension")
    detail = tasks.detail(life.session, life.runtime, life.leader, approval)
    assert detail.data["requested_extension_days"] == 5 and detail.data["extension_requested_by"] == "qhxd"
    life.do(life.leader, petition, "approve_extension", extension_decision="approve", extension_days=5)
    assert petition.due_date == dt.date(2026, 1, 26)
    assert [t.due_date for t in _open(life, petition, "handle")] == [dt.date(2026, 1, 26)]
    assert [t.due_date for t in _open(life, petition, "coordinate")] == [dt.date(2026, 1, 14)]  # its own deadline
    timers = _timers(life, petition)
    assert _hanoi(timers["timer_handle_overdue"]) == "2026-01-26T17:00:00+07:00"
    assert _hanoi(timers["timer_handle_reminder"]) == "2026-01-22T08:00:00+07:00"
    life.do(life.unit, petition, "handle", handling_notes="Đã khảo sát.")
    life.do(life.agencies["EVNHN"], petition, "coordinate", reply_text="EVNHN đồng ý nâng cấp.")  # arrives last
    assert [t.due_date for t in _open(life, petition, "draft_answer")] == [dt.date(2026, 1, 26)]
    assert _hanoi(_timers(life, petition)["timer_draft_overdue"]) == "2026-01-26T17:00:00+07:00"
    life.do(life.unit, petition, "draft_answer", answer_text="Trả lời.", result_type="DA_GIAI_QUYET")
    assert [t.due_date for t in _open(life, petition, "approve")] == [dt.date(2026, 1, 26)]


def test_an_extension_is_asked_once_by_the_lead_unit_for_at_most_ten_working_days(life: Lifecycle) -> None:
    petition = _assigned(life, agencies=())
    code = petition.tracking_code
    with pytest.raises(Forbidden):
        request_extension(life.session, life.runtime, life.other_unit, code, 5, "Lý do")
    with pytest.raises(ValidationFailed) as err:
        request_extension(life.session, life.runtime, life.unit, code, 11, "Lý do")
    assert err.value.errors == {"working_days": "The value is too large."}
    with pytest.raises(ValidationFailed) as err:
        request_extension(life.session, life.runtime, life.unit, code, 0, " ")
    assert set(err.value.errors) == {"working_days", "reason"}
    request_extension(life.session, life.runtime, life.unit, code, 10, "Cần thêm thời gian")
    life.session.commit()
    with pytest.raises(Conflict, match="already been requested"):
        request_extension(life.session, life.runtime, life.unit, code, 3, "Lần hai")
    life.session.rollback()
    life.do(life.leader, petition, "approve_extension", extension_decision="refuse",
            extension_note="Đề nghị hoàn thành đúng hạn.")
    assert petition.due_date == dt.date(2026, 1, 19)
    with pytest.raises(Conflict, match="already been requested"):  # a refused request counts too
        request_extension(life.session, life.runtime, life.unit, code, 3, "Lần hai")


def test_no_extension_outside_handling(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_assignment(petition)
    with pytest.raises(Forbidden):  # no lead unit yet
        request_extension(life.session, life.runtime, life.unit, petition.tracking_code, 3, "Lý do")
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    life.do(life.unit, petition, "handle", handling_notes="Xong.")
    life.do(life.unit, petition, "draft_answer", answer_text="Trả lời.", result_type="DA_GIAI_QUYET")
    with pytest.raises(Conflict, match="not waiting"):  # the answer is with the leader
        request_extension(life.session, life.runtime, life.unit, petition.tracking_code, 3, "Lý do")


def test_waiting_for_the_enterprise_pauses_the_clock(life: Lifecycle, clock: Any) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="request_info", info_request="Bổ sung bản vẽ.")
    assert petition.status == "CHO_BO_SUNG"
    clock.move_to(dt.datetime(2026, 1, 8, 10, 0, tzinfo=HANOI))  # Thursday: Tue, Wed, Thu paused
    life.do(life.enterprise_user, petition, "supply_info", supplied_info="Đã gửi bản vẽ.")
    assert [t.due_date for t in _open(life, petition, "register")] == [dt.date(2026, 1, 9)]  # 1 WD + 3 paused
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    assert petition.due_date == dt.date(2026, 1, 22)  # 19 Jan + 3 paused working days


def test_the_escalation_reaches_the_leaders_inbox_on_the_due_day(life: Lifecycle, clock: Any) -> None:
    petition = _assigned(life, agencies=())
    instance = life.session.get(ProcessInstance, petition.instance_id)
    clock.move_to(dt.datetime(2026, 1, 19, 16, 59, tzinfo=HANOI))
    life.runtime.fire_timers(life.session, instance.id)
    life.session.commit()
    assert ("review_overdue", "leader") not in life.open_steps(petition)
    clock.move_to(dt.datetime(2026, 1, 19, 17, 1, tzinfo=HANOI))
    life.runtime.fire_timers(life.session, instance.id)
    life.session.commit()
    assert life.open_steps(petition) == [("handle", "unit"), ("review_overdue", "leader")]
    review = life.task_of(life.leader, petition, "review_overdue")
    assert life.session.get(HumanTask, review).due_date == dt.date(2026, 1, 20)
    assert petition.status == "DANG_XU_LY"  # the side task does not change the petition's status
    life.do(life.leader, petition, "review_overdue", instruction="Hoàn thành trước 21/01.")
    assert life.open_steps(petition) == [("handle", "unit")]


def test_the_inbox_puts_the_earliest_due_first_then_the_urgent_then_the_oldest(life: Lifecycle) -> None:
    # Reference data: CAO is "listed first in inboxes", KHAN is urgent. On one due day: KHAN, CAO, THUONG,
    # each by age -- a CAO task is listed before a THUONG one created earlier. The database pages in this order
    # (the task rows carry the rank: engine.inbox, workflows.priority).
    normal = life.submit(title="Thường")
    life.to_assignment(normal, priority="THUONG")
    urgent = life.submit(title="Khẩn")
    life.to_assignment(urgent, priority="KHAN")
    later = life.submit(title="Cao")
    life.to_assignment(later, priority="CAO")
    normal_later = life.submit(title="Thường, sau")
    life.to_assignment(normal_later, priority="THUONG")
    items = tasks.inbox(life.session, life.runtime, life.leader)
    rows = {i.task.business_key: i for i in items}
    assert len({rows[p.tracking_code].task.due_date for p in (normal, urgent, later, normal_later)}) == 1
    assert [i.task.business_key for i in items] == [urgent.tracking_code, later.tracking_code, normal.tracking_code,
                                                    normal_later.tracking_code]
    assert [rows[p.tracking_code].task.priority for p in (urgent, later, normal)] == [0, 1, 2]
    assert [rows[p.tracking_code].priority for p in (normal, urgent, later)] == ["THUONG", "KHAN", "CAO"]
    assert rows[urgent.tracking_code].as_json()["priority"] == "KHAN"
    assert sorted(items, key=tasks.urgency) == items
    # Pages of one row keep that order.
    page, paged = tasks.inbox(life.session, life.runtime, life.leader, 1), []
    while True:
        paged += [i.task.business_key for i in page]
        if not page.has_more:
            break
        page = tasks.inbox(life.session, life.runtime, life.leader, 1, page.next)
    assert paged == [i.task.business_key for i in items]
