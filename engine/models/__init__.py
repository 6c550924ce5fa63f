"""Engine tables: process definitions, instances with their human-task projection, and the audit log."""
from engine.models.audit import AuditEvent
from engine.models.definition import ProcessDefinition
from engine.models.instance import HumanTask, InstanceStatus, ProcessInstance, TaskStatus

__all__ = ["AuditEvent", "HumanTask", "InstanceStatus", "ProcessDefinition", "ProcessInstance", "TaskStatus"]
