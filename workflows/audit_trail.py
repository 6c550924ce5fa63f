"""What auditors read: a petition's timeline, the path it took through the BPMN, the processing-control sheet,
a search across the audit log, and CSV / XLSX exports (no Flask here).

Everything is read from the hash-chained `audit_event` log, the human-task projection and the instance's stored
workflow state. The only write is `record_view`, which appends an `AUDIT_VIEWED` event (what was opened, and by
whom) in the caller's transaction, like every other event.

Timing of a step against its due date (`timing`): a due date expires at the calendar's cut-off (17:00, Hanoi)
on that day, as for deadlines everywhere else. A step finished before its due day is `early`, on its due day
before the cut-off `on_time`, after it `late`; an open step is `in_progress`, or `overdue` once the cut-off has
passed; without a due date the timing is empty.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.bpmn_xml import BPMN_NS, parse_untrusted_xml
from engine.db import utcnow
from engine.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, TaskStatus
from engine.runtime import Runtime
from workflows.calendar import WorkingCalendar, current_calendar
from workflows.models import Petition
from workflows.petitions import HANOI

log = logging.getLogger(__name__)

VIEWED = "AUDIT_VIEWED"
# Events that move a process on: the events written in the same step follow them in the chain.
STEP_TRIGGERS = frozenset({"PETITION_RECEIVED", "PROCESS_STARTED", "TASK_COMPLETED", "TIMER_FIRED",
                           "MESSAGE_RECEIVED", "INCIDENT_RESOLVED", "INSTANCE_MIGRATED"})
TIMINGS = ("early", "on_time", "late", "in_progress", "overdue")
LATE = frozenset({"late", "overdue"})
IN_TIME = frozenset({"early", "on_time"})
SEARCH_LIMIT = 1000

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


# ---- timing -------------------------------------------------------------------------------------------
def local_date(moment: dt.datetime) -> dt.date:
    """Return the Hanoi calendar date of an aware (or UTC-naive) moment."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(HANOI).date()


def timing(due: dt.date | None, done_at: dt.datetime | None, now: dt.datetime,
           calendar: WorkingCalendar | None = None, open_: bool = True) -> str:
    """Return early / on_time / late for a finished step, in_progress / overdue for an open one, '' otherwise."""
    if due is None:
        return ""
    deadline = (calendar or current_calendar()).deadline(due)
    if done_at is None:
        if not open_:
            return ""
        return "overdue" if now > deadline else "in_progress"
    if done_at > deadline:
        return "late"
    return "early" if local_date(done_at) < due else "on_time"


def task_timing(row: HumanTask | None, now: dt.datetime, calendar: WorkingCalendar | None = None) -> str:
    """Return the timing of a human task (empty for a cancelled one or one without a due date)."""
    if row is None:
        return ""
    return timing(row.due_date, row.completed_at, now, calendar, open_=row.status == TaskStatus.OPEN)


def working_days(a: dt.datetime | dt.date, b: dt.datetime | dt.date, calendar: WorkingCalendar | None = None) -> int:
    """Count the working days after `a` up to and including `b` (Hanoi dates)."""
    day_a = local_date(a) if isinstance(a, dt.datetime) else a
    day_b = local_date(b) if isinstance(b, dt.datetime) else b
    return (calendar or current_calendar()).working_days_between(day_a, day_b)


# ---- loading ------------------------------------------------------------------------------------------
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


# ---- timeline -----------------------------------------------------------------------------------------
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
        total_days=calendar.working_days_between(petition.received_date, local_date(end)),
        timing=timing(petition.due_date, petition.closed_at, now, calendar),
    )


# ---- the path taken through the diagram -----------------------------------------------------------------
@dataclass(frozen=True)
class Visit:
    """One pass through a BPMN element: when, and by whom (for an automatic element, whoever's step ran it)."""

    at: dt.datetime
    actor: str
    role: str
    task_id: str | None = None


@dataclass
class ElementTrace:
    """Everything that happened at one BPMN element."""

    bpmn_id: str
    name: str
    visits: list[Visit] = field(default_factory=list)
    current: bool = False  # an open task waits here now
    waiting_since: dt.datetime | None = None
    waiting_for: str | None = None  # role / scope of the open task
    claimed_by: str | None = None

    @property
    def first(self) -> Visit | None:
        """Return the first completed visit."""
        return self.visits[0] if self.visits else None

    @property
    def last(self) -> Visit | None:
        """Return the last completed visit."""
        return self.visits[-1] if self.visits else None


@dataclass
class PathTrace:
    """The path a petition took: completed elements in order, the sequence flows taken, the open tasks."""

    code: str
    definition: ProcessDefinition | None
    order: list[str]  # completed element ids in the order they completed (repeats on loops)
    taken: list[str]  # completed element ids, each once, in order of first completion
    flows: list[str]  # sequence flow ids taken
    current: list[str]  # element ids of the open tasks
    current_task_ids: list[str]
    elements: dict[str, ElementTrace]
    from_state: bool  # False when only the audit log could be read (the stored state could not be restored)


def _sequence_flows(definition: ProcessDefinition) -> dict[tuple[str, str], list[str]]:
    flows: dict[tuple[str, str], list[str]] = {}
    for filename, xml in (definition.bpmn_files or {}).items():
        root = parse_untrusted_xml(xml.encode("utf-8") if isinstance(xml, str) else xml, filename)
        for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            key = (flow.get("sourceRef", ""), flow.get("targetRef", ""))
            flows.setdefault(key, []).append(flow.get("id", ""))
    return flows


def diagram_xml(definition: ProcessDefinition) -> str:
    """Return the BPMN XML (with its diagram) of the definition's process."""
    files = definition.bpmn_files or {}
    for xml in files.values():
        if f'id="{definition.process_id}"' in xml:
            return xml
    return next(iter(files.values()), "")


def _is_join(spec: Any) -> bool:
    return type(spec).__name__ in ("ParallelGateway", "InclusiveGateway")


def _arrived(task: Any) -> bool:
    # A parallel join is represented once per incoming branch; the branches that arrived first end CANCELLED.
    if task.state in (TaskState.COMPLETED, TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
        return True
    return task.state == TaskState.CANCELLED and (_is_join(task.task_spec) or task.task_spec.manual)


def _named_parent(task: Any) -> Any:
    parent = task.parent
    while parent is not None and not parent.task_spec.bpmn_id:
        parent = parent.parent
    return parent


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


class _PathBuilder:
    """Walks a restored workflow's task tree once and fills a PathTrace."""

    def __init__(self, trace: PathTrace, events: Sequence[AuditEvent], rows: Mapping[str, HumanTask],
                 flows: Mapping[tuple[str, str], list[str]]) -> None:
        self.trace, self.rows, self.flows = trace, rows, flows
        self.completions = {e.task_id: e for e in events if e.action == "TASK_COMPLETED" and e.task_id}
        self.steps = [e for e in events if e.action in STEP_TRIGGERS]

    def element(self, task: Any) -> ElementTrace:
        spec = task.task_spec
        return self.trace.elements.setdefault(spec.bpmn_id, ElementTrace(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id))

    def step_actor(self, at: dt.datetime) -> Actor:
        # An automatic element ran in the step of the last event that moved the process on before it.
        chosen = None
        for event in self.steps:
            if event.at > at:
                break
            chosen = event
        return Actor(chosen.actor, chosen.role) if chosen is not None else Actor("system", "system")

    def flow_into(self, task: Any) -> None:
        parent = _named_parent(task)
        if parent is None or parent.state != TaskState.COMPLETED or not _arrived(task):
            return
        for flow_id in self.flows.get((parent.task_spec.bpmn_id, task.task_spec.bpmn_id), []):
            if flow_id not in self.trace.flows:
                self.trace.flows.append(flow_id)

    def waiting(self, task: Any) -> None:
        row = self.rows.get(str(task.id))
        item = self.element(task)
        item.current = True
        item.waiting_since = row.created_at if row else _moment(task.last_state_change)
        item.waiting_for = (row.scope_value or row.role) if row else None
        item.claimed_by = row.claimed_by if row else None
        if task.task_spec.bpmn_id not in self.trace.current:
            self.trace.current.append(task.task_spec.bpmn_id)
        self.trace.current_task_ids.append(str(task.id))

    def visit(self, task: Any) -> Visit:
        event = self.completions.get(str(task.id))
        if event is not None:
            return Visit(event.at, event.actor, event.role, str(task.id))
        row = self.rows.get(str(task.id))
        if task.task_spec.manual and row is not None and row.completed_at is not None:
            return Visit(row.completed_at, row.completed_by or "", row.role, row.id)
        at = _moment(task.last_state_change)
        actor = self.step_actor(at)
        return Visit(at, actor.name, actor.role)

    def walk(self, workflow: Any) -> None:
        completed: list[tuple[float, int, Any]] = []
        for index, task in enumerate(workflow.get_tasks(max_depth=1_000_000)):
            if not task.task_spec.bpmn_id:
                continue
            self.flow_into(task)
            if task.state == TaskState.COMPLETED:
                completed.append((task.last_state_change, index, task))
            elif task.state == TaskState.READY and task.task_spec.manual:
                self.waiting(task)
        for _, _, task in sorted(completed, key=lambda item: (item[0], item[1])):
            bpmn_id = task.task_spec.bpmn_id
            self.element(task).visits.append(self.visit(task))
            self.trace.order.append(bpmn_id)
            if bpmn_id not in self.trace.taken:
                self.trace.taken.append(bpmn_id)


def path_taken(session: Session, runtime: Runtime, petition: Petition) -> PathTrace:
    """Return the path the petition took through its BPMN version, with per-element times and actors.

    Read from the instance's stored task tree: completed elements (user tasks, gateways, scripts, events) in
    the order they completed, the sequence flows between an element and the next one it ran, the open tasks.
    If the state cannot be restored, the completed user tasks are read from the audit log instead.
    """
    code = petition.tracking_code
    definition = definition_of(session, petition)
    events = audit.history(session, code)
    rows = {row.id: row for row in _tasks(session, code)}
    trace = PathTrace(code, definition, [], [], [], [], [], {}, from_state=False)
    instance = _instance(session, petition)
    workflow = None
    if instance is not None and definition is not None:
        try:
            workflow = runtime.load(session, instance)
        except Exception as exc:  # noqa: BLE001 - whatever fails, the audit log still tells the user-task path
            log.warning("path of %s read from the audit log only: %s", code, exc)
    if workflow is None:
        return _path_from_log(trace, events, rows)
    trace.from_state = True
    _PathBuilder(trace, events, rows, _sequence_flows(definition)).walk(workflow)
    return trace


def _path_from_log(trace: PathTrace, events: Sequence[AuditEvent], rows: Mapping[str, HumanTask]) -> PathTrace:
    for event in events:
        if event.action == "TASK_COMPLETED" and event.bpmn_id:
            row = rows.get(event.task_id or "")
            item = trace.elements.setdefault(event.bpmn_id, ElementTrace(event.bpmn_id, row.name if row else event.bpmn_id))
            item.visits.append(Visit(event.at, event.actor, event.role, event.task_id))
            trace.order.append(event.bpmn_id)
            if event.bpmn_id not in trace.taken:
                trace.taken.append(event.bpmn_id)
    for row in rows.values():
        if row.status == TaskStatus.OPEN:
            item = trace.elements.setdefault(row.bpmn_id, ElementTrace(row.bpmn_id, row.name))
            item.current, item.waiting_since, item.claimed_by = True, row.created_at, row.claimed_by
            item.waiting_for = row.scope_value or row.role
            if row.bpmn_id not in trace.current:
                trace.current.append(row.bpmn_id)
            trace.current_task_ids.append(row.id)
    return trace


# ---- processing-control sheet -----------------------------------------------------------------------------
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
    for number, row in enumerate(_tasks(session, petition.tracking_code), start=1):
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
        total_days=calendar.working_days_between(petition.received_date, local_date(petition.closed_at or now)),
    )


# ---- search across the log --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchFilters:
    """What an auditor searches by; empty fields do not filter."""

    actor: str = ""  # part of a user name, case-insensitive
    role: str = ""  # the lane / role the event was done in
    unit: str = ""  # the petition's lead unit, or the unit / agency a step belonged to
    action: str = ""
    date_from: dt.date | None = None  # Hanoi dates, inclusive
    date_to: dt.date | None = None
    category: str = ""
    lateness: str = ""  # 'late' (late or overdue steps), 'on_time' (early or on time), '' (any)
    petition: str = ""  # part of a tracking code
    until: int | None = None  # only events up to this chain index (an export repeats the page's snapshot)

    def as_dict(self) -> dict[str, str]:
        """Return the filters that are set, as text (for logging what was searched)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {k: v.isoformat() if isinstance(v, dt.date) else str(v) for k, v in values.items() if v}


@dataclass(frozen=True)
class SearchRow:
    """One event found, with its petition's unit and category and its step's due date and timing."""

    chain_index: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    business_key: str | None
    bpmn_id: str | None
    scope: str | None
    unit: str | None
    category: str | None
    due_date: dt.date | None
    timing: str
    data: dict[str, Any]


@dataclass(frozen=True)
class SearchResult:
    """The rows found (newest first) and whether more matched than the limit."""

    rows: list[SearchRow]
    truncated: bool
    limit: int
    until: int  # the last chain index the search looked at


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, HANOI).astimezone(dt.timezone.utc)


def _conditions(filters: SearchFilters, category: Any) -> list[Any]:
    conditions: list[Any] = []
    if filters.actor.strip():
        conditions.append(func.lower(AuditEvent.actor).contains(filters.actor.strip().lower(), autoescape=True))
    if filters.role:
        conditions.append(AuditEvent.role == filters.role)
    if filters.unit:
        conditions.append(or_(Petition.lead_unit == filters.unit, HumanTask.scope_value == filters.unit))
    if filters.action:
        conditions.append(AuditEvent.action == filters.action)
    else:  # what auditors opened is searched for explicitly; otherwise it would bury the record itself
        conditions.append(AuditEvent.action != VIEWED)
    if filters.date_from:
        conditions.append(AuditEvent.at >= _start_of(filters.date_from))
    if filters.date_to:
        conditions.append(AuditEvent.at < _start_of(filters.date_to + dt.timedelta(days=1)))
    if filters.category:
        conditions.append(category == filters.category)
    if filters.petition.strip():
        conditions.append(AuditEvent.business_key.contains(filters.petition.strip().upper(), autoescape=True))
    if filters.lateness:
        conditions.append(HumanTask.due_date.is_not(None))
    return conditions


def search(session: Session, filters: SearchFilters, limit: int = SEARCH_LIMIT,
           now: dt.datetime | None = None) -> SearchResult:
    """Return the audit events matching every filter that is set, newest first, at most `limit`.

    AUDIT_VIEWED events are left out unless that action is asked for. The search looks at the chain up to
    `filters.until` (by default the head when it starts), which it returns so that an export can repeat it.
    """
    now, calendar = now or utcnow(), current_calendar()
    until = filters.until
    if until is None:
        until = session.scalar(select(func.max(AuditEvent.chain_index))) or 0
    category = func.coalesce(Petition.category, Petition.category_hint)
    query = (
        select(AuditEvent, Petition.lead_unit, category, HumanTask)
        .outerjoin(Petition, Petition.tracking_code == AuditEvent.business_key)
        .outerjoin(HumanTask, HumanTask.id == AuditEvent.task_id)
        .order_by(AuditEvent.chain_index.desc())
    )
    conditions = _conditions(filters, category)
    query = query.where(and_(AuditEvent.chain_index <= until, *conditions))
    rows: list[SearchRow] = []
    for event, lead_unit, category_code, task in session.execute(query.execution_options(yield_per=500)):
        mark = task_timing(task, now, calendar)
        if filters.lateness and mark not in (LATE if filters.lateness == "late" else IN_TIME):
            continue
        if len(rows) == limit:
            return SearchResult(rows, True, limit, until)
        rows.append(SearchRow(
            chain_index=event.chain_index, at=event.at, actor=event.actor, role=event.role, action=event.action,
            business_key=event.business_key, bpmn_id=event.bpmn_id,
            scope=task.scope_value if task is not None else (event.data or {}).get("scope"),
            unit=lead_unit, category=category_code, due_date=task.due_date if task is not None else None,
            timing=mark, data=dict(event.data or {}),
        ))
    return SearchResult(rows, False, limit, until)


def known_actions(session: Session) -> list[str]:
    """Return every action code present in the log, and AUDIT_VIEWED (for the search form)."""
    return sorted(set(session.scalars(select(AuditEvent.action).distinct())) | {VIEWED})


def known_roles(session: Session) -> list[str]:
    """Return every role present in the log (for the search form)."""
    return sorted(r for r in session.scalars(select(AuditEvent.role).distinct()) if r)


# ---- what auditors open is logged -----------------------------------------------------------------------
def record_view(session: Session, actor: Actor, page: str, **details: Any) -> AuditEvent:
    """Append AUDIT_VIEWED (the page and what was opened) in the caller's transaction."""
    return audit.record(session, actor, VIEWED, data={"page": page, **{k: v for k, v in details.items() if v}})


# ---- chain verification ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainReport:
    """The result of verifying the hash chain."""

    intact: bool
    broken_at: int | None  # chain index of the first broken link
    events: int
    head_index: int | None
    head_hash: str | None
    broken_event: AuditEvent | None  # the row at the broken index, when it still exists


def verify(session: Session) -> ChainReport:
    """Verify the whole chain and describe the head, or the first broken link."""
    broken = audit.verify_chain(session)
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    head = session.execute(
        select(AuditEvent.chain_index, AuditEvent.hash).order_by(AuditEvent.chain_index.desc()).limit(1)
    ).first()
    row = session.scalar(select(AuditEvent).where(AuditEvent.chain_index == broken)) if broken is not None else None
    return ChainReport(broken is None, broken, count, head.chain_index if head else None, head.hash if head else None,
                       row)


# ---- exports --------------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, dt.datetime):
        return value.astimezone(HANOI).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "x" if value else ""
    return value


def _text_cell(value: Any) -> Any:
    # A cell starting like a formula is neutralised (CSV/formula injection, OWASP).
    value = _cell(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Return UTF-8 CSV (with a BOM, so spreadsheet programs read Vietnamese correctly)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_text_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Audit") -> bytes:
    """Return an XLSX workbook with one sheet: a bold header row and the rows (text never becomes a formula)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(value) for value in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = TYPE_STRING  # stored as text, never evaluated as a formula
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column[:200])
        sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 8), 60)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
