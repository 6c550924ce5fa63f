"""Drill-down: the petitions behind any dashboard figure, with the same conditions as the figure."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from engine.db import utcnow
from workflows.calendar import HANOI, WorkingCalendar, current_calendar
from workflows.dashboard.figures import (
    AGE_BUCKETS,
    DIMENSIONS,
    OUTCOMES,
    RATINGS,
    Conditions,
    DayIndex,
    Period,
    age_bucket,
    bucket_key,
    outcome_expr,
    rating_expr,
)
from workflows.models import Petition

METRICS = ("received", "answered", "on_time", "late", "open", "overdue", "reopened", "handled")


@dataclass(frozen=True)
class Drill:
    """Which figure to open: a metric, optionally one value of a dimension, a rating, an outcome or an age."""

    metric: str
    dimension: str = ""  # unit / category / zone / channel
    key: str = ""
    rating: str = ""
    outcome: str = ""
    age: str = ""  # a backlog bucket key ('0-5', '31+')

    def valid(self) -> bool:
        """Tell whether every part names something the dashboard shows."""
        return (self.metric in METRICS and (not self.dimension or self.dimension in DIMENSIONS)
                and (not self.rating or self.rating in RATINGS) and (not self.outcome or self.outcome in OUTCOMES)
                and (not self.age or self.age in {bucket_key(b) for b in AGE_BUCKETS}))


def _condition(cond: Conditions, drill: Drill) -> list[ColumnElement[bool]]:
    where = [getattr(cond, drill.metric)()]
    if drill.dimension:
        column = DIMENSIONS[drill.dimension]
        where.append(column == drill.key if drill.key else column.is_(None))
    if drill.rating:
        where.append(rating_expr() == drill.rating)
    if drill.outcome:
        where.append(outcome_expr() == drill.outcome)
    return where


def _statement(session: Session, period: Period, chosen: Drill, now: dt.datetime, calendar: WorkingCalendar,
               extra: list[Any] | None) -> tuple[Select[Any], Conditions]:
    cond = Conditions(session, period, now, calendar)
    return select(Petition).where(*_condition(cond, chosen), *(extra or [])), cond


def _by_age(rows: list[Petition], cond: Conditions, calendar: WorkingCalendar, age: str) -> list[Petition]:
    today = cond.as_of_moment.astimezone(HANOI).date()
    index = DayIndex(calendar, min((p.received_date for p in rows), default=today), today)
    return [p for p in rows if bucket_key(age_bucket(index.between(p.received_date, today))) == age]


def query(session: Session, period: Period, chosen: Drill, now: dt.datetime | None = None,
          calendar: WorkingCalendar | None = None, extra: list[Any] | None = None,
          limit: int | None = None) -> list[Petition]:
    """Return the petitions behind a figure, oldest receipt first (`extra`: more conditions, e.g. visibility)."""
    now, calendar = now or utcnow(), calendar or current_calendar()
    stmt, cond = _statement(session, period, chosen, now, calendar, extra)
    stmt = stmt.order_by(Petition.received_at, Petition.id)
    if chosen.age:  # the age in working days is counted here, over the open petitions only
        return _by_age(list(session.scalars(stmt)), cond, calendar, chosen.age)[:limit]
    return list(session.scalars(stmt.limit(limit) if limit is not None else stmt))


def count(session: Session, period: Period, chosen: Drill, now: dt.datetime | None = None,
          calendar: WorkingCalendar | None = None, extra: list[Any] | None = None) -> int:
    """Return how many petitions are behind a figure (one COUNT, except for an age bucket)."""
    now, calendar = now or utcnow(), calendar or current_calendar()
    if chosen.age:
        return len(query(session, period, chosen, now, calendar, extra))
    stmt, _ = _statement(session, period, chosen, now, calendar, extra)
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
