"""Time a step against its due date and count working days (Hanoi dates, 17:00 cut-off)."""
from __future__ import annotations

import datetime as dt

from engine.models import HumanTask, TaskStatus
from workflows.calendar import WorkingCalendar, current_calendar
from workflows.petitions import HANOI

TIMINGS = ("early", "on_time", "late", "in_progress", "overdue")
LATE = frozenset({"late", "overdue"})
IN_TIME = frozenset({"early", "on_time"})


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
