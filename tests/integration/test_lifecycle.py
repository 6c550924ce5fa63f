"""Every branch of the petition process, lane by lane, on SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.errors import Forbidden, ValidationFailed
from engine.models import ProcessInstance
from tests.integration.support import Lifecycle
from workflows import petitions, tasks


@pytest.fixture
def life(db_kind, session, runtime, make_user) -> Lifecycle:  # noqa: ARG001 - db_kind parametrizes the backend
    return Lifecycle(session, runtime, make_user)


def _instance(life: Lifecycle, petition) -> ProcessInstance:
    return life.session.get(ProcessInstance, petition.instance_id)


def test_accepted_petition_is_answered_and_rated_satisfied(life: Lifecycle) -> None:
    petition = life.submit()
    assert petition.tracking_code.startswith("KN.") and petition.status == "MOI_TIEP_NHAN"
    assert life.open_steps(petition) == [("register", "intake")]
    life.to_assignment(petition)
    assert petition.status == "DA_PHAN_LOAI" and life.open_steps(petition) == [("assign", "leader")]
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN", "SCT", "CDT_HT"],
            working_days=10)
    assert petition.lead_unit == "QHXD" and petition.due_date is not None
    assert life.open_steps(petition) == [("coordinate", "agency")] * 3 + [("handle", "unit")]
    life.do(life.unit, petition, "handle", handling_notes="Đã kiểm tra.")
    for code in ("CDT_HT", "EVNHN", "SCT"):
        life.do(life.agencies[code], petition, "coordinate", reply_text=f"Ý kiến {code}", reply_document_no="1/CV")
    assert life.open_steps(petition) == [("draft_answer", "unit")]
    draft = tasks.detail(life.session, life.runtime, life.unit, life.task_of(life.unit, petition, "draft_answer"))
    replies = draft.data["coordination_replies"]
    assert sorted(r["agency"] for r in replies) == ["CDT_HT", "EVNHN", "SCT"]
    assert {r["text"] for r in replies} == {"Ý kiến CDT_HT", "Ý kiến EVNHN", "Ý kiến SCT"}
    life.do(life.unit, petition, "draft_answer", answer_text="Đã khắc phục.", result_type="DA_GIAI_QUYET")
    assert petition.status == "DU_THAO_TRA_LOI"
    life.answer_and_send(petition)
    assert petition.status == "DA_TRA_LOI" and life.open_steps(petition) == [("confirm", "enterprise")]
    life.do(life.enterprise_user, petition, "confirm", rating="hai_long", comment="Cảm ơn Ban.")
    assert petition.status == "DONG" and petition.rating == "hai_long" and petition.closed_at is not None
    assert _instance(life, petition).end_event == "end_closed"
    assert life.open_steps(petition) == []


def test_rejected_petition_ends_with_reason(life: Lifecycle) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="reject", rejection_reason="NOI_DUNG_KHONG_RO")
    assert petition.status == "KHONG_TIEP_NHAN" and _instance(life, petition).end_event == "end_rejected"


def test_rejection_without_reason_is_refused_and_changes_nothing(life: Lifecycle) -> None:
    petition = life.submit()
    version = _instance(life, petition).version
    with pytest.raises(ValidationFailed) as err:
        life.do(life.intake, petition, "register", register_decision="reject")
    life.session.rollback()
    assert "rejection_reason" in err.value.errors
    assert _instance(life, petition).version == version and life.open_steps(petition) == [("register", "intake")]


def test_information_request_goes_to_the_enterprise_and_back(life: Lifecycle) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="request_info", info_request="Bổ sung bản vẽ.")
    assert petition.status == "CHO_BO_SUNG" and life.open_steps(petition) == [("supply_info", "enterprise")]
    with pytest.raises(AssertionError):
        life.task_of(life.other_enterprise_user, petition, "supply_info")
    life.do(life.enterprise_user, petition, "supply_info", supplied_info="Đã gửi bản vẽ.")
    assert life.open_steps(petition) == [("register", "intake")]


@pytest.mark.parametrize("petition_type", ["KNAI", "TC"])
def test_complaints_and_denunciations_leave_the_petition_track(life: Lifecycle, petition_type: str,
                                                                make_user: Callable[..., Any]) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept")
    life.do(life.intake, petition, "classify", petition_type=petition_type, category="KHAC", priority="THUONG",
            within_authority=True, triage_outcome="THUOC_THAM_QUYEN")
    assert life.open_steps(petition) == [("record_out_of_track", "intake")]
    # A denunciation is seen only by designated intake officers (role inspector).
    recorder = life.intake if petition_type == "KNAI" else make_user("thanhtra", "intake", "inspector")
    life.do(recorder, petition, "record_out_of_track", guidance="Hướng dẫn gửi Thanh tra thành phố.")
    assert _instance(life, petition).end_event == "end_out_of_track"


def test_out_of_authority_petition_is_forwarded(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_assignment(petition, triage_outcome="KHONG_THUOC_THAM_QUYEN")
    assert life.open_steps(petition) == [("forward", "intake")]
    life.do(life.intake, petition, "forward", forwarded_to="Sở Công Thương", forward_document_no="5/BQL-VP")
    assert petition.status == "CHUYEN_CO_QUAN_KHAC" and _instance(life, petition).end_event == "end_forwarded"


def test_leader_returns_the_draft_then_approves_it(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_answer(petition)
    life.do(life.leader, petition, "approve", decision="return", return_reason="Bổ sung lộ trình.")
    assert life.open_steps(petition) == [("draft_answer", "unit")]
    life.do(life.unit, petition, "draft_answer", answer_text="Bản sửa.", result_type="GHI_NHAN")
    life.answer_and_send(petition)
    assert life.open_steps(petition) == [("confirm", "enterprise")]


def test_dissatisfied_reopens_once_then_closes(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_answer(petition)
    life.answer_and_send(petition)
    life.do(life.enterprise_user, petition, "confirm", rating="khong_hai_long", comment="Chưa khắc phục.")
    assert petition.status == "MO_LAI" and life.open_steps(petition) == [("draft_answer", "unit")]
    life.do(life.unit, petition, "draft_answer", answer_text="Bổ sung.", result_type="DA_GIAI_QUYET")
    life.answer_and_send(petition)
    life.do(life.enterprise_user, petition, "confirm", rating="khong_hai_long", comment="Vẫn chưa.")
    assert petition.status == "DONG" and petition.rating == "khong_hai_long"
    assert _instance(life, petition).end_event == "end_closed"


def test_dissatisfied_rating_needs_a_comment(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_answer(petition)
    life.answer_and_send(petition)
    with pytest.raises(ValidationFailed) as err:
        life.do(life.enterprise_user, petition, "confirm", rating="khong_hai_long")
    assert "comment" in err.value.errors


def test_assignment_without_agencies_goes_straight_to_the_unit(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    assert life.open_steps(petition) == [("handle", "unit")]
    life.do(life.unit, petition, "handle", handling_notes="Tự giải quyết.")
    assert life.open_steps(petition) == [("draft_answer", "unit")]


def test_each_agency_sees_only_its_own_request(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN", "SCT"], working_days=10)
    evn = tasks.inbox(life.session, life.runtime, life.agencies["EVNHN"])
    assert [(i.task.bpmn_id, i.task.scope_value) for i in evn] == [("coordinate", "EVNHN")]
    assert tasks.inbox(life.session, life.runtime, life.agencies["CDT_HT"]) == []
    sct_task = life.task_of(life.agencies["SCT"], petition, "coordinate")
    with pytest.raises(Forbidden):
        tasks.complete(life.session, life.runtime, life.agencies["EVNHN"], sct_task, {"reply_text": "x"})


def test_unit_cannot_complete_another_units_task(life: Lifecycle) -> None:
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    task_id = life.task_of(life.unit, petition, "handle")
    version = _instance(life, petition).version
    with pytest.raises(Forbidden):
        tasks.complete(life.session, life.runtime, life.other_unit, task_id, {"handling_notes": "x"})
    life.session.rollback()
    assert _instance(life, petition).version == version


def test_undeclared_fields_never_reach_task_data(life: Lifecycle) -> None:
    petition = life.submit()
    life.do(life.intake, petition, "register", register_decision="accept", approved=True, __builtins__="x",
            _secret=1, within_authority=False)
    task_id = life.task_of(life.intake, petition, "classify")
    data = tasks.detail(life.session, life.runtime, life.intake, task_id).data
    assert not {"approved", "__builtins__", "_secret", "within_authority"} & set(data)


def test_every_step_is_in_the_hash_chained_audit_log(life: Lifecycle) -> None:
    from engine.audit import verify_chain

    petition = life.submit()
    life.to_assignment(petition)
    actions = [(e.action, e.bpmn_id, e.actor) for e in petitions.history(life.session, petition)]
    assert ("PETITION_RECEIVED", None, "dn") in actions
    assert ("TASK_COMPLETED", "register", "tn") in actions and ("TASK_COMPLETED", "classify", "tn") in actions
    completed = [e for e in petitions.history(life.session, petition) if e.action == "TASK_COMPLETED"]
    assert completed[0].data == {"register_decision": "accept"}
    assert verify_chain(life.session) is None
