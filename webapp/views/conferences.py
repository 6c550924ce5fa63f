"""Dialogue conferences (blueprint `conferences`): the record, quick intake by grid or file, follow-up report."""
from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from engine.audit import Actor
from engine.errors import NotFound, ValidationFailed
from webapp import db
from webapp.auth import current_user, roles
from webapp.views.common import runtime, translated
from webapp.views.portal import attachment_dir
from workflows import conferences
from workflows.conferences import ConferenceInput, RowCheck

bp = Blueprint("conferences", __name__)
READERS = ("intake", "leader", "auditor", "admin")
GRID_ROWS, MAX_GRID_ROWS = 10, 60
STAGE_MAX_AGE = 3600


def _actor() -> Actor:
    return Actor(current_user().username, "intake")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="conference-import")


@bp.get("/conferences")
@roles(*READERS)
def index() -> Any:
    """List the conferences with their number of petitions."""
    return render_template("conferences.html", rows=conferences.listing(db.session()))


def _date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.route("/conferences/new", methods=["GET", "POST"])
@roles("intake")
def new() -> Any:
    """Record a conference: code, date, zones, chairing leader, notes."""
    if request.method == "GET":
        return render_template("conference_form.html", values={"zones": []}, errors={})
    form = request.form
    data = ConferenceInput(code=form.get("code", ""), title=form.get("title", ""), held_on=_date(form.get("held_on", "")),
                           zones=tuple(form.getlist("zones")), chair_name=form.get("chair_name", ""),
                           chair_position=form.get("chair_position", ""), notes=form.get("notes", ""))
    session = db.session()
    try:
        conference = conferences.create(session, _actor(), data)
    except ValidationFailed as exc:
        session.rollback()
        values = form.to_dict() | {"zones": form.getlist("zones")}
        return render_template("conference_form.html", values=values, errors=translated(exc.errors)), 400
    session.commit()
    return redirect(url_for(".show", code=conference.code))


@bp.get("/conferences/<code>")
@roles(*READERS)
def show(code: str) -> Any:
    """Show a conference: participants and petitions, with the intake and report links."""
    session = db.session()
    conference = conferences.get(session, code)
    return render_template("conference.html", conference=conference,
                           petitions=conferences.petitions_of(session, conference),
                           enterprises=conferences.enterprises_of(session, conference))


def _grid_rows() -> list[conferences.Row]:
    count = min(int(request.form.get("rows", GRID_ROWS) or GRID_ROWS), MAX_GRID_ROWS)
    return [conferences.row_from(i, {name: request.form.get(f"r{i}-{name}", "") for name in conferences.FIELDS})
            for i in range(1, count + 1)]


@bp.route("/conferences/<code>/grid", methods=["GET", "POST"])
@roles("intake")
def grid(code: str) -> Any:
    """Register a conference's petitions from a grid of rows; with any bad row nothing is registered."""
    session = db.session()
    conference = conferences.get(session, code)
    if request.method == "GET":
        count = min(request.args.get("rows", GRID_ROWS, type=int) or GRID_ROWS, MAX_GRID_ROWS)
        return render_template("conference_grid.html", conference=conference, rows=[conferences.Row(i) for i in
                                                                                    range(1, count + 1)], problems={})
    rows = _grid_rows()
    check = conferences.check_rows(session, rows)
    if check.bad or not check.good:
        problems = {p.row.line: p.messages for p in check.bad}
        status = 400 if check.bad else 200
        if not check.good and not check.bad:
            flash(gettext("Fill in at least one row."), "error")
        return render_template("conference_grid.html", conference=conference, rows=rows, problems=problems), status
    registered = conferences.register_rows(session, runtime(), _actor(), conference, check.good)
    session.commit()
    flash(gettext("%(n)s petitions registered.", n=len(registered)), "success")
    return redirect(url_for(".show", code=conference.code))


@bp.route("/conferences/<code>/import", methods=["GET", "POST"])
@roles("intake")
def import_file(code: str) -> Any:
    """Upload an XLSX or CSV file and see the check of every row before anything is registered."""
    session = db.session()
    conference = conferences.get(session, code)
    if request.method == "GET":
        return render_template("conference_import.html", conference=conference, check=None, errors={})
    upload = request.files.get("file")
    filename = (upload.filename or "") if upload else ""
    data = upload.stream.read(conferences.MAX_IMPORT_BYTES + 1) if upload else b""
    try:
        check = conferences.check_rows(session, conferences.read_rows(filename, data))
    except ValidationFailed as exc:
        return render_template("conference_import.html", conference=conference, check=None,
                               errors=translated(exc.errors)), 400
    token = _serializer().dumps({"t": conferences.stage_file(attachment_dir(), data), "c": conference.code,
                                 "u": current_user().id, "n": filename[-200:]})
    return render_template("conference_import.html", conference=conference, check=check, token=token,
                           filename=filename, errors={})


@bp.post("/conferences/<code>/import/confirm")
@roles("intake")
def confirm_import(code: str) -> Any:
    """Register the good rows of a checked file; the bad rows stay listed in the report."""
    session = db.session()
    conference = conferences.get(session, code)
    try:
        staged = _serializer().loads(request.form.get("token", ""), max_age=STAGE_MAX_AGE)
    except (BadSignature, SignatureExpired) as exc:
        raise NotFound("the import file has expired; upload it again") from exc
    if staged.get("c") != conference.code or staged.get("u") != current_user().id:
        raise NotFound("the import file has expired; upload it again")
    data = conferences.staged_file(attachment_dir(), staged["t"])
    check: RowCheck = conferences.check_rows(session, conferences.read_rows(staged["n"], data))
    registered = conferences.register_rows(session, runtime(), _actor(), conference, check.good)
    session.commit()
    conferences.drop_staged(attachment_dir(), staged["t"])
    return render_template("conference_import.html", conference=conference, check=check, registered=registered,
                           filename=staged["n"], errors={})


@bp.get("/conferences/<code>/report")
@roles(*READERS)
def report(code: str) -> Any:
    """Show the printable follow-up report: each petition's lead unit, deadline, status and result."""
    session = db.session()
    return render_template("conference_report.html",
                           report=conferences.follow_up(session, conferences.get(session, code)))


@bp.get("/conferences/<code>/report.xlsx")
@roles(*READERS)
def report_xlsx(code: str) -> Any:
    """Download the follow-up report as an XLSX workbook."""
    session = db.session()
    data = conferences.follow_up_xlsx(conferences.follow_up(session, conferences.get(session, code)))
    return send_file(io.BytesIO(data), as_attachment=True, download_name=f"theo-doi-{code}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
