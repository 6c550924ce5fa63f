"""Leaders' dashboard (blueprint `dashboard`): figures for a period with SVG charts, drill-down lists and their
CSV/XLSX exports, the bottleneck view on the diagram, the monthly unit ranking and the reports (half-yearly,
overdue digest, conference follow-up) as XLSX and PDF.

Policies: roles `leader`, `admin` and `auditor`; every endpoint is GET-only (auditors never change anything).
Aggregates count every petition; the lists behind them leave out denunciations (TC) unless the user is an
inspector, and say how many were left out.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from engine.db import utcnow
from webapp import db
from webapp.auth import current_user, roles
from webapp.charts import bars, columns, stacked
from webapp.filters import date_vn, label, status_label, step_label, today_hanoi
from workflows import audit_trail, conferences
from workflows.calendar import HANOI
from workflows.conferences.report import TOTAL_LABELS_VI
from workflows.dashboard import bottlenecks, cache, documents, drill, reports
from workflows.dashboard.figures import Period, compute
from workflows.dashboard.reports import Report, Table
from workflows.models import Petition
from workflows.petitions import not_restricted

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
LEADERS = ("leader", "admin", "auditor")
LIST_LIMIT = 200

OUTCOME_LABELS = {
    "within_authority": _l("Resolved within the Board's authority"),
    "coordinated": _l("Resolved with other agencies"),
    "escalated": _l("Escalated to a higher authority"),
    "forwarded": _l("Forwarded to the competent authority"),
    "guided": _l("Guided (complaints, denunciations)"),
    "rejected": _l("Not accepted"),
}
RATING_LABELS = {"hai_long": _l("Satisfied"), "chap_nhan": _l("Acceptable"), "khong_hai_long": _l("Dissatisfied"),
                 "khong_danh_gia": _l("No rating"), "none": _l("Not rated yet")}
METRIC_LABELS = {
    "received": _l("Petitions received"), "answered": _l("Answered"), "on_time": _l("Answered on time"),
    "late": _l("Answered late"), "open": _l("Open at the end of the period"),
    "overdue": _l("Overdue at the end of the period"), "reopened": _l("Reopened"), "handled": _l("Handled"),
}
DIMENSION_KINDS = {"unit": "units", "category": "categories", "zone": "zones", "channel": "channels"}


# ---- period and drill-down parameters -------------------------------------------------------------------------
def _date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _period() -> Period:
    today = today_hanoi()
    default = reports.half_year_period(today.year, 1 if today.month <= 6 else 2)
    start, end = _date("from") or default.start, _date("to") or default.end
    return Period(start, end) if start <= end else Period(end, start)


def _period_args(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


def _drill_url(period: Period, metric: str, **parts: str) -> str:
    return url_for("dashboard.petitions", metric=metric, **_period_args(period), **{k: v for k, v in parts.items() if v})


def _drill() -> drill.Drill:
    args = request.args
    chosen = drill.Drill(metric=args.get("metric", "received"), dimension=args.get("dimension", ""),
                         key=args.get("key", ""), rating=args.get("rating", ""), outcome=args.get("outcome", ""),
                         age=args.get("age", ""))
    if not chosen.valid():
        abort(404)
    return chosen


def _presets(today: dt.date) -> list[tuple[str, Period]]:
    month_start = today.replace(day=1)
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return [(gettext("This month"), Period(month_start, today)), (gettext("This quarter"), Period(quarter_start, today)),
            (gettext("This half-year"), reports.half_year_period(today.year, 1 if today.month <= 6 else 2)),
            (gettext("This year"), Period(dt.date(today.year, 1, 1), dt.date(today.year, 12, 31))),
            (gettext("Last 12 months"), Period(today - dt.timedelta(days=365), today))]


def _figures(period: Period) -> Any:
    session, now = db.session(), utcnow()
    as_of = period.as_of(now)
    moment = as_of.replace(second=0, microsecond=0) if as_of < period.end_utc else None
    return cache.remembered(session, ("figures", period, moment), lambda: compute(session, period, now=now))


def _element_times(period: Period) -> list[Any]:
    session = db.session()
    return cache.remembered(session, ("bottlenecks", period), lambda: bottlenecks.element_times(session, period))


# ---- the dashboard ----------------------------------------------------------------------------------------
def _rate_bars(period: Period, rates: dict[str, Any], dimension: str) -> list[Any]:
    items = []
    for key, rate in sorted(rates.items(), key=lambda kv: -(kv[1].rate or 0)):
        share = rate.rate or 0.0
        css = "bar-good" if share >= 0.8 else "bar-fair" if share >= 0.6 else "bar-poor"
        items.append((label(key, DIMENSION_KINDS[dimension]) or gettext("(none)"), share * 100,
                      f"{share * 100:.0f}% ({rate.on_time}/{rate.answered})", css,
                      _drill_url(period, "answered", dimension=dimension, key=key)))
    return bars(items, scale=100.0)


def _split_bars(period: Period, table: dict[str, dict[str, int]], dimension: str) -> list[Any]:
    items = [(label(key, DIMENSION_KINDS[dimension]) or gettext("(none)"), float(v["received"]), str(v["received"]),
              "bar-volume", _drill_url(period, "received", dimension=dimension, key=key))
             for key, v in sorted(table.items(), key=lambda kv: -kv[1]["received"]) if v["received"]]
    return bars(items)


def _charts(period: Period, fig: Any) -> dict[str, Any]:
    return {
        "units": _rate_bars(period, fig.by_unit, "unit"),
        "categories": _rate_bars(period, fig.by_category, "category"),
        "zones": _split_bars(period, fig.by_zone, "zone"),
        "channels": _split_bars(period, fig.by_channel, "channel"),
        "satisfaction": stacked([(str(RATING_LABELS[r]), n, f"seg-{r}", _drill_url(period, "answered", rating=r))
                                 for r, n in fig.satisfaction.items()]),
        "outcomes": stacked([(str(OUTCOME_LABELS[o]), n, f"seg-{o}", _drill_url(period, "handled", outcome=o))
                             for o, n in fig.outcomes.items()]),
        "backlog": bars([(gettext("%(range)s working days", range=key), float(n), str(n), "bar-backlog",
                          _drill_url(period, "open", age=key)) for key, n in fig.backlog]),
        "months": columns([(m, r, a, _month_url("received", m), _month_url("answered", m))
                           for m, r, a in fig.by_month]),
    }


def _month_url(metric: str, month: str) -> str:
    month_period = reports.month_period(month)
    return _drill_url(month_period, metric)


@bp.get("")
@roles(*LEADERS)
def index() -> Any:
    """Show the figures of a period with charts; every figure links to the petitions behind it."""
    period = _period()
    fig = _figures(period)
    return render_template("dashboard/index.html", fig=fig, period=period, charts=_charts(period, fig),
                           presets=_presets(today_hanoi()), drill_url=_drill_url, outcome_labels=OUTCOME_LABELS,
                           rating_labels=RATING_LABELS)


# ---- the petitions behind a figure ----------------------------------------------------------------------------
def _visibility() -> list[Any]:
    user = current_user()
    return [] if user is not None and "inspector" in user.roles else [not_restricted()]


def _visible_rows(period: Period, chosen: drill.Drill, limit: int | None) -> tuple[list[Petition], int, int]:
    """Return the rows to show (at most `limit`), how many there are, and how many are hidden (denunciations)."""
    session, extra = db.session(), _visibility()
    now = utcnow()
    rows = drill.query(session, period, chosen, now=now, extra=extra, limit=limit)
    total = drill.count(session, period, chosen, now=now, extra=extra)
    hidden = drill.count(session, period, chosen, now=now) - total if extra else 0
    return rows, total, hidden


def _describe(chosen: drill.Drill) -> str:
    parts = [str(METRIC_LABELS[chosen.metric])]
    if chosen.dimension:
        parts.append(label(chosen.key, DIMENSION_KINDS[chosen.dimension]) or gettext("(none)"))
    if chosen.rating:
        parts.append(str(RATING_LABELS[chosen.rating]))
    if chosen.outcome:
        parts.append(str(OUTCOME_LABELS[chosen.outcome]))
    if chosen.age:
        parts.append(gettext("%(range)s working days", range=chosen.age))
    return " · ".join(parts)


@bp.get("/petitions")
@roles(*LEADERS)
def petitions() -> Any:
    """List the petitions behind one figure (the same conditions as the figure)."""
    period, chosen = _period(), _drill()
    rows, total, hidden = _visible_rows(period, chosen, LIST_LIMIT)
    return render_template("dashboard/petitions.html", rows=rows, total=total, hidden=hidden,
                           limit=LIST_LIMIT, period=period, title=_describe(chosen),
                           query={k: v for k, v in request.args.items() if v})


def _list_table(rows: list[Petition]) -> tuple[list[str], list[list[Any]]]:
    header = [gettext("Tracking code"), gettext("Title"), gettext("Received"), gettext("Zone"), gettext("Channel"),
              gettext("Category"), gettext("Lead unit"), gettext("Status"), gettext("Due date"), gettext("Answered"),
              gettext("Rating")]
    table = [[p.tracking_code, p.title, p.received_date, label(p.zone, "zones"), label(p.channel, "channels"),
              label(p.category, "categories"), label(p.lead_unit, "units"), status_label(p.status), p.due_date,
              p.answered_at, str(RATING_LABELS.get(p.rating or "none", p.rating))] for p in rows]
    return header, table


def _download(body: bytes, filename: str, kind: str) -> Response:
    mimetype = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[kind]
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/petitions.<any(csv, xlsx):kind>")
@roles(*LEADERS)
def petitions_export(kind: str) -> Any:
    """Export the whole list behind a figure (filters kept) as CSV or XLSX."""
    period, chosen = _period(), _drill()
    header, table = _list_table(_visible_rows(period, chosen, None)[0])
    name = f"kien-nghi-{chosen.metric}-{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    if kind == "csv":
        return _download(audit_trail.to_csv(header, table), name, kind)
    return _download(audit_trail.to_xlsx(header, table, gettext("Petitions")), name, kind)


# ---- bottlenecks on the diagram ---------------------------------------------------------------------------------
@bp.get("/bottlenecks")
@roles(*LEADERS)
def bottleneck_page() -> Any:
    """Show the process diagram with each element coloured by its step times and late rate in the period."""
    period = _period()
    times = _element_times(period)
    return render_template("dashboard/bottlenecks.html", period=period, times=times,
                           slowest=bottlenecks.slowest(times), presets=_presets(today_hanoi()))


@bp.get("/bottlenecks.json")
@roles(*LEADERS)
def bottleneck_data() -> Any:
    """Return the diagram XML and each element's mean / p90 hours and late rate, for the viewer."""
    period, session = _period(), db.session()
    definition = bottlenecks.latest_definition(session)
    times = _element_times(period)
    top = max((t.mean_hours for t in times), default=0.0)
    response = jsonify({
        "xml": audit_trail.diagram_xml(definition) if definition else "",
        "slowest": bottlenecks.slowest(times),
        "elements": {t.bpmn_id: {"name": step_label(t.bpmn_id, t.name), "count": t.count,
                                 "mean_days": round(t.mean_hours / 24, 1), "p90_days": round(t.p90_hours / 24, 1),
                                 "late_rate": t.late_rate, "heat": round(t.mean_hours / top, 3) if top else 0}
                     for t in times},
        "labels": {"mean": gettext("mean"), "p90": gettext("90th percentile"), "days": gettext("days"),
                   "late": gettext("late"), "steps": gettext("steps"),
                   "failed": gettext("The diagram could not be shown.")},
    })
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- ranking and reports ------------------------------------------------------------------------------------------
def _month() -> str:
    month = request.args.get("month", "").strip() or today_hanoi().strftime("%Y-%m")
    try:
        reports.month_period(month)
    except ValueError:
        abort(404)
    return month


@bp.get("/ranking")
@roles(*LEADERS)
def ranking() -> Any:
    """Rank the units for a month by on-time rate, satisfaction and volume."""
    month = _month()
    ranks = reports.unit_ranking(db.session(), month)
    return render_template("dashboard/ranking.html", ranks=ranks, month=month,
                           period=reports.month_period(month), drill_url=_drill_url)


@bp.get("/ranking.<any(xlsx, pdf):kind>")
@roles(*LEADERS)
def ranking_export(kind: str) -> Any:
    """Export the month's ranking as XLSX or PDF."""
    month = _month()
    return _document(reports.ranking_report(reports.unit_ranking(db.session(), month), month),
                     f"xep-hang-{month}", kind)


def _half() -> tuple[int, int]:
    today = today_hanoi()
    year = request.args.get("year", type=int) or today.year
    half = request.args.get("half", type=int) or (1 if today.month <= 6 else 2)
    if half not in (1, 2) or not 2000 <= year <= 2100:
        abort(404)
    return year, half


def _document(report: Report, name: str, kind: str) -> Response:
    body = documents.report_xlsx(report) if kind == "xlsx" else documents.report_pdf(report)
    return _download(body, name, kind)


@bp.get("/reports/half-year")
@roles(*LEADERS)
def half_year() -> Any:
    """Show the half-yearly report on petitions."""
    year, half = _half()
    report = reports.half_year_report(db.session(), year, half)
    return render_template("dashboard/report.html", report=report, kind="half_year",
                           export_args={"year": year, "half": half}, year=year, half=half)


@bp.get("/reports/half-year.<any(xlsx, pdf):kind>")
@roles(*LEADERS)
def half_year_export(kind: str) -> Any:
    """Export the half-yearly report as XLSX or PDF."""
    year, half = _half()
    return _document(reports.half_year_report(db.session(), year, half), f"bao-cao-6-thang-{year}-{half}", kind)


@bp.get("/reports/overdue")
@roles(*LEADERS)
def overdue() -> Any:
    """Show the overdue digest: every petition past its due date now, by lead unit."""
    return render_template("dashboard/report.html", report=reports.overdue_digest(db.session()), kind="overdue",
                           export_args={})


@bp.get("/reports/overdue.<any(xlsx, pdf):kind>")
@roles(*LEADERS)
def overdue_export(kind: str) -> Any:
    """Export the overdue digest as XLSX or PDF."""
    now = dt.datetime.now(HANOI)
    return _document(reports.overdue_digest(db.session()), f"qua-han-{now:%Y%m%d}", kind)


@bp.get("/reports/conferences/<code>.pdf")
@roles(*LEADERS)
def conference_pdf(code: str) -> Any:
    """Export a conference's follow-up report (workflows.conferences) as PDF."""
    session = db.session()
    follow = conferences.follow_up(session, conferences.get(session, code))
    rows = [[line.petition.tracking_code, line.enterprise.name, line.petition.title,
             label(line.petition.lead_unit, "units"), date_vn(line.petition.due_date) if line.petition.due_date else "",
             status_label(line.petition.status), line.answer_document_no or ""] for line in follow.lines]
    report = Report(f"Theo dõi kết quả giải quyết kiến nghị tại {follow.conference.title}",
                    f"Ngày tổ chức: {follow.conference.held_on:%d/%m/%Y}",
                    [Table("Kiến nghị", ["Mã hồ sơ", "Doanh nghiệp", "Nội dung", "Đơn vị chủ trì", "Hạn xử lý",
                                         "Trạng thái", "Văn bản trả lời"], rows),
                     Table("Tổng hợp", ["Chỉ tiêu", "Số lượng"], [[TOTAL_LABELS_VI.get(k, k), v] for k, v in follow.totals.items()])])
    return _download(documents.report_pdf(report), f"theo-doi-{code}", "pdf")
