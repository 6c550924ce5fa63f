"""What must hold after any crash or race: every instance loads, one completion event per completed task,
no ready task without its inbox row (or the reverse), the audit chain intact."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import verify_chain
from engine.models import AuditEvent, HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from engine.runtime import Runtime


def check_invariants(sessions: Callable[[], Session], runtime: Runtime) -> dict[str, int]:
    """Assert the invariants on the whole database; return counts for the caller's own assertions."""
    with sessions() as session:
        instances = session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)).all()
        for instance in instances:
            workflow = runtime.load(session, instance)  # raises if a stored state cannot be restored
            ready = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
            open_rows = set(session.scalars(select(HumanTask.id).where(
                HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN)))
            if instance.status == InstanceStatus.RUNNING:
                assert ready == open_rows, f"{instance.business_key}: ready {ready} but inbox rows {open_rows}"
            else:
                assert not open_rows, f"{instance.business_key} is {instance.status} with open tasks {open_rows}"
        completed = set(session.scalars(select(HumanTask.id).where(HumanTask.status == TaskStatus.COMPLETED)))
        events = Counter(session.scalars(select(AuditEvent.task_id).where(AuditEvent.action == "TASK_COMPLETED")))
        twice = {task: n for task, n in events.items() if n != 1}
        assert not twice, f"tasks completed more than once: {twice}"
        assert set(events) == completed, f"completion events {set(events) ^ completed} without their task row"
        assert verify_chain(session) is None
        counts = {"instances": len(instances), "completed_tasks": len(completed)}
        session.rollback()
    return counts


def scalar(sessions: Callable[[], Session], query: Any) -> Any:
    """Run one query in a short transaction of its own (never hold SQLite's write lock while a server runs)."""
    with sessions() as session:
        value = session.scalar(query)
        session.rollback()
    return value
