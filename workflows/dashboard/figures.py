"""The dashboard's figures for a period, each one SQL aggregation (or a few grouped rows) over `petition`.

Definitions (Hanoi dates, due dates expire at the calendar's cut-off, 17:00):
- received: petitions whose receipt date falls in the period;
- answered: petitions whose first answer was sent in the period; on time when it was sent by the cut-off of
  the due date it was measured against (`answer_due_date`);
- open: received by the period's end and not closed at its end (`as_of`: the end, or now if earlier);
- overdue: open, not answered, with a due date whose cut-off passed before `as_of`;
- median working days: from receipt to the first answer, over the answered;
- backlog by age: the open petitions by working days since receipt;
- satisfaction, reopen rate: over the answered (their latest rating; reopened at least once);
- outcome: petitions handled in the period (first answer, or closing without one) as resolved within the
  Board's authority, resolved with other agencies, escalated to a higher authority (result
  KIEN_NGHI_CAP_TREN), forwarded, guided out of the petition track, or not accepted.
Every figure has a drill-down: `metric_condition(metric, ...)` is the WHERE of the same petitions.
"""
from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from engine.db import utcnow
from workflows.calendar import HANOI, WorkingCalendar, current_calendar
from workflows.models import Petition

AGE_BUCKETS = ((0, 5), (6, 10), (11, 15), (16, 20), (21, 30), (31, None))
OUTCOMES = ("within_authority", "coordinated", "escalated", "forwarded", "guided", "rejected")
RATINGS = ("hai_long", "chap_nhan", "khong_hai_long", "khong_danh_gia", "none")
DIMENSIONS = {"unit": Petition.lead_unit, "category": Petition.category, "zone": Petition.zone,
              "channel": Petition.channel}


@dataclass(frozen=True)
class Period:
    """A span of Hanoi dates, both ends included."""

    start: dt.date
    end: dt.date

    @property
    def start_utc(self) -> dt.datetime:
        """Return the first moment of the period."""
        return dt.datetime.combine(self.start, dt.time.min, HANOI).astimezone(dt.timezone.utc)

    @property
    def end_utc(self) -> dt.datetime:
        """Return the first moment after the period."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, HANOI).astimezone(dt.timezone.utc)

    def as_of(self, now: dt.datetime) -> dt.datetime:
        """Return the moment open and overdue are counted at: the period's end, or now when earlier."""
        return min(self.end_utc, now)


@dataclass
class Rate:
    """A count of answered petitions and how many of them were on time."""

    answered: int = 0
    on_time: int = 0

    @property
    def rate(self) -> float | None:
        """Return the on-time share (None when nothing was answered)."""
        return self.on_time / self.answered if self.answered else None


@dataclass
class Figures:
    """Everything the dashboard shows for one period."""

    period: Period
    as_of: dt.datetime
    received: int
    answered: int
    on_time: int
    open: int
    overdue: int
    median_days: float | None
    backlog: list[tuple[str, int]]
    satisfaction: dict[str, int]
    reopened: int
    outcomes: dict[str, int]
    by_unit: dict[str, Rate] = field(default_factory=dict)
    by_category: dict[str, Rate] = field(default_factory=dict)
    by_zone: dict[str, dict[str, int]] = field(default_factory=dict)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    by_month: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        """Return the on-time share of the answered."""
        return self.on_time / self.answered if self.answered else None

    @property
    def reopen_rate(self) -> float | None:
        """Return the share of the answered that were reopened."""
        return self.reopened / self.answered if self.answered else None


# ---- SQL building blocks (one per dialect where SQLite and PostgreSQL differ) -----------------------------
def _cutoff_seconds(calendar: WorkingCalendar) -> int:
    day = dt.date(2000, 1, 3)
    deadline = calendar.deadline(day).astimezone(dt.timezone.utc)
    return int((deadline - dt.datetime.combine(day, dt.time.min, dt.timezone.utc)).total_seconds())


def deadline_expr(session: Session, due: Any, calendar: WorkingCalendar) -> ColumnElement[Any]:
    """Return SQL for the UTC moment a due-date column expires (the calendar's cut-off on that day)."""
    seconds = _cutoff_seconds(calendar)
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", cast(due, Date) + func.make_interval(0, 0, 0, 0, 0, 0, seconds))
    # SQLite stores dates as 'YYYY-MM-DD' and datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff'; build the same text so
    # that the comparison is exact (a plain concatenation when the cut-off falls on the same UTC day: no parsing).
    if 0 <= seconds < 86_400:
        clock = f" {seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}.000000"
        return due.op("||")(literal(clock))
    return func.strftime("%Y-%m-%d %H:%M:%S", due, f"+{seconds} seconds").op("||")(literal(".000000"))


def local_date_expr(session: Session, moment: Any) -> ColumnElement[Any]:
    """Return SQL for the Hanoi date of a UTC datetime column."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("Asia/Ho_Chi_Minh", moment), Date)
    return func.date(moment, "+7 hours")  # Hanoi has had no daylight saving since 1975


def _utc_param(session: Session, moment: dt.datetime) -> Any:
    # Bound against UTCDateTime columns, which store it as each dialect expects.
    return moment.astimezone(dt.timezone.utc)


class Conditions:
    """The WHERE clauses of every figure for one period, shared by the figures and their drill-downs."""

    def __init__(self, session: Session, period: Period, now: dt.datetime, calendar: WorkingCalendar) -> None:
        """Bind the period's moments for this session's dialect."""
        self.session, self.period = session, period
        self.start = _utc_param(session, period.start_utc)
        self.end = _utc_param(session, period.end_utc)
        self.as_of_moment = period.as_of(now)
        self.as_of = _utc_param(session, self.as_of_moment)
        self.deadline = deadline_expr(session, Petition.answer_due_date, calendar)
        self.due_deadline = deadline_expr(session, Petition.due_date, calendar)

    def received(self) -> ColumnElement[bool]:
        """Return: received in the period."""
        return Petition.received_date.between(self.period.start, self.period.end)

    def answered(self) -> ColumnElement[bool]:
        """Return: first answer in the period."""
        return and_(Petition.answered_at >= self.start, Petition.answered_at < self.end)

    def on_time(self) -> ColumnElement[bool]:
        """Return: first answer in the period, on time."""
        return and_(self.answered(), Petition.answered_at <= self.deadline)

    def late(self) -> ColumnElement[bool]:
        """Return: first answer in the period, late."""
        return and_(self.answered(), Petition.answered_at > self.deadline)

    def open(self) -> ColumnElement[bool]:
        """Return: received by the end, not closed at `as_of`."""
        return and_(Petition.received_at < self.as_of,
                    or_(Petition.closed_at.is_(None), Petition.closed_at >= self.as_of))

    def overdue(self) -> ColumnElement[bool]:
        """Return: open, unanswered at `as_of`, past the due date's cut-off."""
        return and_(self.open(), or_(Petition.answered_at.is_(None), Petition.answered_at >= self.as_of),
                    Petition.due_date.is_not(None), self.due_deadline < self.as_of)

    def handled(self) -> ColumnElement[bool]:
        """Return: answered, or closed without an answer, in the period."""
        moment = func.coalesce(Petition.answered_at, Petition.closed_at)
        return and_(moment >= self.start, moment < self.end)

    def reopened(self) -> ColumnElement[bool]:
        """Return: answered in the period and reopened."""
        return and_(self.answered(), Petition.reopen_count > 0)


def outcome_expr() -> ColumnElement[str]:
    """Return SQL naming the outcome of a handled petition (one of OUTCOMES)."""
    return case(
        (Petition.answered_at.is_not(None) & (Petition.result_type == "KIEN_NGHI_CAP_TREN"), literal_column("'escalated'")),
        (Petition.answered_at.is_not(None) & Petition.within_authority.is_(True), literal_column("'within_authority'")),
        (Petition.answered_at.is_not(None), literal_column("'coordinated'")),
        (Petition.status == "CHUYEN_CO_QUAN_KHAC", literal_column("'forwarded'")),
        (Petition.status == "KHONG_TIEP_NHAN", literal_column("'rejected'")),
        else_=literal_column("'guided'"),
    )


def rating_expr() -> ColumnElement[str]:
    """Return SQL for the rating of a petition, 'none' while it has none."""
    return func.coalesce(Petition.rating, literal_column("'none'"))


# ---- working days ---------------------------------------------------------------------------------------
class DayIndex:
    """Working days counted by position in a sorted list (fast for many pairs of dates)."""

    def __init__(self, calendar: WorkingCalendar, first: dt.date, last: dt.date) -> None:
        """Index the working days from `first` to `last`."""
        self.days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)
                     if calendar.is_working_day(first + dt.timedelta(days=i))]

    def between(self, a: dt.date, b: dt.date) -> int:
        """Count the working days after `a` up to and including `b`."""
        return bisect.bisect_right(self.days, b) - bisect.bisect_right(self.days, a)


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def weighted_median(values: Counter[int]) -> float | None:
    """Return the median of a multiset given as value -> count (the mean of the two middles when even)."""
    total = sum(values.values())
    if not total:
        return None
    ordered = sorted(values.items())
    middle = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for value, count in ordered:
        while middle and middle[0] < seen + count:
            found.append(value)
            middle.pop(0)
        seen += count
    return (found[0] + found[1]) / 2


# ---- the figures ----------------------------------------------------------------------------------------
COUNTED = ("received", "answered", "on_time", "open", "overdue", "reopened")


def _counts(session: Session, cond: Conditions) -> dict[str, int]:
    # The headline counts in one scan of the petition table.
    sums = [func.sum(case((getattr(cond, name)(), 1), else_=0)) for name in COUNTED]
    row = session.execute(select(*sums).select_from(Petition)).one()
    return {name: int(value or 0) for name, value in zip(COUNTED, row, strict=True)}


def _median_days(session: Session, cond: Conditions, index: DayIndex) -> float | None:
    answered_on = local_date_expr(session, Petition.answered_at)
    rows = session.execute(select(Petition.received_date, answered_on, func.count())
                           .where(cond.answered()).group_by(Petition.received_date, answered_on))
    spans: Counter[int] = Counter()
    for received, answered, count in rows:
        spans[index.between(_as_date(received), _as_date(answered))] += count
    return weighted_median(spans)


def _backlog(session: Session, cond: Conditions, index: DayIndex) -> list[tuple[str, int]]:
    today = cond.as_of_moment.astimezone(HANOI).date()
    rows = session.execute(select(Petition.received_date, func.count()).where(cond.open())
                           .group_by(Petition.received_date))
    counts = dict.fromkeys((bucket_key(b) for b in AGE_BUCKETS), 0)
    for received, count in rows:
        counts[bucket_key(age_bucket(index.between(_as_date(received), today)))] += count
    return list(counts.items())


def age_bucket(days: int) -> tuple[int, int | None]:
    """Return the backlog bucket of an age in working days."""
    return next(b for b in AGE_BUCKETS if days <= (b[1] if b[1] is not None else days) and days >= b[0]) \
        if days >= 0 else AGE_BUCKETS[0]


def bucket_key(bucket: tuple[int, int | None]) -> str:
    """Return the key of a bucket ('0-5', '31+')."""
    return f"{bucket[0]}-{bucket[1]}" if bucket[1] is not None else f"{bucket[0]}+"


def _grouped(session: Session, expression: ColumnElement[Any], where: ColumnElement[bool]) -> dict[str, int]:
    # Grouping by a CASE with bound parameters needs the expression once (PostgreSQL compares it textually).
    inner = select(expression.label("key")).where(where).subquery()
    return {str(k): int(n) for k, n in session.execute(select(inner.c.key, func.count()).group_by(inner.c.key))}


def _rates(session: Session, cond: Conditions, column: Any) -> dict[str, Rate]:
    on_time = func.sum(case((Petition.answered_at <= cond.deadline, 1), else_=0))
    rows = session.execute(select(column, func.count(), on_time).where(cond.answered()).group_by(column))
    return {str(key or ""): Rate(count, int(good or 0)) for key, count, good in rows}


def _split(session: Session, cond: Conditions, column: Any) -> dict[str, dict[str, int]]:
    received = func.sum(case((cond.received(), 1), else_=0))
    answered = func.sum(case((cond.answered(), 1), else_=0))
    on_time = func.sum(case((cond.on_time(), 1), else_=0))
    rows = session.execute(select(column, received, answered, on_time)
                           .where(or_(cond.received(), cond.answered())).group_by(column))
    return {str(key or ""): {"received": int(r or 0), "answered": int(a or 0), "on_time": int(o or 0)}
            for key, r, a, o in rows}


def _by_month(session: Session, cond: Conditions) -> list[tuple[str, int, int]]:
    month = func.substr(Petition.received_date, 1, 7) \
        if session.get_bind().dialect.name == "sqlite" else func.to_char(Petition.received_date, "YYYY-MM")
    received = dict(session.execute(select(month, func.count()).where(cond.received()).group_by(month)).all())
    answered_on = local_date_expr(session, Petition.answered_at)
    answered_month = func.substr(answered_on, 1, 7) if session.get_bind().dialect.name == "sqlite" \
        else func.to_char(answered_on, "YYYY-MM")
    answered = dict(session.execute(select(answered_month, func.count()).where(cond.answered())
                                    .group_by(answered_month)).all())
    months = sorted(set(received) | set(answered))
    return [(str(m), int(received.get(m, 0)), int(answered.get(m, 0))) for m in months]


def compute(session: Session, period: Period, now: dt.datetime | None = None,
            calendar: WorkingCalendar | None = None) -> Figures:
    """Return every dashboard figure for the period (counted at its end, or now when earlier)."""
    now, calendar = now or utcnow(), calendar or current_calendar()
    cond = Conditions(session, period, now, calendar)
    first = session.scalar(select(func.min(Petition.received_date))) or period.start
    index = DayIndex(calendar, min(first, period.start), max(period.end, now.astimezone(HANOI).date()))
    ratings = _grouped(session, rating_expr(), cond.answered())
    outcomes = _grouped(session, outcome_expr(), cond.handled())
    counts = _counts(session, cond)
    return Figures(
        period=period, as_of=cond.as_of_moment, received=counts["received"], answered=counts["answered"],
        on_time=counts["on_time"], open=counts["open"], overdue=counts["overdue"],
        median_days=_median_days(session, cond, index), backlog=_backlog(session, cond, index),
        satisfaction={r: int(ratings.get(r, 0)) for r in RATINGS}, reopened=counts["reopened"],
        outcomes={o: int(outcomes.get(o, 0)) for o in OUTCOMES},
        by_unit=_rates(session, cond, Petition.lead_unit), by_category=_rates(session, cond, Petition.category),
        by_zone=_split(session, cond, Petition.zone), by_channel=_split(session, cond, Petition.channel),
        by_month=_by_month(session, cond),
    )
