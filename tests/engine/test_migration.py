"""Diff between versions and migration of running petitions (SpiffWorkflow diff_workflow / migrate_workflow)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions, migration
from engine.audit import Actor, verify_chain
from engine.contracts import Principal
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus
from tests import bpmn_edit
from workflows.designer import validation_rules
from workflows.reference import get_reference
from workflows.wiring import PROCESS_ID

DESIGNER = Actor("thiet_ke", "designer")
ADMIN = Principal("quan_tri", frozenset({"admin"}), superuser=True)


def deploy(session: Session, edit: Callable[..., None]) -> Any:
    files, forms = bpmn_edit.edited(edit)
    definition = definitions.deploy(session, PROCESS_ID, files, forms, DESIGNER, validation_rules())
    session.commit()
    return definition


@pytest.fixture
def petition(app: Any, session: Session, runtime: Any) -> Callable[[str], Any]:
    """Return a factory submitting a petition (as an enterprise) and returning its process instance."""
    from workflows import petitions
    from workflows.users import get_or_create_enterprise

    enterprise = get_or_create_enterprise(session, "0101234567", "Công ty TNHH Alpha", "TL")
    session.commit()

    def submit(title: str) -> ProcessInstance:
        petition = petitions.submit(session, runtime, Actor("dn_a", "enterprise"), enterprise,
                                    petitions.Submission(title=title, content="Nội dung chi tiết", zone="TL"))
        session.commit()
        return session.get(ProcessInstance, petition.instance_id)

    return submit


def open_rows(session: Session, instance: ProcessInstance) -> list[HumanTask]:
    return list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                        HumanTask.status == TaskStatus.OPEN).order_by(HumanTask.bpmn_id)))


def step(session: Session, runtime: Any, instance: ProcessInstance, bpmn_id: str, data: dict[str, Any]) -> None:
    row = next(r for r in open_rows(session, instance) if r.bpmn_id == bpmn_id)
    runtime.complete(session, row.id, ADMIN, data)
    session.commit()


def steps(session: Session, instance: ProcessInstance) -> list[str]:
    session.refresh(instance)
    return [r.bpmn_id for r in open_rows(session, instance)]


CLASSIFY = {"petition_type": "KN", "priority": "THUONG", "triage_outcome": "THUOC_THAM_QUYEN",
            "within_authority": False}


def classify_data() -> dict[str, Any]:
    return {**CLASSIFY, "category": next(iter(get_reference().categories))}


def test_diff_in_words_lists_added_removed_and_changed_elements(app: Any, session: Session) -> None:
    v1 = definitions.latest_active(session, PROCESS_ID)
    v2 = deploy(session, bpmn_edit.insert_task_after_register)
    v3 = deploy(session, lambda root, forms: (bpmn_edit.remove_supply_info(root, forms),
                                              bpmn_edit.rename_task("classify", "Phân loại đơn")(root, forms)))
    added = migration.diff_versions(v1, v2)
    assert "verify_documents" in added.ids("added")
    assert "flow_verify_documents_done" in added.ids("added")
    accept = next(c for c in added.changes if c.element_id == "flow_register_accept")
    assert (accept.change, accept.aspects) == ("changed", (migration.Aspect("target", "classify", "verify_documents"),))
    form = next(c for c in added.changes if c.tag == "form")
    assert (form.change, form.element_id) == ("added", "verify_documents.json")
    new_task = next(c for c in added.changes if c.element_id == "verify_documents")
    assert (new_task.kind, new_task.lane, new_task.name) == ("user task", "intake", "Kiểm tra hồ sơ")

    removed = migration.diff_versions(v1, v3)
    assert {"supply_info", "flow_supply_done", "flow_register_request_info"} <= set(removed.ids("removed"))
    renamed = next(c for c in removed.changes if c.element_id == "classify")
    assert migration.Aspect("name", "Phân loại", "Phân loại đơn") in renamed.aspects
    assert not migration.diff_versions(v1, v1).changes


def test_a_migrated_petition_continues_on_the_new_version_and_one_that_cannot_stays_untouched(
        db_kind: str, app: Any, session: Session, runtime: Any, petition: Callable[[str], ProcessInstance]) -> None:
    v1 = definitions.latest_active(session, PROCESS_ID)
    at_register = petition("Đề nghị cấp điện")
    at_supply = petition("Đề nghị cấp nước")
    step(session, runtime, at_supply, "register", {"register_decision": "request_info",
                                                  "info_request": "Bổ sung giấy phép"})
    assert steps(session, at_supply) == ["supply_info"]
    claimed = open_rows(session, at_register)[0]
    runtime.claim(session, claimed.id, ADMIN)
    session.commit()
    untouched_state, untouched_rows = at_supply.state, [r.id for r in open_rows(session, at_supply)]

    v2 = deploy(session, lambda root, forms: (bpmn_edit.remove_supply_info(root, forms),
                                              bpmn_edit.insert_task_after_register(root, forms)))
    report = {v.business_key: v for v in migration.dry_run(session, runtime, v2)}
    session.rollback()
    assert report[at_register.business_key].migratable, report[at_register.business_key].reasons
    blocked = report[at_supply.business_key]
    assert not blocked.migratable
    assert "supply_info" in blocked.reasons[0].message and blocked.reasons[0].msgid == migration.MSG_REMOVED_IN_USE
    assert any(n.msgid == migration.MSG_RESET_STEP for n in report[at_register.business_key].notes)

    results = migration.migrate(session, runtime, v2, [at_register.id, at_supply.id], DESIGNER)
    session.commit()
    assert [(v.business_key, v.migrated) for v in results] == [(at_register.business_key, True),
                                                              (at_supply.business_key, False)]
    # The one that could not migrate is exactly as it was.
    session.refresh(at_supply)
    assert (at_supply.definition_id, at_supply.state) == (v1.id, untouched_state)
    assert [r.id for r in open_rows(session, at_supply)] == untouched_rows
    # The migrated one: new version, projection re-synced with the workflow, claim kept, audited.
    session.refresh(at_register)
    assert at_register.definition_id == v2.id
    rows = open_rows(session, at_register)
    workflow = runtime.load(session, at_register)
    assert {r.id for r in rows} == {str(t.id) for t in workflow.get_tasks(state=16, manual=True)}
    assert [(r.bpmn_id, r.claimed_by) for r in rows] == [("register", ADMIN.name)]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "INSTANCE_MIGRATED"))
    assert event.business_key == at_register.business_key
    assert (event.data["from_version"], event.data["to_version"]) == (v1.version, v2.version)
    assert isinstance(event.data["removed_task_ids"], list)
    assert verify_chain(session) is None
    # ... and it passes through the new task.
    step(session, runtime, at_register, "register", {"register_decision": "accept"})
    assert steps(session, at_register) == ["verify_documents"]
    step(session, runtime, at_register, "verify_documents", {"documents_ok": True})
    assert steps(session, at_register) == ["classify"]
    history = [e.bpmn_id for e in session.scalars(select(AuditEvent).where(
        AuditEvent.business_key == at_register.business_key, AuditEvent.action == "TASK_COMPLETED"))]
    assert history == ["register", "verify_documents"]
    # New petitions start on the newest active version; the old one still runs on version 1.
    assert petition("Đề nghị mới").definition_id == v2.id
    step(session, runtime, at_supply, "supply_info", {"supplied_info": "Đã bổ sung"})
    assert steps(session, at_supply) == ["register"]


def test_a_running_multi_instance_whose_definition_changed_cannot_migrate(
        app: Any, session: Session, runtime: Any, petition: Callable[[str], ProcessInstance]) -> None:
    instance = petition("Đề nghị phối hợp")
    step(session, runtime, instance, "register", {"register_decision": "accept"})
    step(session, runtime, instance, "classify", classify_data())
    agencies = list(get_reference().agencies)[:2]
    step(session, runtime, instance, "assign", {"lead_unit": next(iter(get_reference().units)),
                                                "coordinating_agencies": agencies, "working_days": 10})
    assert steps(session, instance).count("coordinate") == 2
    renamed = deploy(session, bpmn_edit.rename_task("draft_answer", "Dự thảo văn bản trả lời"))
    changed_mi = deploy(session, bpmn_edit.rename_coordination_output)
    ok, = migration.dry_run(session, runtime, renamed, [instance.id])
    refused, = migration.dry_run(session, runtime, changed_mi, [instance.id])
    assert ok.migratable, ok.reasons
    assert not refused.migratable
    assert refused.reasons[0].msgid == migration.MSG_MI_CHANGED and "coordinate" in refused.reasons[0].message
    # Migrating the running multi-instance onto a spec with only a renamed later step keeps it working.
    result, = migration.migrate(session, runtime, renamed, [instance.id], DESIGNER)
    session.commit()
    assert result.migrated
    assert sorted(steps(session, instance)) == ["coordinate", "coordinate", "handle"]
    for row in [r for r in open_rows(session, instance) if r.bpmn_id == "coordinate"]:
        runtime.complete(session, row.id, ADMIN, {"reply_text": "Đồng ý"})
        session.commit()
    step(session, runtime, instance, "handle", {"handling_notes": "Đã làm việc với doanh nghiệp"})
    assert steps(session, instance) == ["draft_answer"]
    workflow = runtime.load(session, instance)
    replies = workflow.get_tasks(state=16, manual=True)[0].data["coordination_replies"]
    assert [r["agency"] for r in replies] == agencies


def test_instances_that_are_not_candidates_are_reported_not_migrated(
        app: Any, session: Session, runtime: Any, petition: Callable[[str], ProcessInstance]) -> None:
    instance = petition("Đề nghị")
    v1 = definitions.latest_active(session, PROCESS_ID)
    verdict, = migration.dry_run(session, runtime, v1, [instance.id])
    assert not verdict.migratable and verdict.reasons[0].msgid == migration.MSG_SAME_VERSION
    v2 = deploy(session, bpmn_edit.rename_task("classify", "Phân loại đơn"))
    assert [i.id for i in migration.candidates(session, v2)] == [instance.id]
    assert migration.candidates(session, v1) == []
    step(session, runtime, instance, "register", {"register_decision": "reject", "rejection_reason":
                                                  next(iter(get_reference().options("rejection_reasons", "vi")))[0]})
    session.refresh(instance)
    verdict, = migration.dry_run(session, runtime, v2, [instance.id])
    assert not verdict.migratable and verdict.reasons[0].msgid == migration.MSG_NOT_RUNNING
    assert json.dumps([migration.migrate(session, runtime, v2, [instance.id], DESIGNER)[0].migrated]) == "[false]"
