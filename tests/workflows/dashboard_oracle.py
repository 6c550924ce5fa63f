"""An independent computation of the dashboard's figures: raw SQL reads of petition and human_task rows, then
plain Python over every row (no SQLAlchemy expressions, no petition fact columns: the first answer, its due
date, the authority flag, the result type and reopening are re-derived from the task rows)."""
from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from workflows.calendar import HANOI, WorkingCalendar

UTC = dt.timezone.utc


def _moment(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


@dataclass
class Row:
    code: str
    received_date: dt.date
    received_at: dt.datetime
    closed_at: dt.datetime | None
    status: str
    unit: str | None
    category: str | None
    zone: str
    channel: str
    rating: str | None
    due_date: dt.date | None
    answered_at: dt.datetime | None = None
    answer_due: dt.date | None = None
    within: bool | None = None
    result: str | None = None
    reopened: bool = False
    tasks: list[dict[str, Any]] = field(default_factory=list)


def load(session: Session) -> list[Row]:
    """Read every petition and derive its facts from its task rows."""
    rows = {}
    for r in session.execute(text(
            "SELECT tracking_code, received_date, received_at, closed_at, status, lead_unit, category, zone, channel,"
            " rating, due_date FROM petition")):
        rows[r[0]] = Row(r[0], _day(r[1]), _moment(r[2]), _moment(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], _day(r[10]))
    for key, bpmn_id, status, created, completed, due, data in session.execute(text(
            "SELECT business_key, bpmn_id, status, created_at, completed_at, due_date, data FROM human_task")):
        if key in rows:
            rows[key].tasks.append({"bpmn_id": bpmn_id, "status": status, "created": _moment(created),
                                    "completed": _moment(completed), "due": _day(due),
                                    "data": json.loads(data) if isinstance(data, str) else (data or {})})
    for row in rows.values():
        _derive(row)
    return list(rows.values())


def _derive(row: Row) -> None:
    done = sorted((t for t in row.tasks if t["status"] == "completed"), key=lambda t: t["completed"])
    sends = [t for t in done if t["bpmn_id"] == "send_answer"]
    if sends:
        row.answered_at, row.answer_due = sends[0]["completed"], sends[0]["due"]
    for task in done:
        if task["bpmn_id"] == "classify":
            row.within = bool(task["data"].get("within_authority"))
        if task["bpmn_id"] == "draft_answer":
            row.result = task["data"].get("result_type")
    confirms = [t["created"] for t in row.tasks if t["bpmn_id"] == "confirm"]
    row.reopened = bool(confirms) and any(t["bpmn_id"] == "draft_answer" and t["created"] > min(confirms)
                                          for t in row.tasks)


def outcome(row: Row) -> str:
    ids = {t["bpmn_id"] for t in row.tasks if t["status"] == "completed"}
    if row.answered_at is not None:
        if row.result == "KIEN_NGHI_CAP_TREN":
            return "escalated"
        return "within_authority" if row.within else "coordinated"
    if "forward" in ids:
        return "forwarded"
    if "record_out_of_track" in ids:
        return "guided"
    return "rejected"


def bucket(days: int) -> str:
    for low, high in ((0, 5), (6, 10), (11, 15), (16, 20), (21, 30)):
        if low <= days <= high:
            return f"{low}-{high}"
    return "31+" if days > 30 else "0-5"


def figures(rows: list[Row], start: dt.date, end: dt.date, now: dt.datetime, cal: WorkingCalendar) -> dict[str, Any]:
    """Compute every figure for the period [start, end] counted at min(end of period, now)."""
    begin = dt.datetime(start.year, start.month, start.day, tzinfo=HANOI).astimezone(UTC)
    after = end + dt.timedelta(days=1)
    finish = dt.datetime(after.year, after.month, after.day, tzinfo=HANOI).astimezone(UTC)
    as_of = min(finish, now)

    def in_period(moment: dt.datetime | None) -> bool:
        return moment is not None and begin <= moment < finish

    def on_time(r: Row) -> bool:
        return r.answered_at <= cal.deadline(r.answer_due)

    received = [r for r in rows if start <= r.received_date <= end]
    answered = [r for r in rows if in_period(r.answered_at)]
    still_open = [r for r in rows if r.received_at < as_of and (r.closed_at is None or r.closed_at >= as_of)]
    overdue = [r for r in still_open if (r.answered_at is None or r.answered_at >= as_of) and r.due_date is not None
               and cal.deadline(r.due_date) < as_of]
    handled = [r for r in rows if in_period(r.answered_at if r.answered_at is not None else r.closed_at)]
    today = as_of.astimezone(HANOI).date()
    spans = [cal.working_days_between(r.received_date, r.answered_at.astimezone(HANOI).date()) for r in answered]
    units: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    categories: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in answered:
        for table, key in ((units, r.unit or ""), (categories, r.category or "")):
            table[key][0] += 1
            table[key][1] += on_time(r)
    zones: dict[str, Counter[str]] = defaultdict(Counter)
    channels: dict[str, Counter[str]] = defaultdict(Counter)
    for r in received:
        zones[r.zone]["received"] += 1
        channels[r.channel]["received"] += 1
    for r in answered:
        for table, key in ((zones, r.zone), (channels, r.channel)):
            table[key]["answered"] += 1
            table[key]["on_time"] += on_time(r)
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in received:
        months[r.received_date.isoformat()[:7]][0] += 1
    for r in answered:
        months[r.answered_at.astimezone(HANOI).date().isoformat()[:7]][1] += 1
    return {
        "received": len(received), "answered": len(answered), "on_time": sum(on_time(r) for r in answered),
        "open": len(still_open), "overdue": len(overdue),
        "median_days": float(statistics.median(spans)) if spans else None,
        "backlog": dict(Counter(bucket(cal.working_days_between(r.received_date, today)) for r in still_open)),
        "satisfaction": dict(Counter(r.rating or "none" for r in answered)),
        "reopened": sum(r.reopened for r in answered),
        "outcomes": dict(Counter(outcome(r) for r in handled)),
        "by_unit": {k: tuple(v) for k, v in units.items()},
        "by_category": {k: tuple(v) for k, v in categories.items()},
        "by_zone": {k: dict(v) for k, v in zones.items()},
        "by_channel": {k: dict(v) for k, v in channels.items()},
        "by_month": {k: tuple(v) for k, v in months.items()},
    }


def dashboard_as_dict(fig: Any) -> dict[str, Any]:
    """Put the dashboard's Figures in the oracle's shape (zero entries dropped, as Counter keeps none)."""
    def split(table: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        return {k: {m: n for m, n in v.items() if n} for k, v in table.items()}

    return {
        "received": fig.received, "answered": fig.answered, "on_time": fig.on_time, "open": fig.open,
        "overdue": fig.overdue, "median_days": fig.median_days,
        "backlog": {k: v for k, v in fig.backlog if v},
        "satisfaction": {k: v for k, v in fig.satisfaction.items() if v}, "reopened": fig.reopened,
        "outcomes": {k: v for k, v in fig.outcomes.items() if v},
        "by_unit": {k: (v.answered, v.on_time) for k, v in fig.by_unit.items()},
        "by_category": {k: (v.answered, v.on_time) for k, v in fig.by_category.items()},
        "by_zone": split(fig.by_zone), "by_channel": split(fig.by_channel),
        "by_month": {m: (r, a) for m, r, a in fig.by_month},
    }
