"""Functions that BPMN expressions and scripts may call, registered into the sandbox as `HELPERS`.

Every helper returns JSON-friendly values (str, int, list) because results land in serialized workflow
data, and raises ValueError with a readable message on bad input. Deadlines are dates (`YYYY-MM-DD`); the
moment a deadline expires is 17:00 Asia/Ho_Chi_Minh on that date (`deadline_at`), and timers receive ISO
datetimes with an explicit +07:00 offset, never naive ones. All counting goes through the process-wide
working-day calendar (`workflows.calendar.current_calendar`), so admin overrides apply.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from workflows.calendar import current_calendar
from workflows.reference import route


def _now() -> dt.datetime:
    # Indirection so that tests can freeze the clock.
    return dt.datetime.now(dt.timezone.utc)


def _parse_date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise ValueError(f"Expected an ISO date string 'YYYY-MM-DD', got {value!r}.")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"Expected an ISO date 'YYYY-MM-DD' or datetime, got {value!r}.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(current_calendar().tz)
    return moment.date()


def _parse_count(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"Expected a whole number of working days >= 0, got {value!r}.")


def working_days_after(date_iso: str, n: int) -> str:
    """Return the ISO date n working days after `date_iso` (a date, or a datetime taken in local time)."""
    return current_calendar().add_working_days(_parse_date(date_iso), _parse_count(n)).isoformat()


def working_days_before(date_iso: str, n: int) -> str:
    """Return the ISO date n working days before `date_iso` (n = 0: that day, or the working day before)."""
    return current_calendar().working_days_before(_parse_date(date_iso), _parse_count(n)).isoformat()


def deadline_at(date_iso: str) -> str:
    """Return the moment a due date expires: 17:00 local time on that date, ISO with its +07:00 offset."""
    return current_calendar().deadline(_parse_date(date_iso)).isoformat()


FAR_FUTURE = "9999-12-31T17:00:00+07:00"


def reminder_at(date_iso: str, working_days_before: int) -> str:
    """Return when to remind about a due date: 08:00 local time, n working days before it (ISO, +07:00).

    Evaluated when the timer is armed. A reminder whose moment has passed fires at once while the deadline
    is still ahead; once the deadline itself has passed no reminder is due (the overdue escalation covers
    it), so the far future is returned.
    """
    calendar = current_calendar()
    due = _parse_date(date_iso)
    if calendar.deadline(due) <= _now():
        return FAR_FUTURE
    day = calendar.working_days_before(due, _parse_count(working_days_before))
    return calendar.office_start(day).isoformat()


def overdue_at(date_iso: str) -> str:
    """Return when to escalate a follow-up step due on `date_iso`: its deadline (`deadline_at`), ISO +07:00.

    For a step that inherits a deadline an earlier step already carried (`draft_answer` after `handle`).
    Evaluated when the step starts: when the deadline has already passed, the earlier step (or the
    coordination) has escalated it, so no second escalation is due and the far future is returned. A first
    step uses `deadline_at`, which escalates at once when the step starts late.
    """
    moment = current_calendar().deadline(_parse_date(date_iso))
    return FAR_FUTURE if moment <= _now() else moment.isoformat()


def now_iso() -> str:
    """Return the current moment in Asia/Ho_Chi_Minh as an ISO datetime with its offset."""
    return _now().astimezone(current_calendar().tz).isoformat(timespec="seconds")


def pause_working_days(paused_at: str, resumed_at: str) -> int:
    """Return the working days a clock pause lasted: working days after the pause day, up to the resume day.

    The resume day is the day the enterprise's answer counts as received, so an answer after the 17:00
    cut-off or on a day off resumes the clock from the next working day.
    """
    calendar = current_calendar()
    start = _parse_moment(paused_at).astimezone(calendar.tz).date()
    resumed = calendar.receipt_date(_parse_moment(resumed_at))
    return max(0, calendar.working_days_between(start, resumed))


def _parse_moment(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"Expected an ISO datetime with an offset, got {value!r}.")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"Expected an ISO datetime with an offset, got {value!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=current_calendar().tz)
    return moment


def today() -> str:
    """Return today's date in Asia/Ho_Chi_Minh as 'YYYY-MM-DD'."""
    return _now().astimezone(current_calendar().tz).date().isoformat()


def routing_lead_unit(category: str, zone: str) -> str:
    """Return the unit code proposed to lead a petition of this category in this zone."""
    return route(category, zone).lead_unit


def routing_agencies(category: str, zone: str | None = None) -> list[str]:
    """Return the agency codes proposed to coordinate; without a zone, the category default."""
    return list(route(category, zone).coordinating_agencies)


def routing_working_days(category: str, zone: str | None = None) -> int:
    """Return the working days proposed to answer a petition of this category."""
    return route(category, zone).working_days


HELPERS: dict[str, Callable[..., Any]] = {
    "working_days_after": working_days_after,
    "working_days_before": working_days_before,
    "deadline_at": deadline_at,
    "reminder_at": reminder_at,
    "overdue_at": overdue_at,
    "now_iso": now_iso,
    "pause_working_days": pause_working_days,
    "today": today,
    "routing_lead_unit": routing_lead_unit,
    "routing_agencies": routing_agencies,
    "routing_working_days": routing_working_days,
}
