"""Build the processing-control sheet: every hand-off of a petition with its due date and result."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine import audit
from engine.db import utcnow
from engine.models import ProcessDefinition, TaskStatus
from workflows.audit_trail.durations import local_date, task_timing, timing, working_days
from workflows.audit_trail.loading import _tasks, _triggers, definition_of
from workflows.calendar import current_calendar
from workflows.models import Petition


@dataclass(frozen=True)
class HandOff:
    """One hand-off of the processing-control sheet: who passed the file to whom, when, due when, result."""

    number: int
    task_id: str
    bpmn_id: str
    step_name: str
    from_actor: str
    from_role: str
    from_step: str | None  # the step whose completion handed the file over (None: the petition's receipt)
    to_role: str
    to_scope: str | None  # unit / agency / enterprise code
    to_actor: str | None  # who completed (or holds) the step
    handed_at: dt.datetime
    due_date: dt.date | None
    done_at: dt.datetime | None
    status: str  # open / completed / cancelled
    days: int | None  # working days the step took (or has taken so far)
    result: str  # early / on_time / late / in_progress / overdue / ''


@dataclass(frozen=True)
class Sheet:
    """The processing-control sheet of one petition."""

    petition: Petition
    definition: ProcessDefinition | None
    rows: list[HandOff]
    timing: str
    total_days: int


def control_sheet(session: Session, petition: Petition, now: dt.datetime | None = None) -> Sheet:
    """Return every hand-off of the petition in order, with its due date and on-time result."""
    now, calendar = now or utcnow(), current_calendar()
    events = audit.history(session, petition.tracking_code)
    triggers = _triggers(events)
    opened = {e.task_id: e for e in events if e.action == "TASK_CREATED" and e.task_id}
    rows: list[HandOff] = []
    # Tasks opened by one step (parallel branches) can share a creation time to the microsecond on a fast host;
    # the order the engine opened them in is the chain order of their TASK_CREATED events.
    tasks = sorted(_tasks(session, petition.tracking_code), key=lambda row: (
        row.created_at, opened[row.id].chain_index if row.id in opened else -1, row.id))
    for number, row in enumerate(tasks, start=1):
        created = opened.get(row.id)
        trigger = triggers.get(created.chain_index) if created is not None else None
        from_step = trigger.bpmn_id if trigger is not None and trigger.action == "TASK_COMPLETED" else None
        handed_at = created.at if created is not None else row.created_at
        end = row.completed_at or (now if row.status == TaskStatus.OPEN else None)
        rows.append(HandOff(
            number=number, task_id=row.id, bpmn_id=row.bpmn_id, step_name=row.name,
            from_actor=created.actor if created is not None else "", from_role=created.role if created is not None else "",
            from_step=from_step, to_role=row.role, to_scope=row.scope_value,
            to_actor=row.completed_by or row.claimed_by, handed_at=handed_at, due_date=row.due_date,
            done_at=row.completed_at, status=str(row.status),
            days=working_days(handed_at, end, calendar) if end is not None else None,
            result=task_timing(row, now, calendar),
        ))
    return Sheet(
        petition=petition, definition=definition_of(session, petition), rows=rows,
        timing=timing(petition.due_date, petition.closed_at, now, calendar),
        total_days=max(0, calendar.working_days_between(petition.received_date,  # 0 before the receipt date
                                                        local_date(petition.closed_at or now))),
    )
