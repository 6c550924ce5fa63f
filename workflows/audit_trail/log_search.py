"""Search the audit log by actor, role, unit, action, dates, category, lateness and petition."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.models import AuditEvent, HumanTask
from workflows.audit_trail.chain import VIEWED
from workflows.audit_trail.durations import IN_TIME, LATE, task_timing
from workflows.calendar import current_calendar
from workflows.models import Petition
from workflows.petitions import HANOI

SEARCH_LIMIT = 1000


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
