"""Drive a petition forward from whatever wait state it is in, as the officers of each lane would."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from engine.runtime import Runtime
from workflows import tasks
from workflows.models import User

FORWARD: dict[str, dict[str, Any]] = {
    "register": {"register_decision": "accept"},
    "supply_info": {"supplied_info": "Đã bổ sung hồ sơ."},
    "classify": {"petition_type": "KN", "category": "DIEN", "priority": "THUONG", "within_authority": True,
                 "triage_outcome": "THUOC_THAM_QUYEN"},
    "assign": {"lead_unit": "QHXD", "coordinating_agencies": ["EVNHN"], "working_days": 10},
    "handle": {"handling_notes": "Đã làm việc với điện lực."},
    "coordinate": {"reply_text": "Đã thay máy biến áp."},
    "draft_answer": {"answer_text": "Đã khắc phục.", "result_type": "DA_GIAI_QUYET"},
    "approve": {"decision": "approve"},
    "send_answer": {"answer_document_no": "12/BQL-QHXD", "answer_date": "2026-12-01"},
    "confirm": {"rating": "hai_long"},
    "review_overdue": {"instruction": "Khẩn trương xử lý."},
    "approve_extension": {"extension_decision": "approve", "extension_days": 5},
    "record_out_of_track": {"guidance": "Gửi cơ quan có thẩm quyền."},
    "forward": {"forwarded_to": "Sở Công Thương", "forward_document_no": "5/BQL"},
}
ROLE_USER = {"intake": "tn", "leader": "ld", "unit": "qhxd", "enterprise": "dn"}


def actor_for(session: Session, row: HumanTask) -> User:
    """Return the test user who may act on the task (the Lifecycle users of tests.integration.support)."""
    name = f"pm_{row.scope_value.lower()}" if row.role == "agency" else ROLE_USER[row.role]
    return session.scalar(select(User).where(User.username == name))


def drive_to_end(session: Session, runtime: Runtime, business_key: str, max_steps: int = 40) -> list[str]:
    """Complete the instance's open tasks with forward-moving data until it ends; return the steps taken."""
    steps: list[str] = []
    for _ in range(max_steps):
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
        if instance.status != InstanceStatus.RUNNING:
            return steps
        row = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                      HumanTask.status == TaskStatus.OPEN)
                              .order_by(HumanTask.created_at, HumanTask.id)).first()
        assert row is not None, f"{business_key} is running with no open task: stuck"
        tasks.complete(session, runtime, actor_for(session, row), row.id, FORWARD[row.bpmn_id])
        session.commit()
        steps.append(row.bpmn_id)
    raise AssertionError(f"{business_key} did not end in {max_steps} steps: {steps}")
