"""Where the process loses time: per BPMN element, how long its steps took (mean and 90th percentile) and how
often they finished after their due date, over the steps completed in a period (human-task rows)."""
from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import Session

from engine.models import HumanTask, ProcessDefinition, TaskStatus
from workflows.calendar import WorkingCalendar, current_calendar
from workflows.dashboard.figures import Period, deadline_expr
from workflows.wiring import PROCESS_ID


@dataclass(frozen=True)
class ElementTime:
    """The steps of one element completed in the period."""

    bpmn_id: str
    name: str
    count: int
    mean_hours: float
    p90_hours: int  # nearest-rank 90th percentile of the durations (between whole seconds) rounded up to hours
    late: int
    with_due: int

    @property
    def late_rate(self) -> float | None:
        """Return the share of steps with a due date that finished after it."""
        return self.late / self.with_due if self.with_due else None


def _seconds(session: Session) -> Any:
    # Each moment cut to its whole second first, then subtracted: exact integers on both dialects (SQLite's
    # julianday keeps milliseconds only, so float differences would round differently).
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", HumanTask.completed_at)), Integer) - \
            cast(func.floor(func.extract("epoch", HumanTask.created_at)), Integer)
    if sqlite3.sqlite_version_info >= (3, 38, 0):  # unixepoch(): whole seconds, the fastest parse
        return func.unixepoch(HumanTask.completed_at) - func.unixepoch(HumanTask.created_at)
    return cast(func.strftime("%s", HumanTask.completed_at), Integer) - \
        cast(func.strftime("%s", HumanTask.created_at), Integer)


def _p90(histogram: dict[int, int], count: int) -> int:
    rank = -(-9 * count // 10)  # ceil(0.9 n): the nearest-rank percentile
    seen = 0
    for hours in sorted(histogram):
        seen += histogram[hours]
        if seen >= rank:
            return hours
    return 0


def element_times(session: Session, period: Period, calendar: WorkingCalendar | None = None) -> list[ElementTime]:
    """Return each element's step times in the period, slowest mean first."""
    calendar = calendar or current_calendar()
    seconds = _seconds(session)
    whole = (seconds + 3599) // 3600  # whole hours, rounded up
    late = case((HumanTask.completed_at > deadline_expr(session, HumanTask.due_date, calendar), 1), else_=0)
    has_due = case((HumanTask.due_date.is_not(None), 1), else_=0)
    rows = session.execute(
        select(HumanTask.bpmn_id, func.min(HumanTask.name), whole, func.count(), func.sum(seconds), func.sum(late),
               func.sum(has_due))
        .where(HumanTask.status == TaskStatus.COMPLETED, HumanTask.completed_at >= period.start_utc,
               HumanTask.completed_at < period.end_utc)
        .group_by(HumanTask.bpmn_id, whole)
    )
    acc: dict[str, dict[str, Any]] = defaultdict(lambda: {"hist": {}, "count": 0, "sum": 0, "late": 0, "due": 0})
    for bpmn_id, name, ceiling, count, total, late_count, due_count in rows:
        item = acc[bpmn_id]
        item["name"] = name
        item["hist"][int(ceiling or 0)] = int(count)
        item["count"] += int(count)
        item["sum"] += int(total or 0)  # whole seconds: exact, whatever the order of the groups
        item["late"] += int(late_count or 0)
        item["due"] += int(due_count or 0)
    out = [ElementTime(bpmn_id, v["name"], v["count"], v["sum"] / 3600 / v["count"], _p90(v["hist"], v["count"]),
                       v["late"], v["due"]) for bpmn_id, v in acc.items()]
    return sorted(out, key=lambda e: -e.mean_hours)


def slowest(times: list[ElementTime], minimum: int = 20) -> str | None:
    """Return the element with the longest mean among those with enough steps."""
    ranked = [t for t in times if t.count >= minimum] or times
    return max(ranked, key=lambda t: t.mean_hours).bpmn_id if ranked else None


def latest_definition(session: Session) -> ProcessDefinition | None:
    """Return the newest deployed version of the petition process (the diagram the view colours)."""
    return session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == PROCESS_ID)
                          .order_by(ProcessDefinition.version.desc()).limit(1))
