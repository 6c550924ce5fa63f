"""Administration pages: the working-day calendar's overrides (blueprint `admin`, role admin)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from engine import timers
from engine.audit import Actor
from engine.errors import ValidationFailed
from engine.models import Incident, ProcessInstance
from webapp import db
from webapp.auth import current_user, roles
from webapp.messages import N_
from webapp.views.common import runtime, translated
from workflows import calendar

bp = Blueprint("admin", __name__)

# Raised in English by workflows.calendar; shown translated.
MESSAGES = (
    N_("This day is already a working day."),
    N_("This day is already a day off."),
    N_("This day already has an override; remove it first."),
    N_("calendar override not found"),
    N_("Enter a date."),
)


def _actor() -> Actor:
    return Actor(current_user().username, "admin")


def _page(errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status: int = 200) -> Any:
    session = db.session()
    today = dt.date.today()
    return render_template(
        "admin_calendar.html", overrides=calendar.overrides(session), errors=errors or {},
        values=values or {}, today=today, upcoming=_upcoming(today),
    ), status


def _upcoming(today: dt.date, count: int = 10) -> list[dt.date]:
    """The next working days by the calendar in force, so the admin sees the effect of the overrides."""
    cal = calendar.current_calendar()
    days, day = [], today
    for _ in range(count):
        day = cal.next_working_day(day)
        days.append(day)
    return days


@bp.get("/admin/calendar")
@roles("admin")
def calendar_page() -> Any:
    """List the calendar overrides and offer to add one."""
    calendar.refresh_calendar(db.session())
    return _page()


@bp.post("/admin/calendar")
@roles("admin")
def add_override() -> Any:
    """Add a make-up working day or an extra day off."""
    session = db.session()
    values = {key: request.form.get(key, "").strip() for key in ("day", "kind", "reason")}
    try:
        day = dt.date.fromisoformat(values["day"])
    except ValueError:
        return _page({"day": gettext("Enter a date.")}, values, 400)
    try:
        calendar.add_override(session, day, values["kind"], values["reason"], _actor())
    except ValidationFailed as exc:
        session.rollback()
        calendar.refresh_calendar(session)
        return _page(translated(exc.errors), values, 400)
    session.commit()
    flash(gettext("The calendar has been changed."), "success")
    return redirect(url_for(".calendar_page"))


@bp.post("/admin/calendar/<int:override_id>/delete")
@roles("admin")
def remove_override(override_id: int) -> Any:
    """Remove an override."""
    session = db.session()
    calendar.remove_override(session, override_id, _actor())
    session.commit()
    flash(gettext("The calendar has been changed."), "success")
    return redirect(url_for(".calendar_page"))


# ---- incidents: timers that failed three times stopped their petition -----------------------------------
def _incident_rows(session: Any, resolved: bool) -> list[tuple[Any, Any]]:
    query = select(Incident, ProcessInstance).join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
    if resolved:
        query = query.where(Incident.resolved_at.is_not(None)).order_by(Incident.resolved_at.desc()).limit(50)
    else:
        query = query.where(Incident.resolved_at.is_(None)).order_by(Incident.created_at)
    return [(incident, instance) for incident, instance in session.execute(query)]


@bp.get("/admin/incidents")
@roles("admin")
def incidents_page() -> Any:
    """Open incidents (oldest first) with their petition and error, and the recently resolved ones."""
    session = db.session()
    return render_template("admin_incidents.html", open_rows=_incident_rows(session, False),
                           resolved_rows=_incident_rows(session, True))


@bp.post("/admin/incidents/<int:incident_id>/resolve")
@roles("admin")
def resolve_incident(incident_id: int) -> Any:
    """Mark an incident resolved after its cause was fixed: its timer fires again on the next sweep."""
    session = db.session()
    timers.resolve_incident(session, runtime(), incident_id, _actor())
    session.commit()
    flash(gettext("The incident is resolved; the petition continues at the next timer sweep."), "success")
    return redirect(url_for(".incidents_page"))
