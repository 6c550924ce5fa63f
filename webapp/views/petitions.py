"""Petition list, detail, submission and receipt (blueprint `petitions`)."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from engine.errors import ValidationFailed
from webapp import db
from webapp.auth import current_user, roles
from webapp.ratelimit import limited
from webapp.views.common import runtime, translated
from webapp.views.pages import petition_page, submit_petition, viewable
from webapp.views.portal import attachment_dir, file_problems, petition_extras, uploads
from workflows import attachments, conferences, intake, petitions
from workflows.attachments import FilesRefused
from workflows.models import User

bp = Blueprint("petitions", __name__)
SUBMITTERS = ("enterprise", "intake")


@bp.get("/petitions")
@roles()
def index() -> Any:
    """List the petitions the user may see, newest first."""
    return render_template("petitions.html", petitions=petitions.visible(db.session(), current_user()))


def _is_intake(user: User) -> bool:
    return "intake" in user.roles and "enterprise" not in user.roles


def _submission(user: User) -> petitions.Submission:
    form = request.form
    default_channel = "VAN_BAN" if _is_intake(user) else "CONG_DVC"
    return petitions.Submission(
        title=form.get("title", ""), content=form.get("content", ""), zone=form.get("zone", ""),
        channel=form.get("channel", default_channel) if _is_intake(user) else "CONG_DVC",
        category_hint=form.get("category_hint") or None,
        submission_key=form.get("submission_key") or None,
    )


def _source(user: User) -> intake.Source:
    form = request.form
    if not _is_intake(user):
        return intake.Source()
    try:
        doc_date = dt.date.fromisoformat(form.get("incoming_doc_date", "")) if form.get("incoming_doc_date") else None
    except ValueError:
        doc_date = None
    return intake.Source(
        incoming_doc_no=form.get("incoming_doc_no", "").strip() or None, incoming_doc_date=doc_date,
        conference_code=form.get("conference") or None, contact_name=form.get("contact_name", "").strip() or None,
        contact_email=form.get("contact_email", "").strip() or None,
        contact_phone=form.get("contact_phone", "").strip() or None,
    )


def _form_page(user: User, values: dict[str, Any], errors: dict[str, str] | None = None,
               status: int = 200, **extra: Any) -> Any:
    recent = conferences.recent(db.session()) if _is_intake(user) else []
    return render_template("submit.html", values=values, errors=errors or {}, intake=_is_intake(user),
                           conferences=recent, **extra), status


@bp.route("/petitions/new", methods=["GET", "POST"])
@roles(*SUBMITTERS)
@limited("intake", exempt_roles=("intake",))
def new() -> Any:
    """Show the submission form; on submit register the petition and show its receipt."""
    user = current_user()
    if request.method == "GET":
        return _form_page(user, {"submission_key": secrets.token_urlsafe(24), "channel": "VAN_BAN"})
    session = db.session()
    try:
        files = attachments.check_uploads(uploads())
        petition = submit_petition(session, runtime(), user, _submission(user), request.form, source=_source(user),
                                   files=files, storage=attachment_dir(),
                                   allow_duplicate=bool(request.form.get("confirm_duplicate")))
    except intake.PossibleDuplicate as exc:
        session.rollback()
        return _form_page(user, request.form.to_dict(), {}, 409, duplicates=exc.similar)
    except FilesRefused as exc:
        session.rollback()
        return _form_page(user, request.form.to_dict(), translated(exc.errors), 413 if exc.too_large else 400,
                          file_problems=file_problems(exc))
    except ValidationFailed as exc:
        session.rollback()
        return _form_page(user, request.form.to_dict(), translated(exc.errors), 400)
    session.commit()
    return redirect(url_for(".receipt", code=petition.tracking_code))


@bp.get("/petitions/<code>/receipt")
@roles(*SUBMITTERS)
def receipt(code: str) -> Any:
    """Show the printable receipt (giấy tiếp nhận): tracking code, received date, expected answer date."""
    session = db.session()
    petition = viewable(session, current_user(), code)
    return render_template("receipt.html", petition=petition, receipt=intake.receipt(session, petition))


@bp.get("/petitions/<code>")
@roles()
def show(code: str) -> Any:
    """Show a petition the user may see (404 otherwise): data, stage, answer and timeline."""
    user = current_user()
    page = petition_page(db.session(), user, code)
    return render_template("petition.html", page=page, extras=petition_extras(user, code))
