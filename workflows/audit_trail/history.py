"""Build a petition's timeline: its events with milestones, durations and on-time marks."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine import audit
from engine.db import utcnow
from engine.models import AuditEvent, ProcessDefinition, TaskStatus
from workflows.audit_trail.durations import local_date, task_timing, timing, working_days
from workflows.audit_trail.loading import _tasks, _triggers, definition_of
from workflows.calendar import current_calendar
from workflows.models import Petition

# What a completed step decided, from its submitted data: (bpmn id, data key) -> {value: milestone}.
_DECISIONS: dict[tuple[str, str], dict[str, str]] = {
    ("register", "register_decision"): {"accept": "PETITION_ACCEPTED", "reject": "PETITION_REJECTED",
                                        "request_info": "INFORMATION_REQUESTED"},
    ("approve", "decision"): {"approve": "ANSWER_APPROVED", "return": "ANSWER_RETURNED"},
    ("approve_extension", "extension_decision"): {"approve": "DEADLINE_EXTENDED", "refuse": "EXTENSION_REFUSED"},
}
_COMPLETED_MILESTONES = {
    "supply_info": "INFORMATION_SUPPLIED",
    "classify": "PETITION_CLASSIFIED",
    "record_out_of_track": "GUIDANCE_GIVEN",
    "forward": "PETITION_FORWARDED",
    "assign": "PETITION_ASSIGNED",
    "handle": "HANDLING_RECORDED",
    "coordinate": "COORDINATION_ANSWERED",
    "draft_answer": "ANSWER_DRAFTED",
    "send_answer": "ANSWER_SENT",
    "confirm": "ANSWER_RATED",
    "review_overdue": "OVERDUE_REVIEWED",
}
# Boundary timers by what their id says they are: (part of the id, milestone).
_TIMER_MILESTONES = (("overdue", "TASK_ESCALATED"), ("reminder", "REMINDER_SENT"), ("timeout", "RATING_TIMED_OUT"))
_MESSAGE_MILESTONES = {"extension_request": "EXTENSION_REQUESTED"}


@dataclass(frozen=True)
class TimelineEvent:
    """One audit event of a petition, with what it meant and how long it took."""

    chain_index: int
    at: dt.datetime
    action: str
    actor: str
    role: str
    bpmn_id: str | None
    task_id: str | None
    scope: str | None  # the unit / agency / enterprise the step belonged to
    data: dict[str, Any]
    milestone: str | None  # what the step decided (SUBJECT_PAST_VERB), derived from the recorded data
    since_previous: int | None  # working days since the previous event
    step_days: int | None  # TASK_COMPLETED: working days since the step was opened
    due_date: dt.date | None  # of the step the event belongs to
    timing: str  # early / on_time / late (TASK_COMPLETED), in_progress / overdue (TASK_CREATED of an open step)


@dataclass(frozen=True)
class Timeline:
    """A petition's history: its events in order, the version it ran on and its overall timing."""

    petition: Petition
    definition: ProcessDefinition | None
    events: list[TimelineEvent]
    total_days: int  # working days from receipt to closing (or to today while open)
    timing: str  # the petition against its overall due date


def _milestone(event: AuditEvent, trigger: AuditEvent | None) -> str | None:
    data = event.data or {}
    if event.action == "TASK_COMPLETED" and event.bpmn_id:
        for (bpmn_id, key), values in _DECISIONS.items():
            if event.bpmn_id == bpmn_id and str(data.get(key)) in values:
                return values[str(data.get(key))]
        return _COMPLETED_MILESTONES.get(event.bpmn_id)
    if event.action == "TIMER_FIRED" and event.bpmn_id:
        return next((name for part, name in _TIMER_MILESTONES if part in event.bpmn_id), None)
    if event.action == "MESSAGE_RECEIVED":
        return _MESSAGE_MILESTONES.get(str(data.get("message")))
    if event.action == "TASK_CREATED":
        came_from = trigger.bpmn_id if trigger is not None and trigger.action == "TASK_COMPLETED" else None
        if event.bpmn_id == "draft_answer" and came_from == "confirm":
            return "PETITION_REOPENED"
        if event.bpmn_id == "coordinate":
            return "COORDINATION_REQUESTED"
        if event.bpmn_id == "handle" and data.get("due_date"):
            return "DEADLINE_SET"
    return None


def timeline(session: Session, petition: Petition, now: dt.datetime | None = None) -> Timeline:
    """Return the petition's events in chain order with milestones, durations and on-time marks."""
    now, calendar = now or utcnow(), current_calendar()
    events = audit.history(session, petition.tracking_code)
    rows = {row.id: row for row in _tasks(session, petition.tracking_code)}
    triggers = _triggers(events)
    created: dict[str, AuditEvent] = {}
    out: list[TimelineEvent] = []
    previous: AuditEvent | None = None
    for event in events:
        row = rows.get(event.task_id or "")
        if event.action == "TASK_CREATED" and event.task_id:
            created[event.task_id] = event
        step_days, mark = None, ""
        if event.action == "TASK_COMPLETED" and event.task_id:
            opened = created.get(event.task_id)
            step_days = working_days(opened.at if opened else (row.created_at if row else event.at), event.at, calendar)
            mark = timing(row.due_date if row else None, event.at, now, calendar)
        elif event.action == "TASK_CREATED" and row is not None and row.status == TaskStatus.OPEN:
            mark = task_timing(row, now, calendar)
        out.append(TimelineEvent(
            chain_index=event.chain_index, at=event.at, action=event.action, actor=event.actor, role=event.role,
            bpmn_id=event.bpmn_id, task_id=event.task_id,
            scope=(row.scope_value if row else None) or (event.data or {}).get("scope"),
            data=dict(event.data or {}), milestone=_milestone(event, triggers.get(event.chain_index)),
            since_previous=working_days(previous.at, event.at, calendar) if previous is not None else None,
            step_days=step_days, due_date=row.due_date if row else None, timing=mark,
        ))
        previous = event
    end = petition.closed_at or now
    return Timeline(
        petition=petition, definition=definition_of(session, petition), events=out,
        # Received after the cut-off (or on a day off), a petition counts from its next working day: one
        # handled before that day has taken 0 working days, not a negative number.
        total_days=max(0, calendar.working_days_between(petition.received_date, local_date(end))),
        timing=timing(petition.due_date, petition.closed_at, now, calendar),
    )
