"""The reports leaders send on: the half-yearly report, the monthly unit ranking and the overdue digest.

Each report is a list of `Table`s built from the same figures as the dashboard (workflows.dashboard.figures),
so its totals are the dashboard's; `workflows.dashboard.documents` writes them as XLSX and PDF. Labels are
Vietnamese (the language of the Board's reports).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from workflows.calendar import HANOI, WorkingCalendar, current_calendar
from workflows.dashboard import drill
from workflows.dashboard.figures import Conditions, Figures, Period, compute
from workflows.models import Petition
from workflows.reference import get_reference

OUTCOME_NAMES = {
    "within_authority": "Giải quyết trong thẩm quyền của Ban", "coordinated": "Giải quyết có phối hợp liên ngành",
    "escalated": "Kiến nghị cấp có thẩm quyền", "forwarded": "Chuyển cơ quan có thẩm quyền",
    "guided": "Hướng dẫn (khiếu nại, tố cáo)", "rejected": "Không tiếp nhận",
}
RATING_NAMES = {"hai_long": "Hài lòng", "chap_nhan": "Chấp nhận được", "khong_hai_long": "Không hài lòng",
                "khong_danh_gia": "Không đánh giá", "none": "Chưa đánh giá"}


@dataclass
class Table:
    """One section of a report: a title, a header row and rows (the first column names the row)."""

    title: str
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class Report:
    """A report: its title, the line under it, and its sections."""

    title: str
    subtitle: str
    tables: list[Table]
    figures: Figures | None = None


def _name(kind: str, code: str | None) -> str:
    if not code:
        return "(chưa phân loại)"
    entries = getattr(get_reference(), kind)
    entry = entries.get(code)
    return getattr(entry, "name_vi", None) or code if entry is not None else code


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def half_year_period(year: int, half: int) -> Period:
    """Return the first (half = 1) or second (half = 2) half of a year."""
    return Period(dt.date(year, 1, 1), dt.date(year, 6, 30)) if half == 1 else \
        Period(dt.date(year, 7, 1), dt.date(year, 12, 31))


def totals_table(fig: Figures) -> Table:
    """Return the headline figures (the dashboard's cards) as a table."""
    handled = sum(fig.outcomes.values())
    return Table("Tổng hợp", ["Chỉ tiêu", "Số lượng"], [
        ["Tiếp nhận", fig.received], ["Đã xử lý", handled], ["Đã trả lời", fig.answered],
        ["Trả lời đúng hạn", fig.on_time], ["Tỷ lệ đúng hạn", _pct(fig.on_time, fig.answered)],
        ["Đang giải quyết (cuối kỳ)", fig.open], ["Quá hạn (cuối kỳ)", fig.overdue],
        ["Trung vị số ngày làm việc để trả lời", fig.median_days if fig.median_days is not None else "—"],
        ["Mở lại", fig.reopened],
    ])


def _by_type(session: Session, cond: Conditions) -> Table:
    rows = session.execute(select(Petition.petition_type, func.count()).where(cond.received())
                           .group_by(Petition.petition_type).order_by(Petition.petition_type))
    return Table("Tiếp nhận theo loại đơn", ["Loại đơn", "Số lượng"],
                 [[_name("petition_types", code), n] for code, n in rows])


def _by_category(fig: Figures, session: Session, cond: Conditions) -> Table:
    received = dict(session.execute(select(Petition.category, func.count()).where(cond.received())
                                    .group_by(Petition.category)).all())
    codes = sorted(set(received) | set(fig.by_category), key=lambda c: c or "")
    rows = []
    for code in codes:
        rate = fig.by_category.get(code or "")
        rows.append([_name("categories", code), received.get(code, 0), rate.answered if rate else 0,
                     rate.on_time if rate else 0, _pct(rate.on_time, rate.answered) if rate else "—"])
    return Table("Theo lĩnh vực", ["Lĩnh vực", "Tiếp nhận", "Đã trả lời", "Đúng hạn", "Tỷ lệ đúng hạn"], rows)


def _by_result(session: Session, cond: Conditions) -> Table:
    rows = session.execute(select(Petition.result_type, func.count()).where(cond.answered())
                           .group_by(Petition.result_type).order_by(Petition.result_type))
    return Table("Kết quả trả lời theo loại kết quả", ["Kết quả", "Số lượng"],
                 [[_name("result_types", code), n] for code, n in rows])


def _escalated(session: Session, period: Period, now: dt.datetime, calendar: WorkingCalendar) -> Table:
    petitions = drill.query(session, period, drill.Drill("handled", outcome="escalated"), now=now, calendar=calendar)
    return Table("Kiến nghị cấp có thẩm quyền (sửa đổi cơ chế, chính sách)",
                 ["Mã hồ sơ", "Tiêu đề", "Lĩnh vực", "Đơn vị chủ trì", "Ngày trả lời"],
                 [[p.tracking_code, p.title, _name("categories", p.category), _name("units", p.lead_unit),
                   p.answered_at.astimezone(HANOI).strftime("%d/%m/%Y") if p.answered_at else ""] for p in petitions])


def half_year_report(session: Session, year: int, half: int, now: dt.datetime | None = None,
                     calendar: WorkingCalendar | None = None) -> Report:
    """Return the half-yearly report on petitions (received, handled, results by type and category, overdue)."""
    now, calendar = now or utcnow(), calendar or current_calendar()
    period = half_year_period(year, half)
    fig = compute(session, period, now=now, calendar=calendar)
    cond = Conditions(session, period, now, calendar)
    handled = sum(fig.outcomes.values())
    outcomes = Table("Kết quả xử lý", ["Hình thức", "Số lượng", "Tỷ lệ"],
                     [[OUTCOME_NAMES[o], n, _pct(n, handled)] for o, n in fig.outcomes.items()])
    ratings = Table("Mức độ hài lòng (hồ sơ đã trả lời)", ["Mức độ", "Số lượng", "Tỷ lệ"],
                    [[RATING_NAMES[r], n, _pct(n, fig.answered)] for r, n in fig.satisfaction.items()])
    return Report(
        f"Báo cáo 6 tháng {'đầu' if half == 1 else 'cuối'} năm {year} về tiếp nhận, xử lý kiến nghị của doanh nghiệp",
        f"Kỳ báo cáo: {period.start:%d/%m/%Y} – {period.end:%d/%m/%Y}",
        [totals_table(fig), _by_type(session, cond), _by_category(fig, session, cond), _by_result(session, cond),
         outcomes, ratings, _escalated(session, period, now, calendar)],
        fig,
    )


def overdue_digest(session: Session, now: dt.datetime | None = None,
                   calendar: WorkingCalendar | None = None) -> Report:
    """Return the petitions overdue now, grouped by lead unit, oldest due date first."""
    now, calendar = now or utcnow(), calendar or current_calendar()
    today = now.astimezone(HANOI).date()
    period = Period(today, today)
    late = sorted(drill.query(session, period, drill.Drill("overdue"), now=now, calendar=calendar),
                  key=lambda p: (p.lead_unit or "", p.due_date or today))
    per_unit: dict[str, int] = {}
    for petition in late:
        per_unit[petition.lead_unit or ""] = per_unit.get(petition.lead_unit or "", 0) + 1
    return Report(
        "Danh sách kiến nghị quá hạn", f"Tính đến {now.astimezone(HANOI):%H:%M %d/%m/%Y}",
        [Table("Theo đơn vị chủ trì", ["Đơn vị", "Số hồ sơ quá hạn"],
               [[_name("units", unit), n] for unit, n in sorted(per_unit.items())] + [["Tổng cộng", len(late)]]),
         Table("Chi tiết", ["Mã hồ sơ", "Tiêu đề", "Đơn vị chủ trì", "Hạn xử lý", "Số ngày làm việc quá hạn",
                            "Trạng thái"],
               [[p.tracking_code, p.title, _name("units", p.lead_unit), p.due_date.strftime("%d/%m/%Y"),
                 calendar.working_days_between(p.due_date, today), _name("statuses", p.status)] for p in late])],
    )


@dataclass(frozen=True)
class UnitRank:
    """One unit's month: volume, on-time rate, satisfaction."""

    rank: int
    unit: str
    received: int
    answered: int
    on_time: int
    rated: int
    satisfied: int  # satisfied or acceptable

    @property
    def on_time_rate(self) -> float | None:
        """Return the on-time share of the month's answers."""
        return self.on_time / self.answered if self.answered else None

    @property
    def satisfaction_rate(self) -> float | None:
        """Return the share of ratings that were satisfied or acceptable."""
        return self.satisfied / self.rated if self.rated else None


def month_period(month: str) -> Period:
    """Return the period of a month given as YYYY-MM; raise ValueError on another text."""
    first = dt.date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return Period(first, following - dt.timedelta(days=1))


def unit_ranking(session: Session, month: str, now: dt.datetime | None = None,
                 calendar: WorkingCalendar | None = None) -> list[UnitRank]:
    """Rank the units for a month: on-time rate, then satisfaction, then volume (units with answers first)."""
    now, calendar = now or utcnow(), calendar or current_calendar()
    period = month_period(month)
    cond = Conditions(session, period, now, calendar)
    received = dict(session.execute(select(Petition.lead_unit, func.count()).where(cond.received())
                                    .group_by(Petition.lead_unit)).all())
    rated = Petition.rating.in_(("hai_long", "chap_nhan", "khong_hai_long"))
    rows = session.execute(select(
        Petition.lead_unit, func.count(), func.sum(case((cond.on_time(), 1), else_=0)),
        func.sum(case((rated, 1), else_=0)), func.sum(case((Petition.rating.in_(("hai_long", "chap_nhan")), 1), else_=0)),
    ).where(cond.answered()).group_by(Petition.lead_unit))
    stats = {unit: (int(n), int(good or 0), int(r or 0), int(s or 0)) for unit, n, good, r, s in rows}
    units = [u for u in get_reference().units if u in stats or u in received]
    ranked = sorted(units, key=lambda u: (
        -(stats[u][1] / stats[u][0]) if u in stats else 1,
        -(stats[u][3] / stats[u][2]) if u in stats and stats[u][2] else 0,
        -received.get(u, 0), u))
    return [UnitRank(i, u, received.get(u, 0), *stats.get(u, (0, 0, 0, 0))) for i, u in enumerate(ranked, start=1)]


def ranking_report(ranks: list[UnitRank], month: str) -> Report:
    """Return the ranking as a report (for XLSX and PDF)."""
    return Report(f"Xếp hạng đơn vị tháng {month[5:]}/{month[:4]}", "Theo tỷ lệ trả lời đúng hạn, mức độ hài lòng",
                  [Table("Xếp hạng", ["Hạng", "Đơn vị", "Tiếp nhận", "Đã trả lời", "Đúng hạn", "Tỷ lệ đúng hạn",
                                      "Tỷ lệ hài lòng"],
                         [[r.rank, _name("units", r.unit), r.received, r.answered, r.on_time,
                           _pct(r.on_time, r.answered), _pct(r.satisfied, r.rated)] for r in ranks])])
