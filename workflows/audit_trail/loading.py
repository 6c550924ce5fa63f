"""Load what the audit views read about a petition: its instance, definition, tasks and step events."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance
from workflows.models import Petition

# Events that move a process on: the events written in the same step follow them in the chain.
STEP_TRIGGERS = frozenset({"PETITION_RECEIVED", "PROCESS_STARTED", "TASK_COMPLETED", "TIMER_FIRED",
                           "MESSAGE_RECEIVED", "INCIDENT_RESOLVED", "INSTANCE_MIGRATED"})


def _instance(session: Session, petition: Petition) -> ProcessInstance | None:
    return session.get(ProcessInstance, petition.instance_id) if petition.instance_id else None


def definition_of(session: Session, petition: Petition) -> ProcessDefinition | None:
    """Return the process definition version the petition's instance runs (ran) on."""
    instance = _instance(session, petition)
    return session.get(ProcessDefinition, instance.definition_id) if instance else None


def _tasks(session: Session, code: str) -> list[HumanTask]:
    return list(session.scalars(
        select(HumanTask).where(HumanTask.business_key == code).order_by(HumanTask.created_at, HumanTask.id)
    ))


def _triggers(events: Sequence[AuditEvent]) -> dict[int, AuditEvent]:
    """Map each event's chain index to the step event it was written in (itself for a step event)."""
    found: dict[int, AuditEvent] = {}
    last: AuditEvent | None = None
    for event in events:
        if event.action in STEP_TRIGGERS:
            last = event
        if last is not None:
            found[event.chain_index] = last
    return found
