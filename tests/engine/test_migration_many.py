"""Dry run and migration of 100 running petitions at mixed stages: the verdicts match what happens.

Version 2 adds a unit-lane user task `review_handling` (with a form) after `handle` and removes the
'request more information' loop (`supply_info`), so petitions waiting at, or having passed, `supply_info`
cannot migrate; the others can, and keep their data, history and open tasks.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions, migration
from engine.audit import Actor, verify_chain
from engine.models import AuditEvent, HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests import bpmn_edit
from tests.bpmn_edit import SPIFF, _one, _q
from tests.integration.support import Lifecycle
from workflows import tasks
from workflows.designer import validation_rules
from workflows.models import Petition
from workflows.wiring import PROCESS_ID

DESIGNER = Actor("thiet_ke", "designer")
COUNT = 100
REVIEW_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Rà soát kết quả xử lý",
    "x-title-en": "Review the handling", "type": "object", "additionalProperties": False,
    "properties": {"review_notes": {"type": "string", "title": "Ý kiến rà soát", "minLength": 1}},
    "required": ["review_notes"],
}


def insert_review_after_handle(root: etree._Element, forms: dict[str, Any]) -> None:
    """Put a new unit-lane user task (with a form) between `handle` and the join."""
    process = _one(root, "//bpmn:process[@id='petition']")
    flow = _one(root, "//bpmn:sequenceFlow[@id='flow_handle_done']")
    flow.set("targetRef", "review_handling")
    task = etree.SubElement(process, _q("userTask"), id="review_handling", name="Rà soát kết quả xử lý")
    props = etree.SubElement(etree.SubElement(task, _q("extensionElements")), f"{{{SPIFF}}}properties")
    etree.SubElement(props, f"{{{SPIFF}}}property", name="formJsonSchemaFilename", value="review_handling.json")
    etree.SubElement(props, f"{{{SPIFF}}}property", name="status", value="DANG_XU_LY")
    etree.SubElement(task, _q("incoming")).text = "flow_handle_done"
    etree.SubElement(task, _q("outgoing")).text = "flow_review_done"
    etree.SubElement(process, _q("sequenceFlow"), id="flow_review_done", sourceRef="review_handling",
                     targetRef="join_handle")
    join = _one(root, "//bpmn:parallelGateway[@id='join_handle']")
    for incoming in join.findall(_q("incoming")):
        if incoming.text == "flow_handle_done":
            incoming.text = "flow_review_done"
    etree.SubElement(_one(root, "//bpmn:lane[@name='unit']"), _q("flowNodeRef")).text = "review_handling"
    forms["review_handling.json"] = REVIEW_FORM


def version_2(root: etree._Element, forms: dict[str, Any]) -> None:
    insert_review_after_handle(root, forms)
    bpmn_edit.remove_supply_info(root, forms)


# --- stages on version 1 -------------------------------------------------------------------------------

def _assigned(life: Lifecycle, p: Petition, agencies: tuple[str, ...]) -> None:
    life.to_assignment(p)
    life.do(life.leader, p, "assign", lead_unit="QHXD", coordinating_agencies=list(agencies), working_days=10)


def _reply(life: Lifecycle, p: Petition, code: str) -> None:
    life.do(life.agencies[code], p, "coordinate", reply_text=f"Ý kiến của {code}", reply_document_no=f"{code}/01")


def _handle(life: Lifecycle, p: Petition) -> None:
    life.do(life.unit, p, "handle", handling_notes="Đã làm việc với điện lực.")


def _request_info(life: Lifecycle, p: Petition) -> None:
    life.do(life.intake, p, "register", register_decision="request_info", info_request="Bổ sung giấy phép")


def _sent(life: Lifecycle, p: Petition) -> None:
    life.to_answer(p)
    life.answer_and_send(p)


def _confirm(life: Lifecycle, p: Petition, rating: str) -> None:
    life.do(life.enterprise_user, p, "confirm", rating=rating, comment="Ý kiến.")


STAGES: dict[str, Callable[[Lifecycle, Petition], None]] = {
    "registered": lambda life, p: None,
    "waiting_supply_info": _request_info,
    "supplied_back_at_register": lambda life, p: (_request_info(life, p),
                                                  life.do(life.enterprise_user, p, "supply_info",
                                                          supplied_info="Đã bổ sung")),
    "classified": lambda life, p: life.to_assignment(p),
    "assigned_0": lambda life, p: _assigned(life, p, ()),
    "assigned_1": lambda life, p: _assigned(life, p, ("EVNHN",)),
    "assigned_2_one_reply": lambda life, p: (_assigned(life, p, ("EVNHN", "SCT")), _reply(life, p, "SCT")),
    "handled_waiting_reply": lambda life, p: (_assigned(life, p, ("EVNHN", "SCT")), _reply(life, p, "EVNHN"),
                                              _handle(life, p)),
    "handled": lambda life, p: (_assigned(life, p, ("EVNHN",)), _reply(life, p, "EVNHN"), _handle(life, p)),
    "drafted": lambda life, p: life.to_answer(p),
    "approved_sent": _sent,
    "reopened": lambda life, p: (_sent(life, p), _confirm(life, p, "khong_hai_long")),
    "closed": lambda life, p: (_sent(life, p), _confirm(life, p, "hai_long")),
}
# Why a stage cannot migrate: at / went through the removed `supply_info`; or `handle` done while a reply is
# still open, so the join already waits after `handle` and would wait forever for the new `review_handling`.
NOT_MIGRATABLE = {"waiting_supply_info": migration.MSG_REMOVED_IN_USE,
                  "supplied_back_at_register": migration.MSG_REMOVED_IN_USE,
                  "handled_waiting_reply": migration.MSG_REROUTED_DONE}


# --- observations --------------------------------------------------------------------------------------

def open_rows(session: Session, instance_id: int) -> list[HumanTask]:
    return list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                        HumanTask.status == TaskStatus.OPEN)))


def ready_data(runtime: Any, session: Session, instance: ProcessInstance) -> dict[tuple[str, Any], dict[str, Any]]:
    """Data of the open human tasks, keyed by (step, agency) (agency tells the coordination instances apart)."""
    workflow = runtime.load(session, instance)
    return {(t.task_spec.bpmn_id, t.data.get("agency")): dict(t.data)
            for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def history(session: Session, key: str) -> list[tuple[int, str]]:
    return [(e.id, e.action) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.business_key == key).order_by(AuditEvent.id))]


def snapshot(session: Session, runtime: Any, instance: ProcessInstance) -> dict[str, Any]:
    session.refresh(instance)
    return {"definition_id": instance.definition_id, "state": instance.state, "version": instance.version,
            "status": instance.status, "rows": sorted((r.id, r.bpmn_id, r.claimed_by) for r in
                                                      open_rows(session, instance.id)),
            "history": history(session, instance.business_key),
            "data": ready_data(runtime, session, instance) if instance.status == InstanceStatus.RUNNING else {}}


def _coordinate_any(life: Lifecycle, p: Petition) -> None:
    code = next(c for c in life.agencies
                if any(i.task.bpmn_id == "coordinate" and i.task.business_key == p.tracking_code
                       for i in tasks.inbox(life.session, life.runtime, life.agencies[c])))
    _reply(life, p, code)


FINISHING: dict[str, Callable[[Lifecycle, Petition], None]] = {
    "register": lambda life, p: life.do(life.intake, p, "register", register_decision="accept"),
    "classify": lambda life, p: life.do(life.intake, p, "classify", petition_type="KN", category="DIEN",
                                        priority="THUONG", within_authority=True,
                                        triage_outcome="THUOC_THAM_QUYEN"),
    "assign": lambda life, p: life.do(life.leader, p, "assign", lead_unit="QHXD",
                                      coordinating_agencies=["CDT_HT"], working_days=10),
    "coordinate": _coordinate_any,
    "handle": _handle,
    "review_handling": lambda life, p: life.do(life.unit, p, "review_handling", review_notes="Đã rà soát."),
    "draft_answer": lambda life, p: life.do(life.unit, p, "draft_answer", answer_text="Đã khắc phục.",
                                            result_type="DA_GIAI_QUYET"),
    "approve": lambda life, p: life.do(life.leader, p, "approve", decision="approve"),
    "send_answer": lambda life, p: life.do(life.intake, p, "send_answer", answer_document_no="12/BQL-QHXD",
                                           answer_date="2026-02-02"),
    "confirm": lambda life, p: _confirm(life, p, "hai_long"),
}


def finish(life: Lifecycle, p: Petition, replies: dict[str, Any]) -> None:
    """Complete a migrated petition to the end, whatever step it waits at (through the new task)."""
    for _ in range(20):
        steps = [s for s, _lane in life.open_steps(p)]
        if not steps:
            return
        step = steps[0]
        assert step in FINISHING, f"unexpected step {step} for {p.tracking_code}"
        if step == "draft_answer":
            replies[p.tracking_code] = next(iter(ready_data(life.runtime, life.session, life.session.get(
                ProcessInstance, p.instance_id)).values())).get("coordination_replies")
        FINISHING[step](life, p)
    raise AssertionError(f"{p.tracking_code} did not finish: {life.open_steps(p)}")


def check_migrated(session: Session, runtime: Any, inst: ProcessInstance, now: dict[str, Any],
                   before: dict[str, Any], stage: str, petition: Petition, v2: Any) -> None:
    """A migrated instance: on v2, history kept plus one event, data kept, open task rows re-synced."""
    assert now["definition_id"] == v2.id and now["status"] == InstanceStatus.RUNNING
    # History: every prior event kept, one INSTANCE_MIGRATED added.
    assert now["history"][:len(before["history"])] == before["history"], stage
    added = [a for _id, a in now["history"][len(before["history"]):]]
    assert added.count("INSTANCE_MIGRATED") == 1, (stage, added)
    # Data: each open step keeps every value it had (the new step, if any, sees the same data).
    for key, data in before["data"].items():
        assert key in now["data"], (stage, key, list(now["data"]))
        kept = {k: now["data"][key].get(k) for k in data}
        # An open coordination instance holds a snapshot of the replies; migrating may refresh it from
        # its parent (newer replies of sibling agencies), never drop one.
        old_replies, new_replies = data.get("coordination_replies"), kept.pop("coordination_replies", None)
        if old_replies is not None:
            assert all(r in new_replies for r in old_replies), (stage, key, old_replies, new_replies)
        assert kept == {k: v for k, v in data.items() if k != "coordination_replies"}, (stage, key)
    sample = next(iter(now["data"].values()))
    assert sample["tracking_code"] == petition.tracking_code
    if stage not in {"registered", "classified"}:
        assert sample.get("category") == "DIEN", stage
    if stage.startswith(("assigned", "handled", "drafted", "approved", "reopened")):
        assert sample.get("lead_unit") == "QHXD" and sample.get("due_date"), (stage, sorted(sample))
    # Open human tasks re-synced: one row per READY manual task of the migrated workflow.
    workflow = runtime.load(session, inst)
    assert {r[0] for r in now["rows"]} == {str(t.id) for t in workflow.get_tasks(state=TaskState.READY,
                                                                                  manual=True)}


def test_dry_run_and_migration_of_100_petitions_at_mixed_stages(
        db_kind: str, app: Any, session: Session, runtime: Any, make_user: Any) -> None:
    started = time.perf_counter()
    life = Lifecycle(session, runtime, make_user)
    v1 = definitions.latest_active(session, PROCESS_ID)
    names = list(STAGES)
    stage_of: dict[int, str] = {}
    petitions: dict[int, Petition] = {}
    for n in range(COUNT):
        p = life.submit(f"Kiến nghị số {n}")
        STAGES[names[n % len(names)]](life, p)
        stage_of[p.instance_id], petitions[p.instance_id] = names[n % len(names)], p
    built = time.perf_counter()

    instances = {i: session.get(ProcessInstance, i) for i in petitions}
    assert all(inst.definition_id == v1.id for inst in instances.values())
    before = {i: snapshot(session, runtime, inst) for i, inst in instances.items()}
    running = {i for i, s in before.items() if s["status"] == InstanceStatus.RUNNING}
    assert {stage_of[i] for i in set(instances) - running} == {"closed"}

    files, forms = bpmn_edit.edited(version_2)
    v2 = definitions.deploy(session, PROCESS_ID, files, forms, DESIGNER, validation_rules())
    session.commit()
    assert [i.id for i in migration.candidates(session, v2)] == sorted(running)

    report = {v.instance_id: v for v in migration.dry_run(session, runtime, v2)}
    session.rollback()
    dry = time.perf_counter()
    assert set(report) == running
    # The dry run changed nothing.
    assert all(snapshot(session, runtime, instances[i])["state"] == before[i]["state"] for i in running)
    for i, verdict in report.items():
        expected = stage_of[i] not in NOT_MIGRATABLE
        assert verdict.migratable == expected, (stage_of[i], verdict.reasons)
        if not expected:
            assert [r.msgid for r in verdict.reasons] == [NOT_MIGRATABLE[stage_of[i]]], verdict.reasons
            named = "supply_info" if NOT_MIGRATABLE[stage_of[i]] == migration.MSG_REMOVED_IN_USE else "review_handling"
            assert named in verdict.reasons[0].message, verdict.reasons

    results = {v.instance_id: v for v in migration.migrate(session, runtime, v2, sorted(instances), DESIGNER)}
    session.commit()
    migrated_at = time.perf_counter()
    # The closed ones are refused (not running); the running ones do what the dry run said.
    for i in set(instances) - running:
        assert not results[i].migrated and results[i].reasons[0].msgid == migration.MSG_NOT_RUNNING
    for i in running:
        assert results[i].migrated == report[i].migratable, (stage_of[i], results[i].reasons)

    for i, inst in instances.items():
        now = snapshot(session, runtime, inst)
        if not results[i].migrated:
            assert now == before[i], stage_of[i]  # untouched: definition, state, version row, tasks, history
            continue
        check_migrated(session, runtime, inst, now, before[i], stage_of[i], petitions[i], v2)
    assert verify_chain(session) is None

    counts = Counter("migratable" if v.migratable else "not migratable" for v in report.values())
    by_stage = Counter((stage_of[i], results[i].migrated) for i in instances)
    print(f"\n[{db_kind}] {COUNT} petitions, {len(running)} running; dry run: {dict(counts)}; "
          f"migrated: {sum(v.migrated for v in results.values())}")
    print(f"[{db_kind}] by stage (stage, migrated): {sorted(by_stage.items())}")

    # A few migrated petitions run to the end on version 2, through the new task where they pass it.
    finished, replies, stuck = [], {}, {}
    for stage in ("registered", "assigned_2_one_reply", "handled", "reopened"):
        i = next(i for i in running if stage_of[i] == stage and results[i].migrated)
        finish(life, petitions[i], replies)
        session.refresh(instances[i])
        if instances[i].status != InstanceStatus.COMPLETED:
            wf = runtime.load(session, instances[i])
            stuck[stage] = [(t.task_spec.bpmn_id or t.task_spec.name, TaskState.get_name(t.state))
                            for t in wf.get_tasks(state=TaskState.WAITING | TaskState.READY | TaskState.STARTED)]
            continue
        finished.append((stage, [e.bpmn_id for e in session.scalars(select(AuditEvent).where(
            AuditEvent.business_key == petitions[i].tracking_code, AuditEvent.action == "TASK_COMPLETED"))]))
    two = next(i for i in running if stage_of[i] == "assigned_2_one_reply" and results[i].migrated)
    assert sorted(r["agency"] for r in replies[petitions[two].tracking_code]) == ["EVNHN", "SCT"], replies
    passed = {stage for stage, steps in finished if "review_handling" in steps}
    assert passed == {"registered", "assigned_2_one_reply"}, finished
    assert verify_chain(session) is None
    done = time.perf_counter()
    print(f"[{db_kind}] finished on v2: {finished}")
    print(f"[{db_kind}] timing: build {built - started:.1f}s, dry run {dry - built:.1f}s, "
          f"migrate {migrated_at - dry:.1f}s, finish+checks {done - migrated_at:.1f}s")
    assert not stuck, f"migrated petitions reported migratable but stuck with no open task: {stuck}"
