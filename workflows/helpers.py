"""Functions that BPMN expressions and scripts may call, registered into the sandbox as `HELPERS`.

Every helper returns JSON-friendly values (str, int, list) because results land in serialized workflow
data, and raises ValueError with a readable message on bad input.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from workflows.calendar import default_calendar
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
        moment = moment.astimezone(default_calendar().tz)
    return moment.date()


def _parse_count(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"Expected a whole number of working days >= 0, got {value!r}.")


def working_days_after(date_iso: str, n: int) -> str:
    """Return the ISO date n working days after `date_iso` (a date, or a datetime taken in local time)."""
    return default_calendar().add_working_days(_parse_date(date_iso), _parse_count(n)).isoformat()


def today() -> str:
    """Return today's date in Asia/Ho_Chi_Minh as 'YYYY-MM-DD'."""
    return _now().astimezone(default_calendar().tz).date().isoformat()


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
    "today": today,
    "routing_lead_unit": routing_lead_unit,
    "routing_agencies": routing_agencies,
    "routing_working_days": routing_working_days,
}
