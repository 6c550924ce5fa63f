"""Audit pages (blueprint `audit`): a petition's history with its path on the diagram, the processing-control
sheet, the search across the log with exports, and the chain verification.

Policies: every endpoint here is GET-only, so an auditor can read and never change anything. The role
`auditor` (and `admin`) sees every petition, the search and the verification; officers (intake, leader, unit,
agency) see the history and sheet of the petitions they may view (`workflows.petitions.can_view`, 404
otherwise); an enterprise user never sees an audit page (403). Every page and export opened is itself
recorded as an AUDIT_VIEWED event with what was opened.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from engine.audit import Actor
from webapp import db
from webapp.auth import current_user, has_role, roles
from webapp.filters import date_vn, datetime_vn, label, role_label, step_label
from webapp.views.common import runtime
from webapp.views.pages import viewable
from workflows import audit_trail
from workflows.audit_trail import SearchFilters, SearchRow
from workflows.models import Petition, User
from workflows.reference import get_reference

bp = Blueprint("audit", __name__, url_prefix="/audit")

AUDITORS = ("auditor", "admin")
# Officers who may open the history of the petitions they can see; never the enterprise role.
READERS = ("auditor", "admin", "intake", "leader", "unit", "agency")

ACTIONS = {
    "PETITION_RECEIVED": _l("Petition received"),
    "PROCESS_STARTED": _l("Processing started"),
    "TASK_CREATED": _l("Step opened"),
    "TASK_CLAIMED": _l("Step taken by an officer"),
    "TASK_RELEASED": _l("Step released"),
    "TASK_COMPLETED": _l("Step completed"),
    "TASK_CANCELLED": _l("Step cancelled"),
    "PROCESS_COMPLETED": _l("Processing finished"),
    "TIMER_FIRED": _l("Timer fired"),
    "MESSAGE_RECEIVED": _l("Message received"),
    "INSTANCE_MIGRATED": _l("Moved to another process version"),
    "INCIDENT_RAISED": _l("Incident raised"),
    "INCIDENT_RESOLVED": _l("Incident resolved"),
    "DEFINITION_DEPLOYED": _l("Process version deployed"),
    "DEFINITION_ACTIVATED": _l("Process version activated"),
    "DEFINITION_DEACTIVATED": _l("Process version deactivated"),
    "CALENDAR_OVERRIDE_ADDED": _l("Calendar day added"),
    "CALENDAR_OVERRIDE_REMOVED": _l("Calendar day removed"),
    "AUDIT_VIEWED": _l("Audit record viewed"),
}
MILESTONES = {
    "PETITION_ACCEPTED": _l("Petition accepted"),
    "PETITION_REJECTED": _l("Petition not accepted"),
    "INFORMATION_REQUESTED": _l("Additional information requested"),
    "INFORMATION_SUPPLIED": _l("Additional information supplied"),
    "PETITION_CLASSIFIED": _l("Petition classified"),
    "GUIDANCE_GIVEN": _l("Guidance given (complaint or denunciation)"),
    "PETITION_FORWARDED": _l("Petition forwarded"),
    "PETITION_ASSIGNED": _l("Petition assigned"),
    "DEADLINE_SET": _l("Deadline set"),
    "HANDLING_RECORDED": _l("Handling recorded"),
    "COORDINATION_REQUESTED": _l("Coordination requested"),
    "COORDINATION_ANSWERED": _l("Coordination answered"),
    "ANSWER_DRAFTED": _l("Answer drafted"),
    "ANSWER_APPROVED": _l("Answer approved"),
    "ANSWER_RETURNED": _l("Answer returned for revision"),
    "ANSWER_SENT": _l("Answer sent"),
    "ANSWER_RATED": _l("Answer rated"),
    "PETITION_REOPENED": _l("Petition reopened"),
    "EXTENSION_REQUESTED": _l("Extension requested"),
    "DEADLINE_EXTENDED": _l("Deadline extended"),
    "EXTENSION_REFUSED": _l("Extension refused"),
    "TASK_ESCALATED": _l("Overdue step escalated to the leader"),
    "OVERDUE_REVIEWED": _l("Overdue step reviewed"),
    "REMINDER_SENT": _l("Deadline reminder sent"),
    "RATING_TIMED_OUT": _l("Closed without a rating"),
}
TIMINGS = {
    "early": _l("Ahead of time"),
    "on_time": _l("On the due day"),
    "late": _l("Late"),
    "in_progress": _l("In progress"),
    "overdue": _l("Overdue, still open"),
}
PAGES = {
    "history": _l("History"),
    "trace": _l("Diagram data"),
    "sheet": _l("Processing-control sheet"),
    "search": _l("Audit search"),
    "verify": _l("Chain verification"),
}


def action_label(code: str | None) -> str:
    """Return the name of an audit action in the current language (the code itself when unknown)."""
    title = ACTIONS.get(code or "")
    return str(title) if title is not None else (code or "")


def milestone_label(code: str | None) -> str:
    """Return the name of a derived milestone in the current language."""
    title = MILESTONES.get(code or "")
    return str(title) if title is not None else (code or "")


def timing_label(code: str | None) -> str:
    """Return the words of a timing mark ('' when there is none)."""
    title = TIMINGS.get(code or "")
    return str(title) if title is not None else ""


def scope_label(code: str | None) -> str:
    """Return the label of a unit or agency code (other codes as they are)."""
    if not code:
        return ""
    ref = get_reference()
    if code in ref.units:
        return label(code, "units")
    if code in ref.agencies:
        return label(code, "agencies")
    return code


def unit_label(row: SearchRow) -> str:
    """Return the unit or agency a search row's step belonged to, else its petition's lead unit."""
    ref = get_reference()
    if row.scope and (row.scope in ref.units or row.scope in ref.agencies):
        return scope_label(row.scope)
    return scope_label(row.unit)


# Globals (not a context processor) so that imported macros see them too.
for _name, _func in (("audit_action_label", action_label), ("audit_milestone_label", milestone_label),
                     ("audit_timing_label", timing_label), ("audit_scope_label", scope_label),
                     ("audit_unit_label", unit_label)):
    bp.add_app_template_global(_func, _name)


# ---- access ---------------------------------------------------------------------------------------------
def _reader() -> User:
    user = current_user()
    if user is None or has_role(user, ["enterprise"]):
        abort(403)  # an enterprise user never reads audit records, whatever other role it holds
    return user


def _actor(user: User) -> Actor:
    held = [r for r in READERS if r in user.roles]
    return Actor(user.username, "auditor" if "auditor" in held else ",".join(held))


def _petition(code: str) -> tuple[User, Petition]:
    user = _reader()
    return user, viewable(db.session(), user, code)


def _logged(user: User, page: str, **details: Any) -> None:
    session = db.session()
    audit_trail.record_view(session, _actor(user), page, **details)
    session.commit()


def _download(body: bytes, filename: str, kind: str) -> Response:
    mimetype = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[kind]
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- a petition's history and diagram ----------------------------------------------------------------------
@bp.get("/petitions/<code>")
@roles(*READERS)
def history(code: str) -> Any:
    """Show a petition's timeline (durations, on-time marks), its process version and its path on the diagram."""
    user, petition = _petition(code)
    page = audit_trail.timeline(db.session(), petition)
    _logged(user, "history", petition=code)
    # The diagram needs no CSP exception: bpmn-js (viewer) and history.js are static files, the data comes
    # from trace.json, and bpmn-js sets styles through the CSSOM, which `style-src 'self'` allows.
    return render_template("audit/history.html", page=page, p=petition)


def _visit_json(visit: audit_trail.Visit) -> dict[str, Any]:
    return {"at": visit.at.isoformat(), "at_text": datetime_vn(visit.at), "actor": visit.actor,
            "role": role_label(visit.role.split(",")[0]) if visit.role else ""}


@bp.get("/petitions/<code>/trace.json")
@roles(*READERS)
def trace(code: str) -> Any:
    """Return the BPMN XML the petition ran on and the path taken, for the diagram on the history page."""
    user, petition = _petition(code)
    path = audit_trail.path_taken(db.session(), runtime(), petition)
    definition = path.definition
    _logged(user, "trace", petition=code)
    elements = {
        bpmn_id: {
            "name": step_label(bpmn_id, item.name), "current": item.current,
            "visits": [_visit_json(v) for v in item.visits],
            "waiting_since": datetime_vn(item.waiting_since) if item.waiting_since else None,
            "waiting_for": scope_label(item.waiting_for) or role_label(item.waiting_for) if item.waiting_for else None,
            "claimed_by": item.claimed_by,
        }
        for bpmn_id, item in path.elements.items()
    }
    response = jsonify({
        "code": path.code,
        "definition": {"process_id": definition.process_id, "version": definition.version} if definition else None,
        "xml": audit_trail.diagram_xml(definition) if definition else "",
        "order": path.order, "taken": path.taken, "flows": path.flows, "current": path.current,
        "current_task_ids": path.current_task_ids, "from_state": path.from_state, "elements": elements,
        "labels": {"by": gettext("by"), "open_since": gettext("Open since"), "waiting_for": gettext("Waiting for"),
                   "taken_by": gettext("Taken by"), "times": gettext("Passed %(n)s times", n="{n}"),
                   "failed": gettext("The diagram could not be shown.")},
    })
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- processing-control sheet ------------------------------------------------------------------------------
def _sheet_table(sheet: audit_trail.Sheet) -> tuple[list[str], list[list[Any]]]:
    header = [gettext("No."), gettext("Step"), gettext("Handed over by"), gettext("From step"),
              gettext("Received by"), gettext("Handed over at"), gettext("Due date"), gettext("Done at"),
              gettext("Done by"), gettext("Working days"), gettext("Result")]
    rows = [
        [r.number, step_label(r.bpmn_id, r.step_name),
         f"{r.from_actor} ({role_label(r.from_role.split(',')[0])})" if r.from_actor else "",
         step_label(r.from_step) if r.from_step else gettext("Petition received"),
         role_label(r.to_role) + (f" – {scope_label(r.to_scope)}" if r.to_scope else ""),
         datetime_vn(r.handed_at), date_vn(r.due_date) if r.due_date else "", datetime_vn(r.done_at) if r.done_at else "",
         r.to_actor or "", r.days if r.days is not None else "", timing_label(r.result) or _status_text(r.status)]
        for r in sheet.rows
    ]
    return header, rows


def _status_text(status: str) -> str:
    return gettext("Cancelled") if status == "cancelled" else ""


@bp.get("/petitions/<code>/sheet")
@roles(*READERS)
def sheet(code: str) -> Any:
    """Show the printable processing-control sheet: each hand-off with from, to, time, due date and result."""
    user, petition = _petition(code)
    data = audit_trail.control_sheet(db.session(), petition)
    _logged(user, "sheet", petition=code)
    header, rows = _sheet_table(data)
    return render_template("audit/sheet.html", sheet=data, p=petition, header=header, rows=rows,
                           printed_at=dt.datetime.now(dt.timezone.utc))


@bp.get("/petitions/<code>/sheet.<any(csv, xlsx):kind>")
@roles(*READERS)
def sheet_export(code: str, kind: str) -> Any:
    """Export the processing-control sheet as CSV or XLSX."""
    user, petition = _petition(code)
    header, rows = _sheet_table(audit_trail.control_sheet(db.session(), petition))
    _logged(user, "sheet", petition=code, export=kind)
    name = f"phieu-kiem-soat-{code}"
    if kind == "csv":
        return _download(audit_trail.to_csv(header, rows), name, kind)
    return _download(audit_trail.to_xlsx(header, rows, code), name, kind)


# ---- search across the log -----------------------------------------------------------------------------------
def _date(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filters() -> SearchFilters:
    args = request.args
    lateness = args.get("lateness", "")
    return SearchFilters(
        actor=args.get("actor", "")[:150], role=args.get("role", "")[:50], unit=args.get("unit", "")[:20],
        action=args.get("action", "")[:60], date_from=_date("date_from"), date_to=_date("date_to"),
        category=args.get("category", "")[:20], lateness=lateness if lateness in ("late", "on_time") else "",
        petition=args.get("petition", "")[:30], until=args.get("until", type=int),
    )


def _search_table(rows: list[SearchRow]) -> tuple[list[str], list[list[Any]]]:
    header = [gettext("No."), gettext("Time"), gettext("Actor"), gettext("Role"), gettext("Action"),
              gettext("Action code"), gettext("Petition"), gettext("Step"), gettext("Unit"), gettext("Category"),
              gettext("Due date"), gettext("Result"), gettext("Data")]
    table = [
        [r.chain_index, datetime_vn(r.at), r.actor, role_label(r.role.split(",")[0]) if r.role else "",
         action_label(r.action), r.action, r.business_key or "", step_label(r.bpmn_id) if r.bpmn_id else "",
         unit_label(r), label(r.category, "categories") if r.category else "",
         date_vn(r.due_date) if r.due_date else "", timing_label(r.timing), r.data]
        for r in rows
    ]
    return header, table


@bp.get("/search")
@roles(*AUDITORS)
def search() -> Any:
    """Search the whole audit log by actor, role, unit, action, dates, category and lateness."""
    user, filters = _reader(), _filters()
    session = db.session()
    result = audit_trail.search(session, filters)
    actions, role_codes = audit_trail.known_actions(session), audit_trail.known_roles(session)
    _logged(user, "search", filters=filters.as_dict(), rows=len(result.rows))
    query = {k: v for k, v in request.args.items() if v and k != "until"} | {"until": result.until}
    return render_template("audit/search.html", result=result, filters=filters, actions=actions,
                           roles=[r for r in role_codes if "," not in r], query=query)


@bp.get("/search.<any(csv, xlsx):kind>")
@roles(*AUDITORS)
def search_export(kind: str) -> Any:
    """Export the search result (the same rows as the page) as CSV or XLSX."""
    user, filters = _reader(), _filters()
    result = audit_trail.search(db.session(), filters)
    header, rows = _search_table(result.rows)
    _logged(user, "search", filters=filters.as_dict(), rows=len(rows), export=kind)
    name = f"nhat-ky-kiem-toan-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
    if kind == "csv":
        return _download(audit_trail.to_csv(header, rows), name, kind)
    return _download(audit_trail.to_xlsx(header, rows, "Audit"), name, kind)


@bp.get("/lookup")
@roles(*READERS)
def lookup() -> Any:
    """Go to the history of the petition with the tracking code typed in."""
    _reader()
    code = request.args.get("code", "").strip().upper()
    if not code:
        return redirect(url_for(".search"))
    return redirect(url_for(".history", code=code))


# ---- chain verification ----------------------------------------------------------------------------------------
@bp.get("/verify")
@roles(*AUDITORS)
def verify() -> Any:
    """Verify the whole hash chain now and report it intact, or its first broken link."""
    user = _reader()
    report = audit_trail.verify(db.session())
    _logged(user, "verify", intact=str(report.intact).lower(), broken_at=report.broken_at)
    return render_template("audit/verify.html", report=report, checked_at=dt.datetime.now(dt.timezone.utc))
