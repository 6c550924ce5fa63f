"""Engine tables: process definitions, instances with their human-task projection, timers, incidents, audit, outbox."""
from engine.models.audit import AuditEvent
from engine.models.definition import ProcessDefinition, ProcessDraft
from engine.models.idempotency import IdempotencyKey
from engine.models.instance import HumanTask, InstanceStatus, ProcessInstance, TaskArchive, TaskStatus
from engine.models.outbox import OutboxMessage
from engine.models.timer import Incident, Timer, TimerKind

__all__ = [
    "AuditEvent", "HumanTask", "IdempotencyKey", "Incident", "InstanceStatus", "OutboxMessage", "ProcessDefinition", "ProcessDraft",
    "ProcessInstance",
    "TaskArchive", "TaskStatus", "Timer", "TimerKind",
]
