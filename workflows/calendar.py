"""Working-day arithmetic for deadlines: the one place that knows the Vietnamese public-sector calendar.

A working day is Monday to Friday, minus the public holidays of `holidays.VN` (pinned version), plus the
extra working days (make-up Saturdays, which the package does not know), minus the extra days off (swaps
decided after the package release). Periods count from the day after the event (Civil Code 2015,
Arts. 147-148).

The extra days live in the `calendar_override` table (admin page `/admin/calendar`), seeded from the reference
data's `calendar` section by `petitions init`. BPMN helpers use `current_calendar()`: one calendar per
process, rebuilt from the table when its version stamp changes. The stamp (database and an aggregate of ids
and creation times) is read at the start of every engine step (`refresh_calendar`, wired as the runtime's `before_step` hook),
in the same statement that locks the step's instance (`STAMP_COLUMNS`, the runtime's `read_with_lock`): aggregates over a
table of a few dozen rows, so an override added in any process applies to the next step everywhere.
Deadlines already computed (task due dates, armed timers) keep the value they were computed with.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.errors import NotFound, ValidationFailed
from workflows.models.calendar_override import KINDS, CalendarOverride
from workflows.reference import get_reference

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_CUTOFF = dt.time(17, 0)
OFFICE_START = dt.time(8, 0)
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

    def working_days_before(self, end: dt.date, n: int) -> dt.date:
        """Return the n-th working day before `end`, counting back from the day before.

        With n = 0 return `end` itself when it is a working day, else the previous working day.
        Raises ValueError when n is negative.
        """
        if n < 0:
            raise ValueError(f"The number of working days must not be negative (got {n}).")
        day = end
        if n == 0:
            while not self.is_working_day(day):
                day -= _ONE_DAY
            return day
        for _ in range(n):
            day -= _ONE_DAY
            while not self.is_working_day(day):
                day -= _ONE_DAY
        return day

    def deadline(self, day: dt.date) -> dt.datetime:
        """Return the moment a due date expires: the cut-off time (17:00) on that day, in local time."""
        return dt.datetime.combine(day, self.cutoff, self.tz)

    def office_start(self, day: dt.date) -> dt.datetime:
        """Return the start of office hours (08:00) on that day, in local time."""
        return dt.datetime.combine(day, OFFICE_START, self.tz)

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


# ---- the database overrides ------------------------------------------------------------------------------


def load_calendar(session: Session) -> WorkingCalendar:
    """Return the calendar of this installation: reference cut-off and time zone, the table's extra days.

    An empty table (a database `petitions init` has not seeded yet) means the reference data's days.
    """
    rows = session.execute(select(CalendarOverride.day, CalendarOverride.kind)).all()
    base = default_calendar()
    if not rows:
        return base
    return WorkingCalendar(
        extra_working_days=[day for day, kind in rows if kind == "working"],
        extra_days_off=[day for day, kind in rows if kind == "off"],
        cutoff=base.cutoff,
        tz=base.tz,
    )


Stamp = tuple[str, int, int, int, str]


_AGGREGATES = (func.count(CalendarOverride.id), func.max(CalendarOverride.id), func.sum(CalendarOverride.id),
               func.max(CalendarOverride.created_at))
_STAMP = select(*_AGGREGATES)  # built once
# The same aggregates as columns of the engine's lock statement (`Hooks.read_with_lock`): every step reads the
# stamp in the round trip that locks its instance, instead of one of its own.
STAMP_COLUMNS = tuple(select(aggregate).scalar_subquery() for aggregate in _AGGREGATES)


def calendar_stamp(session: Session, read: tuple[Any, ...] | None = None) -> Stamp:
    """Return a cheap version stamp of the overrides: one aggregate query over the small table.

    (database, row count, highest id, sum of ids, latest creation time). Rows are only added or removed, never
    edited in place: an addition brings a new creation time (SQLite may reuse the highest id after a removal),
    a removal lowers the count and the sum of ids. `read`: the aggregates as `STAMP_COLUMNS` already read them.
    """
    count, top, total, latest = read if read is not None else session.connection().execute(_STAMP).one()
    return (session.get_bind().url.render_as_string(hide_password=True), int(count or 0), int(top or 0),
            int(total or 0), str(latest or ""))


_lock = threading.Lock()
_current: WorkingCalendar | None = None
_stamp: Stamp | None = None


def current_calendar() -> WorkingCalendar:
    """Return the process-wide calendar the BPMN helpers count with (the reference one until a refresh)."""
    return _current or default_calendar()


def refresh_calendar(session: Session, read: tuple[Any, ...] | None = None, *, force: bool = False) -> WorkingCalendar:
    """Rebuild the process-wide calendar from the table when its stamp changed; return it.

    Called at the start of every engine step (the runtime's `before_step` hook), with `read`: the stamp's
    aggregates as the step's lock statement read them (`STAMP_COLUMNS`), or None to read them now. The stamp
    is taken once per transaction: the steps of one transaction (a timer sweep fires several) see one calendar,
    as if they had started together. `force` reads it again (after this transaction changed the table).
    """
    global _current, _stamp
    transaction = session.get_transaction()
    if not force and _current is not None and transaction is not None \
            and session.info.get(_CHECKED_IN) is transaction:
        return _current
    stamp = calendar_stamp(session, None if force else read)
    session.info[_CHECKED_IN] = session.get_transaction()
    if stamp == _stamp and _current is not None:
        return _current
    with _lock:
        calendar = load_calendar(session)
        _current, _stamp = calendar, stamp
    return calendar


_CHECKED_IN = "workflows.calendar.checked_in"


def reset_calendar() -> None:
    """Forget the database calendar (back to the reference data until the next refresh)."""
    global _current, _stamp
    with _lock:
        _current, _stamp = None, None


def overrides(session: Session) -> list[CalendarOverride]:
    """Return every override, by day."""
    return list(session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)))


SEED_ACTOR = "reference-data"


def seed_overrides(session: Session) -> int:
    """Add the reference data's extra working days and days off that the table lacks; return how many.

    Idempotent: a day already in the table (whatever its kind) is left as the admin set it. A reference day an
    admin removed comes back at the next `petitions init` unless it is also removed from the reference data.
    """
    settings = get_reference().calendar
    present = set(session.scalars(select(CalendarOverride.day)))
    added = 0
    reasons = _reference_reasons()
    for kind, days in (("working", settings.extra_working_days), ("off", settings.extra_days_off)):
        for day in days:
            if day in present:
                continue
            session.add(CalendarOverride(day=day, kind=kind, reason=reasons.get(day, ""), created_by=SEED_ACTOR))
            present.add(day)
            added += 1
    session.flush()
    return added


def _reference_reasons() -> dict[dt.date, str]:
    import yaml

    from workflows.reference import REFERENCE_FILE

    raw = yaml.safe_load(REFERENCE_FILE.read_text(encoding="utf-8")).get("calendar") or {}
    reasons: dict[dt.date, str] = {}
    for key in ("extra_working_days", "extra_days_off"):
        for item in raw.get(key) or ():
            if isinstance(item, dict) and isinstance(item.get("date"), dt.date):
                reasons[item["date"]] = str(item.get("reason") or "")[:300]
    return reasons


def add_override(session: Session, day: dt.date, kind: str, reason: str, actor: Actor) -> CalendarOverride:
    """Record a make-up working day or an extra day off; raise ValidationFailed on a pointless or clashing day."""
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = "Choose one of the allowed values."
    if not reason:
        errors["reason"] = "This field is required."
    elif len(reason) > 300:
        errors["reason"] = "The text is too long."
    if not errors:
        baseline = WorkingCalendar(cutoff=current_calendar().cutoff, tz=current_calendar().tz)
        if kind == "working" and baseline.is_working_day(day):
            errors["day"] = "This day is already a working day."
        elif kind == "off" and not baseline.is_working_day(day):
            errors["day"] = "This day is already a day off."
        elif session.scalar(select(CalendarOverride.id).where(CalendarOverride.day == day)) is not None:
            errors["day"] = "This day already has an override; remove it first."
    if errors:
        raise ValidationFailed(errors)
    row = CalendarOverride(day=day, kind=kind, reason=reason, created_by=actor.name)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise ValidationFailed({"day": "This day already has an override; remove it first."}) from None
    audit.record(session, actor, "CALENDAR_OVERRIDE_ADDED", data={"day": day.isoformat(), "kind": kind, "reason": reason})
    refresh_calendar(session, force=True)
    return row


def remove_override(session: Session, override_id: int, actor: Actor) -> CalendarOverride:
    """Remove one override; raise NotFound when it does not exist."""
    row = session.get(CalendarOverride, override_id)
    if row is None:
        raise NotFound("calendar override not found")
    session.delete(row)
    session.flush()
    audit.record(session, actor, "CALENDAR_OVERRIDE_REMOVED",
                 data={"day": row.day.isoformat(), "kind": row.kind, "reason": row.reason})
    refresh_calendar(session, force=True)
    return row
