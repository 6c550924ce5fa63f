"""Working-day arithmetic for deadlines: the one place that knows the Vietnamese public-sector calendar.

A working day is Monday to Friday, minus the public holidays of `holidays.VN` (pinned version), plus the
extra working days (make-up Saturdays, which the package does not know), minus the extra days off (swaps
decided after the package release). Periods count from the day after the event (Civil Code 2015,
Arts. 147-148).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from workflows.reference import get_reference

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_CUTOFF = dt.time(17, 0)
_ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=None)
def _public_holidays(year: int) -> frozenset[dt.date]:
    # One frozen set per year, shared by every calendar: holidays.VN fills years lazily and is not thread-safe.
    return frozenset(holidays.country_holidays("VN", years=year, language="vi"))


class WorkingCalendar:
    """Vietnamese working days with local additions, a daily cut-off and a time zone."""

    def __init__(
        self,
        extra_working_days: Iterable[dt.date] = (),
        extra_days_off: Iterable[dt.date] = (),
        cutoff: dt.time = DEFAULT_CUTOFF,
        tz: dt.tzinfo = HANOI,
    ) -> None:
        """Build a calendar; raise ValueError when a day is both an extra working day and a day off."""
        self.extra_working_days = frozenset(extra_working_days)
        self.extra_days_off = frozenset(extra_days_off)
        if clash := self.extra_working_days & self.extra_days_off:
            days = ", ".join(sorted(d.isoformat() for d in clash))
            raise ValueError(f"Days listed both as extra working days and extra days off: {days}.")
        self.cutoff = cutoff
        self.tz = tz

    def is_working_day(self, day: dt.date) -> bool:
        """Return whether the Board works on `day`."""
        if day in self.extra_days_off:
            return False
        if day in self.extra_working_days:
            return True
        return day.weekday() < 5 and day not in _public_holidays(day.year)

    def next_working_day(self, day: dt.date) -> dt.date:
        """Return the first working day strictly after `day`."""
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """Return the n-th working day after `start`, counting from the next day.

        With n = 0 return `start` itself when it is a working day, else the next working day.
        Raises ValueError when n is negative.
        """
        if n < 0:
            raise ValueError(f"The number of working days must not be negative (got {n}).")
        if n == 0:
            return start if self.is_working_day(start) else self.next_working_day(start)
        day = start
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Count working days after `a` up to and including `b`; negative when `b` is before `a`."""
        if b < a:
            return -self.working_days_between(b, a)
        span = (b - a).days
        return sum(1 for i in range(1, span + 1) if self.is_working_day(a + dt.timedelta(days=i)))

    def receipt_date(self, received_at: dt.datetime) -> dt.date:
        """Return the date a petition counts as received: the local date, moved on after the cut-off or a day off.

        Receipt exactly at the cut-off time still counts for that day. Raises ValueError on a naive datetime.
        """
        if received_at.tzinfo is None or received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware; a naive datetime is ambiguous.")
        local = received_at.astimezone(self.tz)
        day = local.date()
        if not self.is_working_day(day) or local.time() > self.cutoff:
            return self.next_working_day(day)
        return day


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """Return the calendar built from the reference data's calendar section."""
    settings = get_reference().calendar
    return WorkingCalendar(
        extra_working_days=settings.extra_working_days,
        extra_days_off=settings.extra_days_off,
        cutoff=settings.cutoff,
        tz=ZoneInfo(settings.timezone),
    )
